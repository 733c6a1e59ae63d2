"""The whole system on this machine: embedded AWS, the real modules applied, a worker.

    with deployed_stack(work_dir) as stack:          # moto + terraform apply, then IAM on
        uploader = stack.s3_as(stack.user_a)          # User A's own access keys
        with stack.worker() as worker:                # `exif-stripper worker` on the queue,
            uploader.put_object(...)                  #  as the function's execution role

`make demo`, the pipeline's integration tests, the smoke test and the end-to-end
benchmark all run on this, so what they show is the same composition
(tools/terraform/exif_stack) the infrastructure tests check resource by resource.

Who is who, once Terraform has applied (docs/design.md "Access" is what the modules grant):
  * Terraform applies and destroys as the emulator's root, with IAM enforcement off: the
    provider creates the users, roles and policies that enforcement needs, and moto's root
    is the only identity that exists before them.
  * Then the harness creates its admin IAM user, with the explicit policy of
    policies/harness-admin.json.tftpl (what the harness itself does: make the users' access
    keys, read the web bucket to check it, drain and redeliver queue messages, empty the
    buckets), and turns IAM enforcement on until the destroy. The root is refused from
    then on.
  * Users upload and read with their own access keys (`s3_as`), which the admin makes.
  * The worker, and anything in this process that acts as the function (`role`), signs
    with sessions of the execution role the exif-lambda module created: the permissions
    the Lambda function has in AWS, renewed before they expire.
At the end the server's request audit must show that no request after the apply escaped
the IAM check (`enforcement_gaps`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3

from exif_stripper.aws.clients import CLIENT_CONFIG
from tools.embedded_aws.emulator import (
    ROOT,
    SESSION_SECONDS,
    Credentials,
    EmbeddedAws,
    RequestAudit,
)
from tools.embedded_aws.policy_templates import render_template
from tools.terraform.cli_config import terraform_env, write_cli_config
from tools.terraform.stack import REPO_ROOT, TerraformStack, scratch_copy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

STACK_DIR = Path(__file__).resolve().parents[1] / "terraform" / "exif_stack"
HARNESS_POLICY = Path(__file__).with_name("policies") / "harness-admin.json.tftpl"


class EnforcementGap(AssertionError):
    """A request reached the embedded AWS after the apply without an IAM check."""


@dataclass
class Stack:
    aws: EmbeddedAws
    terraform: TerraformStack
    work_dir: Path
    name_prefix: str = "exif-local"
    admin_credentials: Credentials = ROOT
    """The harness's admin IAM user once `enforce_iam()` has made it."""
    _keys: dict[str, Credentials] = field(default_factory=dict)
    _enforced_since: RequestAudit | None = None

    @property
    def outputs(self) -> dict[str, Any]:
        return self.terraform.outputs

    @property
    def uploads(self) -> str:
        return str(self.outputs["uploads_bucket_name"])

    @property
    def web(self) -> str:
        return str(self.outputs["web_bucket_name"])

    @property
    def queue_url(self) -> str:
        return str(self.outputs["queue_url"])

    @property
    def dlq_url(self) -> str:
        """The dead-letter queue's URL: the event queue's, with the other name (a queue URL
        is <endpoint>/<account>/<name>). Derived rather than asked for: moto checks
        GetQueueUrl against the resource "*", which the harness's policy does not grant."""
        return f"{self.queue_url.rsplit('/', 1)[0]}/{self.outputs['dlq_name']}"

    @property
    def user_a(self) -> str:
        return str(self.outputs["user_a"])

    @property
    def user_b(self) -> str:
        return str(self.outputs["user_b"])

    @property
    def role_name(self) -> str:
        """The function's execution role (module exif-lambda)."""
        return str(self.outputs["role_name"])

    @property
    def function_name(self) -> str:
        return str(self.outputs["function_name"])

    @property
    def admin_user(self) -> str:
        return f"{self.name_prefix}-harness-admin"

    # -- identities -------------------------------------------------------------------------

    def enforce_iam(self) -> None:
        """Make the harness's admin IAM user, then check every request against IAM.

        IAM user actions get the resource "*" in moto (only role actions are resolved to an
        ARN), so the policy grants the access-key actions on "*"; in AWS it would name the
        two users.
        """
        policy = render_template(
            HARNESS_POLICY,
            {
                "uploads_bucket_arn": f"arn:aws:s3:::{self.uploads}",
                "web_bucket_arn": f"arn:aws:s3:::{self.web}",
                "queue_arn": self.outputs["queue_arn"],
                "dlq_arn": self.outputs["dlq_arn"],
            },
        )
        self.admin_credentials = self.aws.create_user(self.admin_user, json.loads(policy))
        self.aws.set_iam_enforcement(True)
        self._enforced_since = self.aws.request_audit()

    def admin(self, service: str) -> Any:
        """A client of the harness's admin IAM user (see `enforce_iam`)."""
        return boto3.client(service, **self.aws.client_kwargs(*self.admin_credentials))  # type: ignore[call-overload]

    def s3_as(self, user: str) -> S3Client:
        """An S3 client signing with `user`'s own access key (created on first use).

        The modules create no access keys by default (a key would sit in the state); on the
        emulator the harness, as admin, makes them the way an operator would.
        """
        if user not in self._keys:
            key = self.admin("iam").create_access_key(UserName=user)["AccessKey"]
            self._keys[user] = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        client: S3Client = boto3.client("s3", **self.aws.client_kwargs(*self._keys[user]))
        return client

    def role(self, service: str, *, seconds: int = SESSION_SECONDS) -> Any:
        """A client that acts as the function: sessions of its execution role, renewed
        before they expire, with the function's own client settings (retries, timeouts)."""
        session = self.aws.role_session(
            self.role_name, session_name=self.function_name, seconds=seconds
        )
        return session.client(service, endpoint_url=self.aws.endpoint_url, config=CLIENT_CONFIG)  # type: ignore[call-overload]

    def operator_environment(self) -> dict[str, str]:
        """The environment of a command run by an operator (`exif-stripper sync`): the
        harness's admin IAM user, and nothing of this machine's own AWS settings."""
        return {**self.aws.scrubbed_environ(), **self.aws.environment(self.admin_credentials)}

    # -- what the server let through ----------------------------------------------------------

    def enforcement_audit(self) -> RequestAudit:
        """Every request since IAM enforcement began."""
        if self._enforced_since is None:
            raise EnforcementGap("IAM enforcement was never turned on")
        return self.aws.request_audit().since(self._enforced_since)

    def enforcement_gaps(self) -> list[str]:
        """Requests since the apply that the server answered without an IAM check."""
        return [
            f"{count} {service} request(s) signed by {principal} were not checked against IAM"
            for (service, principal, checked), count in self.enforcement_audit().requests.items()
            if not checked
        ]

    def sqs(self) -> SQSClient:
        client: SQSClient = self.admin("sqs")
        return client

    def worker_environment(
        self,
        *,
        web: str | None = None,
        session_seconds: int = SESSION_SECONDS,
        settings: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The worker runs as the function would: the function's settings (`settings` adds
        or overrides some), and sessions of its execution role (`session_seconds` long,
        renewed by botocore before expiry)."""
        role = self.aws.role_environment(
            self.role_name, session_name=self.function_name, seconds=session_seconds
        )
        return {
            **self.aws.scrubbed_environ(),
            **role,
            "UPLOADS_BUCKET": self.uploads,
            "WEB_BUCKET": web or self.web,
            "POWERTOOLS_METRICS_DISABLED": "true",
            **(settings or {}),
        }

    def worker_command(self) -> list[str]:
        """`exif-stripper worker` on this stack's queue, polling every second."""
        return [
            sys.executable, "-m", "exif_stripper.cli", "worker",
            "--queue-url", self.queue_url, "--wait-seconds", "1",
        ]  # fmt: skip

    @contextmanager
    def worker(
        self,
        *,
        visibility_timeout: int = 30,
        log_name: str = "worker.log",
        session_seconds: int = SESSION_SECONDS,
        settings: Mapping[str, str] | None = None,
    ) -> Iterator[Worker]:
        """`exif-stripper worker` on the stack's queue, in its own process."""
        process = Worker.start(
            self,
            visibility_timeout=visibility_timeout,
            log=self.work_dir / log_name,
            env=self.worker_environment(session_seconds=session_seconds, settings=settings),
        )
        try:
            yield process
        finally:
            process.stop()

    def delete_all_objects(self) -> None:
        """Every version and delete marker of both buckets, as the harness's admin."""
        s3 = self.admin("s3")
        for bucket in (self.uploads, self.web):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    _log_file: IO[bytes]

    @classmethod
    def start(
        cls, stack: Stack, *, visibility_timeout: int, log: Path, env: dict[str, str]
    ) -> Worker:
        log_file = log.open("ab")
        command = [*stack.worker_command(), "--visibility-timeout", str(visibility_timeout)]
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        return cls(process, log, log_file)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM (finish the batch in hand), then wait; SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything (a crash, an OOM kill)."""
        self.process.kill()
        self.process.wait()
        self._log_file.close()

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@contextmanager
def deployed_stack(
    work_dir: Path, *, name_prefix: str = "exif-local", destroy: bool = True, quiet: bool = False
) -> Iterator[Stack]:
    """Start the embedded AWS, apply the stack, turn IAM enforcement on, yield the stack;
    then check that nothing escaped enforcement, and tear it down.

    `destroy=False` skips `terraform destroy` and just stops the emulator, which takes all
    of its state with it: for the demo and the benchmark, which do not test the destroy
    (tests/integration/test_exif_stack.py does, with a check that nothing is left).
    `quiet` sends Terraform's output to work_dir/terraform.log instead of the terminal.
    Raises EnforcementGap when the body ended normally but a request went unchecked.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    code = scratch_copy(work_dir / "code", "modules", "tools/terraform/exif_stack")
    with EmbeddedAws() as aws:
        env = terraform_env(write_cli_config())
        env.update(aws.environment())
        env.update(
            TF_VAR_aws_endpoint=aws.endpoint_url,
            TF_VAR_region=aws.region,
            TF_VAR_name_prefix=name_prefix,
            TF_CLI_ARGS_destroy="-refresh=false",
        )
        module = code / STACK_DIR.relative_to(REPO_ROOT)
        terraform = TerraformStack(module, work_dir / "terraform", env)
        with _output_to(work_dir / "terraform.log", quiet):
            terraform.init()
            terraform.apply()
        stack = Stack(aws, terraform, work_dir, name_prefix)
        stack.enforce_iam()
        try:
            yield stack
            if gaps := stack.enforcement_gaps():
                raise EnforcementGap("; ".join(gaps))
        finally:
            if destroy:
                # moto crashes deleting delete markers once versioning is suspended, which
                # a destroy does first: empty the buckets while versioning is still on.
                stack.delete_all_objects()
                # Terraform signs as the root, which only works with enforcement off; the
                # admin user is the harness's, not the state's, so it goes first.
                aws.set_iam_enforcement(False)
                aws.delete_user(stack.admin_user)
                with _output_to(work_dir / "terraform.log", quiet):
                    terraform.destroy()


@contextmanager
def _output_to(log: Path, quiet: bool) -> Iterator[None]:
    """Point this process's stdout and stderr (and so Terraform's) at `log` for a while."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def wait_until(probe: Any, timeout: float, interval: float = 0.05) -> Any:
    """Call `probe` until it returns something truthy; that value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    return None
