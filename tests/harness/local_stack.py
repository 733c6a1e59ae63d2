"""The whole system on this machine: embedded AWS, the real modules applied, a worker.

    with deployed_stack(work_dir) as stack:          # moto + terraform apply
        uploader = stack.s3_as(stack.user_a)          # User A's own access keys
        with stack.worker() as worker:                # `exif-stripper worker` on the queue
            uploader.put_object(Bucket=stack.source, Key="a.jpg", Body=...)

`make demo`, the pipeline's integration tests, the smoke test and the end-to-end
benchmark all run on this, so what they show is the same composition
(tests/terraform/exif_stack) the infrastructure tests check resource by resource.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3

from tests.harness.embedded_aws import EmbeddedAws
from tests.harness.terraform_cli import terraform_env, write_cli_config
from tests.harness.terraform_stack import REPO_ROOT, TerraformStack, scratch_copy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

STACK_DIR = Path(__file__).resolve().parents[1] / "terraform" / "exif_stack"


@dataclass
class Stack:
    aws: EmbeddedAws
    terraform: TerraformStack
    work_dir: Path
    _keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.terraform.outputs

    @property
    def source(self) -> str:
        return str(self.outputs["uploads_bucket"])

    @property
    def dest(self) -> str:
        return str(self.outputs["web_bucket"])

    @property
    def queue_url(self) -> str:
        return str(self.outputs["queue_url"])

    @property
    def user_a(self) -> str:
        return str(self.outputs["user_a"])

    @property
    def user_b(self) -> str:
        return str(self.outputs["user_b"])

    def admin(self, service: str) -> Any:
        """A client with the emulator's admin credentials (IAM enforcement is off)."""
        return boto3.client(service, **self.aws.client_kwargs())  # type: ignore[call-overload]

    def s3_as(self, user: str) -> S3Client:
        """An S3 client signing with `user`'s own access key (created on first use).

        The modules create no access keys by default (a key would sit in the state); on the
        emulator the harness, as admin, makes them the way an operator would.
        """
        if user not in self._keys:
            key = self.admin("iam").create_access_key(UserName=user)["AccessKey"]
            self._keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        key_id, secret = self._keys[user]
        client: S3Client = boto3.client("s3", **self.aws.client_kwargs(key_id, secret))
        return client

    def delete_as(self, client: S3Client, key: str) -> None:
        """Delete `key` from bucket A with `client`, and see that its event is sent.

        moto gap: on a versioned bucket a plain DeleteObject creates a delete marker, and
        AWS then sends `ObjectRemoved:DeleteMarkerCreated`; moto 5.2 sends nothing. The
        harness sends what S3 would have sent, in S3's format, so the worker hears of the
        delete as it would in AWS. (Deleting a specific version does get an event from
        moto, but that is not what a user does.)
        """
        deleted = client.delete_object(Bucket=self.source, Key=key)
        if deleted.get("DeleteMarker"):
            self.sqs().send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(
                    s3_event(
                        self.source,
                        key,
                        "ObjectRemoved:DeleteMarkerCreated",
                        version_id=deleted.get("VersionId"),
                    )
                ),
            )

    def sqs(self) -> SQSClient:
        client: SQSClient = self.admin("sqs")
        return client

    def worker_environment(self, *, dest: str | None = None) -> dict[str, str]:
        """The worker runs as the function would, with the function's settings."""
        return {
            **os.environ,
            **self.aws.environment(),
            "SOURCE_BUCKET": self.source,
            "DEST_BUCKET": dest or self.dest,
            "POWERTOOLS_METRICS_DISABLED": "true",
        }

    def worker_command(self) -> list[str]:
        """`exif-stripper worker` on this stack's queue, polling every second."""
        return [
            sys.executable, "-m", "exif_stripper.cli", "worker",
            "--queue-url", self.queue_url, "--wait-seconds", "1",
        ]  # fmt: skip

    @contextmanager
    def worker(
        self, *, visibility_timeout: int = 30, log_name: str = "worker.log"
    ) -> Iterator[Worker]:
        """`exif-stripper worker` on the stack's queue, in its own process."""
        process = Worker.start(
            self, visibility_timeout=visibility_timeout, log=self.work_dir / log_name
        )
        try:
            yield process
        finally:
            process.stop()

    def delete_all_objects(self) -> None:
        """Every version and delete marker of both buckets, as admin."""
        s3 = self.admin("s3")
        for bucket in (self.source, self.dest):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    _log_file: IO[bytes]

    @classmethod
    def start(cls, stack: Stack, *, visibility_timeout: int, log: Path) -> Worker:
        log_file = log.open("ab")
        command = [*stack.worker_command(), "--visibility-timeout", str(visibility_timeout)]
        process = subprocess.Popen(
            command, env=stack.worker_environment(), stdout=log_file, stderr=subprocess.STDOUT
        )
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

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@contextmanager
def deployed_stack(
    work_dir: Path, *, name_prefix: str = "exif-local", destroy: bool = True, quiet: bool = False
) -> Iterator[Stack]:
    """Start the embedded AWS, apply the stack, yield it; then tear it down.

    `destroy=False` skips `terraform destroy` and just stops the emulator, which takes all
    of its state with it: for the demo and the benchmark, which do not test the destroy
    (tests/integration/test_exif_stack.py does, with a check that nothing is left).
    `quiet` sends Terraform's output to work_dir/terraform.log instead of the terminal.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    code = scratch_copy(work_dir / "code", "modules", "tests/terraform")
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
        stack = Stack(aws, terraform, work_dir)
        try:
            yield stack
        finally:
            if destroy:
                # moto crashes deleting delete markers once versioning is suspended, which
                # a destroy does first: empty the buckets while versioning is still on.
                stack.delete_all_objects()
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


def s3_event(bucket: str, key: str, name: str, *, version_id: str | None = None) -> dict[str, Any]:
    """An S3 event notification as S3 writes it to SQS (keys URL-encoded, '+' for space).

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    """
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": f"{time.time_ns():X}"}
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


def wait_until(probe: Any, timeout: float, interval: float = 0.05) -> Any:
    """Call `probe` until it returns something truthy; that value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    return None
