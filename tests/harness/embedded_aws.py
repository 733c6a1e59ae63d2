"""An embedded AWS for tests and the demo: a moto server on 127.0.0.1 in a child process.

    with EmbeddedAws() as aws:
        s3 = boto3.client("s3", **aws.client_kwargs())
        ...
        with aws.iam_enforced():      # requests are now checked against IAM policies
            ...

Why a child process (``python -m moto.server``) and not moto's ``ThreadedMotoServer`` in
this process: moto keeps its state and its IAM switch in module globals, so any test in
the same process that uses ``mock_aws`` would reset or reconfigure the server's backends
underneath us; a separate process is isolated, uses the second core while Terraform runs,
and can be killed cleanly.

IAM enforcement: moto authorizes requests only after ``INITIAL_NO_AUTH_ACTION_COUNT``
requests; ``POST /moto-api/reset-auth`` with a number sets that counter at runtime
("0": check every request from now on, "inf": never check). While enforcement is on, the
fake admin credentials of ``client_kwargs()`` are rejected too: only access keys of IAM
users that exist in moto work.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypedDict

DEFAULT_REGION = "us-east-1"
# moto's server, with its SQS made to scale with a queue's depth (see that file's notes).
MOTO_SERVER = Path(__file__).with_name("moto_scaling.py")

# Any value works while IAM enforcement is off; moto answers as account 123456789012.
ADMIN_ACCESS_KEY_ID = "testing"
ADMIN_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - a fixed credential of the emulator


class ClientKwargs(TypedDict):
    """Keyword arguments for ``boto3.client(service, **kwargs)`` against the emulator."""

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


class EmbeddedAwsError(RuntimeError):
    """The moto server did not start or did not answer as expected."""


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
        access_key_id: str = ADMIN_ACCESS_KEY_ID,
        secret_access_key: str = ADMIN_SECRET_ACCESS_KEY,
    ) -> ClientKwargs:
        """Arguments for ``boto3.client(...)``: admin by default, or an IAM user's keys."""
        return ClientKwargs(
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def environment(self) -> dict[str, str]:
        """Variables that point AWS SDKs and Terraform's provider at the server (admin)."""
        return {
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    # -- IAM enforcement ------------------------------------------------------------------

    def set_iam_enforcement(self, enforced: bool) -> None:
        """Check every following request against IAM (True) or none (False)."""
        self._post("/moto-api/reset-auth", b"0" if enforced else b"inf")

    @contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """IAM enforcement on inside the block, off again afterwards, even on error."""
        self.set_iam_enforcement(True)
        try:
            yield
        finally:
            self.set_iam_enforcement(False)

    def reset(self) -> None:
        """Forget every resource (moto's /moto-api/reset); the server keeps running."""
        self._post("/moto-api/reset", b"")

    # -- internals ------------------------------------------------------------------------

    def _start_on(self, port: int) -> None:
        env = dict(os.environ)
        # MOTO_PORT is what moto puts into URLs it hands out (SQS queue URLs).
        env["MOTO_PORT"] = str(port)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
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
