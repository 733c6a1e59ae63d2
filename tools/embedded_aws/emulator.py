"""An embedded AWS for tests and the demo: a moto server on 127.0.0.1 in a child process.

    with EmbeddedAws() as aws:
        s3 = boto3.client("s3", **aws.client_kwargs())      # the emulator's root
        admin = aws.create_user("admin", policy)              # an IAM user, before enforcement
        aws.set_iam_enforcement(True)                         # every request checked from now
        s3 = boto3.client("s3", **aws.client_kwargs(*admin))
        role = aws.role_session("my-lambda-role", session_name="my-function")

Why a child process and not moto's ``ThreadedMotoServer`` in this process: moto keeps its
state and its IAM switch in module globals, so any test in the same process that uses
``mock_aws`` would reset or reconfigure the server's backends underneath us; a separate
process is isolated, uses the second core while Terraform runs, and can be killed cleanly.
The process runs tools/embedded_aws/moto_server.py: moto's own server plus a request audit,
credentials of Lambda execution roles, and AWS's rule for SQS batch permissions (that
file says why each is there).

IAM enforcement: moto authorizes requests only after ``INITIAL_NO_AUTH_ACTION_COUNT``
requests; ``POST /moto-api/reset-auth`` with a number sets that counter at runtime
("0": check every request from now on, "inf": never check). While enforcement is on, the
root credentials (``ROOT``) are rejected: only access keys of IAM users that exist in moto,
and sessions of roles, work. What moto checks then: the identity policies of the user (its
own and its groups') or of the role, action by action and resource by resource; IAM
conditions count as true, resource policies (bucket, queue) only partly, KMS key policies
not at all (docs/embedded-aws.md).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypedDict
from urllib.parse import urlencode

import boto3
import botocore.session
from botocore.credentials import ContainerProvider, CredentialResolver

DEFAULT_REGION = "us-east-1"
SERVER_SCRIPT = Path(__file__).with_name("moto_server.py")
# AssumeRole's default duration, and the default MaxSessionDuration of a role.
SESSION_SECONDS = 3600


class Credentials(NamedTuple):
    access_key_id: str
    secret_access_key: str


# The emulator's root: any key works while IAM enforcement is off (moto answers as account
# 123456789012); Terraform applies and destroys with it.
ROOT = Credentials("testing", "testing")


class ClientKwargs(TypedDict):
    """Keyword arguments for ``boto3.client(service, **kwargs)`` against the emulator."""

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


class EmbeddedAwsError(RuntimeError):
    """The moto server did not start or did not answer as expected."""


@dataclass(frozen=True)
class RequestAudit:
    """How many AWS requests the server has answered, by service, by who signed them
    (``user/<name>``, ``assumed-role/<role>``, ``root``, ``unsigned``) and by whether IAM
    checked them; and how many role sessions it has handed out, by role."""

    requests: Mapping[tuple[str, str, bool], int]
    role_sessions: Mapping[str, int]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> RequestAudit:
        requests = {
            (r["service"], r["principal"], bool(r["checked"])): int(r["count"])
            for r in document["requests"]
        }
        return cls(requests, dict(document["role_sessions"]))

    def since(self, earlier: RequestAudit) -> RequestAudit:
        """What happened after ``earlier`` was taken."""
        requests = {
            key: count - earlier.requests.get(key, 0)
            for key, count in self.requests.items()
            if count > earlier.requests.get(key, 0)
        }
        sessions = {
            role: count - earlier.role_sessions.get(role, 0)
            for role, count in self.role_sessions.items()
            if count > earlier.role_sessions.get(role, 0)
        }
        return RequestAudit(requests, sessions)

    def count(
        self,
        service: str | None = None,
        *,
        principal: str | None = None,
        checked: bool | None = None,
    ) -> int:
        return sum(
            n
            for (s, p, c), n in self.requests.items()
            if service in (None, s) and principal in (None, p) and checked in (None, c)
        )


def _free_port() -> int:
    """A port that was free a moment ago (moto_server needs a number; a race is unlikely
    and start() retries on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedAws:
    """A moto server on 127.0.0.1 and a free port, for as long as the context lasts."""

    def __init__(self, region: str = DEFAULT_REGION, startup_timeout: float = 30.0) -> None:
        self.region = region
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        # Asked of every /_harness/ request: role credentials are for this run's processes.
        self._token = secrets.token_urlsafe(24)

    @property
    def log_path(self) -> Path:
        """The server's request log (and tracebacks), kept until stop()."""
        if self._log_dir is None:
            raise EmbeddedAwsError("not started")
        return Path(self._log_dir.name) / "moto-server.log"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and wait until it answers. Retries with a new port if the
        chosen one was taken in between."""
        if self._process is not None:
            raise EmbeddedAwsError("already started")
        self._log_dir = tempfile.TemporaryDirectory(prefix="embedded-aws-")
        last_error: Exception | None = None
        for _ in range(3):
            try:
                self._start_on(_free_port())
                return
            except EmbeddedAwsError as error:
                last_error = error
                self._terminate()
        raise EmbeddedAwsError(f"moto server did not start: {last_error}")

    def stop(self) -> None:
        """Stop the server; its state and log are gone. Safe to call twice; start() may
        follow with a new, empty server."""
        self._terminate()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __enter__(self) -> EmbeddedAws:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need ----------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: the one endpoint of every service."""
        if self._port is None:
            raise EmbeddedAwsError("not started")
        return f"http://127.0.0.1:{self._port}"

    def client_kwargs(
        self,
        access_key_id: str = ROOT.access_key_id,
        secret_access_key: str = ROOT.secret_access_key,
    ) -> ClientKwargs:
        """Arguments for ``boto3.client(...)``: the root by default, or an IAM user's keys."""
        return ClientKwargs(
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def scrubbed_environ(self) -> dict[str, str]:
        """This process's environment without any AWS setting of the machine: no ``AWS_*``
        variable, and config and credentials files that do not exist (not /dev/null, which
        botocore tries to parse). A child process then signs only as ``environment()`` or
        ``role_environment()`` say, never as a developer's profile that happens to be set."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        absent = str(self.log_path.with_name("no-aws-config"))
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = absent
        return env

    def environment(self, credentials: Credentials = ROOT) -> dict[str, str]:
        """Variables that point AWS SDKs, the AWS CLI and Terraform's provider at the server,
        signing with ``credentials`` (the root by default: what Terraform uses)."""
        return {
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    # -- identities -----------------------------------------------------------------------

    def create_user(self, name: str, policy: Mapping[str, Any]) -> Credentials:
        """An IAM user with ``policy`` inline and an access key, made as the root: call it
        before IAM enforcement starts."""
        iam = boto3.client("iam", **self.client_kwargs())
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def delete_user(self, name: str) -> None:
        """Undo ``create_user`` (as the root: with enforcement off)."""
        iam = boto3.client("iam", **self.client_kwargs())
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName=name)
        iam.delete_user(UserName=name)

    def role_environment(
        self, role_name: str, *, session_name: str, seconds: int = SESSION_SECONDS
    ) -> dict[str, str]:
        """Variables that give a process sessions of the Lambda execution role
        ``role_name``, as Lambda gives its function: botocore fetches a session on first
        use and a new one before the last expires (container credentials: the SDK renews
        them 15 minutes before expiry, https://docs.aws.amazon.com/sdkref/latest/guide/
        feature-container-credentials.html). No access key is set: none must win over them."""
        query = urlencode(
            {"role": role_name, "session": session_name, "seconds": seconds, "region": self.region}
        )
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": (
                f"{self.endpoint_url}/_harness/role-credentials?{query}"
            ),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self._token,
        }

    def role_session(
        self, role_name: str, *, session_name: str, seconds: int = SESSION_SECONDS
    ) -> boto3.Session:
        """A boto3 session, in this process, that signs as ``role_name`` and renews its
        credentials the way ``role_environment`` makes a child process renew them."""
        environ = self.role_environment(role_name, session_name=session_name, seconds=seconds)
        core = botocore.session.Session()
        core.register_component(
            "credential_provider", CredentialResolver([ContainerProvider(environ=environ)])
        )
        return boto3.Session(botocore_session=core, region_name=self.region)

    # -- what the server let through ------------------------------------------------------

    def request_audit(self) -> RequestAudit:
        """Every AWS request answered so far, by service, signer and IAM check."""
        request = urllib.request.Request(  # noqa: S310 - fixed local URL
            f"{self.endpoint_url}/_harness/requests", headers={"Authorization": self._token}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return RequestAudit.from_json(json.load(response))

    # -- IAM enforcement ------------------------------------------------------------------

    def set_iam_enforcement(self, enforced: bool) -> None:
        """Check every following request against IAM (True) or none (False)."""
        self._post("/moto-api/reset-auth", b"0" if enforced else b"inf")

    def reset(self) -> None:
        """Forget every resource (moto's /moto-api/reset); the server keeps running."""
        self._post("/moto-api/reset", b"")

    # -- internals ------------------------------------------------------------------------

    def _start_on(self, port: int) -> None:
        env = dict(os.environ)
        # MOTO_PORT is what moto puts into URLs it hands out (SQS queue URLs).
        env["MOTO_PORT"] = str(port)
        env["EMBEDDED_AWS_TOKEN"] = self._token
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, str(SERVER_SCRIPT), "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._port = port
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedAwsError(
                    f"exited with {self._process.returncode}; see {self.log_path}"
                )
            if self._answers():
                return
            time.sleep(0.1)
        raise EmbeddedAwsError(f"no answer within {self._startup_timeout} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/config", timeout=1):  # noqa: S310 - fixed local URL
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _post(self, path: str, body: bytes) -> None:
        # text/plain: with urllib's default form content type the server parses the body
        # as a form and moto sees no data.
        request = urllib.request.Request(  # noqa: S310 - fixed local URL
            f"{self.endpoint_url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status != 200:
                raise EmbeddedAwsError(f"POST {path} answered {response.status}")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        self._port = None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
