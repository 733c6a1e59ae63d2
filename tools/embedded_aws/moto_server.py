"""The embedded AWS's server process: moto's server, plus what the harness needs of it.

    python tools/embedded_aws/moto_server.py -H 127.0.0.1 -p PORT      (EmbeddedAws runs this)

It serves moto exactly as ``python -m moto.server`` does, with two additions under
``/_harness/`` (never an AWS path) and two corrections where moto 5.2 differs from AWS:

* **The request audit** (``GET /_harness/requests``). Every AWS request is counted by
  service, by who signed it (an IAM user, a session of a role, or the emulator's root
  credentials) and by whether moto checked it against IAM. This is how the harness proves
  that nothing but ``terraform apply`` and ``destroy`` ran with enforcement off: it does
  not trust its own bookkeeping, it asks the server what it let through.

* **Credentials of a Lambda execution role** (``GET /_harness/role-credentials``), in the
  format of the container credentials endpoint that botocore reads from
  ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (as on ECS and Lambda SnapStart). This stands in
  for the Lambda service, the only principal an execution role trusts. Why not
  ``sts:AssumeRole`` through the API: in AWS an IAM user may not assume a role whose trust
  policy names only ``lambda.amazonaws.com``, and moto 5.2 cannot evaluate that trust
  policy at all while it enforces IAM: ``IAMPolicyStatement._check_principal`` looks up
  ``Principal["AWS"]``, gets None for a ``{"Service": ...}`` principal and fails with
  ``TypeError: argument of type 'NoneType' is not iterable`` (HTTP 500). A session taken
  before enforcement starts would work, but only once: botocore renews credentials a few
  minutes before they expire, and a renewal happens while enforcement is on. So every
  session comes from here, made by moto's own STS backend with the duration asked for,
  and only for a role whose trust policy admits ``lambda.amazonaws.com``. The caller
  must present the token this process was started with (``EMBEDDED_AWS_TOKEN``), as ECS
  requires ``AWS_CONTAINER_AUTHORIZATION_TOKEN``.

  Session expiry: moto never checks it. ``AssumedRoleAccessKey`` finds a session by its
  key and never reads ``expiration``, so an expired session keeps working on the emulator
  (tests/integration/test_pipeline.py shows renewal happening, not rejection).

* **IAM checks what AWS checks.** moto checks ``DeleteMessageBatch`` against an action
  ``sqs:DeleteMessageBatch``; AWS has no such permission: "setting permissions for
  SendMessage, DeleteMessage, or ChangeMessageVisibility sets permissions for the
  corresponding batch versions"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html).
  Without this, the worker's DeleteMessageBatch would be refused under the function's own
  role, which AWS allows. moto names CloudWatch's actions after its signing name
  (``monitoring:DescribeAlarms``); IAM calls them ``cloudwatch:``. And moto refuses every
  signed Lambda GET (SignatureDoesNotMatch): its Lambda responses keep the request's
  headers where the body should be, and the signature is recomputed over them; a GET has
  no body, so it is recomputed over none, as the client signed it.

* **A delete on a versioned bucket is announced.** A plain DeleteObject there creates a
  delete marker, and S3 sends ``ObjectRemoved:DeleteMarkerCreated``
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html);
  moto sends nothing, so a user's delete would never reach the function. (Deleting a
  version, which moto does announce, is not what a user does.) Every client that deletes,
  the AWS CLI and the smoke test included, is thereby treated as S3 would treat it.

* **SQS scales with a queue's depth** (``moto_scaling.py`` beside this file): moto counts
  the whole queue on every SendMessage and scans it twice per DeleteMessage, which makes
  a backfill of 20,000 messages quadratic.

This file imports only moto, botocore, werkzeug, the standard library and
``moto_scaling.py`` (found beside it), so it runs as a script from any working directory.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
from collections import Counter
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from tools.embedded_aws import moto_scaling
else:
    import moto_scaling  # beside this script, which runs as one (sys.path[0] is its folder)

from botocore.awsrequest import AWSRequest
from moto import backends, settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam import access_control
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3 import notifications
from moto.s3.models import FakeDeleteMarker, S3Backend
from moto.sts.models import sts_backends
from werkzeug.serving import run_simple

_list_of_moto_modules = backends.list_of_moto_modules

PREFIX: Final = "/_harness/"
TOKEN: Final = os.environ.get("EMBEDDED_AWS_TOKEN", "")
LAMBDA_SERVICE: Final = "lambda.amazonaws.com"
PARTITION: Final = "aws"
SERVICE_PREFIXES: Final = {"monitoring": "cloudwatch"}
BATCH_ACTIONS: Final = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

Environ = dict[str, Any]
Response = tuple[str, dict[str, Any]]


# --- the corrections ------------------------------------------------------------------------


class _IAMRequest(access_control.IAMRequest):
    """moto's IAM check of a non-S3 request, with the corrections above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service, _, name = self._action.partition(":")
        action = f"{SERVICE_PREFIXES.get(service, service)}:{name}"
        self._action = BATCH_ACTIONS.get(action, action)

    def _create_aws_request(self) -> AWSRequest:
        # moto signs over `data` when the body is empty, and its Lambda responses fill
        # `data` with the request's headers; a bodiless GET was signed over nothing.
        if self._method not in ("GET", "HEAD") or self._body:
            return super()._create_aws_request()
        parsed, self._data = self._data, {}
        try:
            return super()._create_aws_request()
        finally:
            self._data = parsed


class _DeletedObject:
    """What moto's event builder reads of an object (the event S3 sends for a delete
    marker carries the key; size and ETag mean nothing there)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0
        self.etag = ""


_set_delete_marker = S3Backend._set_delete_marker


def _set_delete_marker_and_notify(
    self: S3Backend, bucket_name: str, key_name: str
) -> FakeDeleteMarker:
    marker = _set_delete_marker(self, bucket_name, key_name)
    notifications.send_event(
        self.account_id,
        notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
        self.get_bucket(bucket_name),
        _DeletedObject(key_name),
    )
    return marker


def correct_moto() -> None:
    """Install the corrections, in this process only (never import this module into a
    process that uses moto for anything else)."""
    # moto imports IAMRequest from this module at each request, so the patch is seen there.
    access_control.IAMRequest = _IAMRequest  # type: ignore[misc]
    S3Backend._set_delete_marker = _set_delete_marker_and_notify  # type: ignore[method-assign]
    # moto's dispatcher lists its own package folder (a directory scan and a stat per
    # service) on every request to learn the service names, which never change while the
    # server runs: a fifth of its time per request, measured. Listed once here.
    backends.list_of_moto_modules = functools.cache(lambda: tuple(_list_of_moto_modules()))
    moto_scaling.apply()


# --- the audit -----------------------------------------------------------------------------


def _enforced() -> bool:
    """Whether moto checks the request that arrives now (moto.core.authorization)."""
    return bool(ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT)


def _signature_scope(environ: Environ) -> tuple[str, str] | None:
    """(access key id, service) of a SigV4 request, from its header or presigned URL."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in header:
        credential = header.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
    parts = credential.split("/")
    if len(parts) < 4:
        return None
    return parts[0], parts[3]


def _principal(access_key_id: str) -> str:
    """Who signed: ``user/<name>``, ``assumed-role/<role>`` or ``root`` (any other key,
    which moto accepts only while it does not enforce IAM)."""
    sts = sts_backends[DEFAULT_ACCOUNT_ID][PARTITION]
    if session := sts.get_assumed_role_from_access_key(access_key_id):
        return f"assumed-role/{session.role_arn.split('/')[-1]}"
    iam = iam_backends[DEFAULT_ACCOUNT_ID][PARTITION]
    if user := iam.get_user_from_access_key_id(access_key_id):
        return f"user/{user.name}"
    return "root"


class Audit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, bool]] = Counter()
        self.role_sessions: Counter[str] = Counter()

    def record(self, environ: Environ) -> None:
        scope = _signature_scope(environ)
        service, principal = (scope[1], _principal(scope[0])) if scope else ("?", "unsigned")
        with self._lock:
            self.requests[(service, principal, _enforced())] += 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [
                    {"service": s, "principal": p, "checked": c, "count": n}
                    for (s, p, c), n in sorted(self.requests.items())
                ],
                "role_sessions": dict(self.role_sessions),
            }


# --- the stand-in for the Lambda service ----------------------------------------------------


def _trusts_lambda(policy_document: str) -> bool:
    statements = json.loads(policy_document)["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        services = statement.get("Principal", {}).get("Service", [])
        if (
            statement.get("Effect") == "Allow"
            and "sts:AssumeRole" in ([actions] if isinstance(actions, str) else actions)
            and LAMBDA_SERVICE in ([services] if isinstance(services, str) else services)
        ):
            return True
    return False


def role_credentials(query: dict[str, list[str]], audit: Audit) -> Response:
    """A new session of ``role`` for ``seconds`` (AWS: 900 to the role's maximum)."""
    role_name = query.get("role", [""])[0]
    region = query.get("region", ["us-east-1"])[0]
    seconds = int(query.get("seconds", ["3600"])[0])
    session_name = query.get("session", ["harness"])[0]
    try:
        role = iam_backends[DEFAULT_ACCOUNT_ID][PARTITION].get_role(role_name)
    except NotFoundException:
        return "404 Not Found", {"message": f"no role {role_name!r}"}
    if not _trusts_lambda(role.assume_role_policy_document):
        return "403 Forbidden", {"message": f"{role_name} does not trust {LAMBDA_SERVICE}"}
    session = sts_backends[DEFAULT_ACCOUNT_ID][PARTITION].assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role.arn,
        policy=None,  # type: ignore[arg-type]  # what moto's own AssumeRole passes when absent
        duration=seconds,
        external_id=None,  # type: ignore[arg-type]
    )
    audit.role_sessions[role_name] += 1
    return "200 OK", {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "Expiration": session.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": role.arn,
    }


# --- the application -----------------------------------------------------------------------


class HarnessApplication:
    """moto's WSGI application with the audit around it and /_harness/ beside it."""

    def __init__(self, moto_app: Any) -> None:
        self.moto_app = moto_app
        self.audit = Audit()

    def __call__(self, environ: Environ, start_response: Any) -> Any:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            status, body = self._harness(path[len(PREFIX) :], environ)
            payload = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [payload]
        if not path.startswith("/moto-api/"):
            self.audit.record(environ)
        return self.moto_app(environ, start_response)

    def _harness(self, name: str, environ: Environ) -> Response:
        if environ.get("HTTP_AUTHORIZATION", "") != TOKEN:
            return "401 Unauthorized", {"message": "the harness token is required"}
        if name == "requests":
            return "200 OK", self.audit.report()
        if name == "role-credentials":
            return role_credentials(parse_qs(environ.get("QUERY_STRING", "")), self.audit)
        return "404 Not Found", {"message": f"no harness endpoint {name!r}"}


class _RequestHandler(MotoRequestHandler):
    """moto's request handler, with werkzeug's request log line written directly.

    Werkzeug sends each line through the logging machinery (a logger, a coloured stream
    handler, their locks): a sixth of the server's time per request, measured with py-spy
    on a burst of SendMessageBatch. The line is the same, so what reads the log (tests,
    the e2e bench) reads it as before.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = getattr(code, "value", code)
        sys.stderr.write(
            f"{self.address_string()} - - [{self.log_date_time_string()}] "
            f'"{self.requestline}" {status} {size}\n'
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto puts it into queue URLs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    correct_moto()
    app = HarnessApplication(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=_RequestHandler)


if __name__ == "__main__":
    main()
