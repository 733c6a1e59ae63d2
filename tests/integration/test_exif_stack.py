"""The three modules, applied for real to the embedded AWS, checked the way a reviewer would.

One apply per module run (tools/terraform/exif_stack), shared by every test here; the
destroy at the end must leave nothing behind. The stack differs from production only
where moto cannot model AWS, and says so where it does (TLS policy, event source mapping).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from tools.embedded_aws.emulator import Credentials, EmbeddedAws
from tools.embedded_aws.policy_templates import load_policy
from tools.terraform.cli_config import terraform_env
from tools.terraform.stack import TerraformStack, scratch_copy

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_ecr.client import ECRClient
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sqs.client import SQSClient

pytestmark = pytest.mark.integration

STACK = "tools/terraform/exif_stack"
STACK_TAGS = {"Project": "exif-stripper", "Stack": "integration-test"}
# Issue 3. Not met: the provider waits ~55 s on S3 lifecycle configurations and ~25 s per
# SQS queue whatever the backend (modules/buckets and modules/exif-lambda READMEs).
APPLY_GOAL_SECONDS = 30.0
REVIEWER = "exif-test-reviewer"
# Every configuration the tests read, on "*" as AWS's ReadOnlyAccess grants it (moto names
# some S3 configuration reads its own way, GetPublicAccessBlock for one; Get* covers both).
REVIEWER_READS = [
    f"{service}:{verb}*"
    for service, verbs in {
        "s3": ("Get", "List"),
        "sqs": ("Get", "List"),
        "iam": ("Get", "List"),
        "lambda": ("Get", "List"),
        "logs": ("Describe", "List"),
        "cloudwatch": ("Describe", "List"),
        "ecr": ("Describe", "Get", "List"),
    }.items()
    for verb in verbs
]


# --- the stack -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(
    embedded_aws: EmbeddedAws,
    terraform_cli_config: Path,
    tmp_path_factory: pytest.TempPathFactory,
    report_lines: list[str],
) -> Iterator[TerraformStack]:
    """Apply the stack, let the tests run, destroy it, and check that the destroy left
    nothing behind."""
    env = terraform_env(terraform_cli_config)
    env.update(embedded_aws.environment())
    env["TF_VAR_aws_endpoint"] = embedded_aws.endpoint_url
    env["TF_VAR_region"] = embedded_aws.region
    # The state is seconds old and the harness knows what changed (objects it removes
    # below); refreshing 50 resources first costs CPU, and the lifecycle configurations'
    # reads alone sleep 10 s each.
    env["TF_CLI_ARGS_destroy"] = "-refresh=false"
    base = tmp_path_factory.mktemp("exif_stack")
    source = scratch_copy(base / "src", "modules", STACK) / STACK
    terraform = TerraformStack(source, base / "work", env)

    terraform.init()
    terraform.apply()
    _report(
        report_lines,
        f"exif_stack: init {terraform.timings.init:.1f} s, apply (plan + apply) "
        f"{terraform.timings.apply:.1f} s (goal < {APPLY_GOAL_SECONDS:.0f} s)",
    )

    yield terraform

    terraform.destroy()
    _report(report_lines, f"exif_stack: destroy {terraform.timings.destroy:.1f} s")
    left = leftovers(embedded_aws)
    assert left == {}, f"terraform destroy left resources behind: {left}"


@pytest.fixture(scope="module")
def reviewer(
    deployed: TerraformStack, embedded_aws: EmbeddedAws, report_lines: list[str]
) -> Iterator[Credentials]:
    """Who reads the stack in these tests: an IAM user that may read every configuration
    and write only what the event test writes. IAM enforcement is on from its creation
    until just before the destroy; the server's audit must then show no unchecked request.
    """
    outputs = deployed.outputs
    uploads, web = (
        bucket_arn(outputs["uploads_bucket_name"]),
        bucket_arn(outputs["web_bucket_name"]),
    )
    guarded = [bucket_arn(name) for name in outputs["guarded_buckets"]]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": REVIEWER_READS, "Resource": "*"},
            {  # the event test's object in A; emptying both buckets before the destroy
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": [f"{uploads}/*", f"{web}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                "Resource": outputs["queue_arn"],
            },
            {  # The guarded pair's the web bucket must refuse writes by its own policy, not because
                # the caller lacks rights: there the reviewer is the principal with broad S3
                # rights that the policy exists to stop.
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [*guarded, *(f"{arn}/*" for arn in guarded)],
            },
        ],
    }
    credentials = embedded_aws.create_user(REVIEWER, policy)
    embedded_aws.set_iam_enforcement(True)
    since = embedded_aws.request_audit()

    yield credentials

    # moto gap: destroying aws_s3_bucket_versioning suspends versioning, and with
    # versioning suspended moto's DeleteObjects crashes on delete markers, so the
    # provider's force_destroy would retry for minutes. The reviewer removes the versions
    # the tests wrote while versioning is still on; the destroy then deletes the buckets.
    s3 = boto3.client("s3", **embedded_aws.client_kwargs(*credentials))
    for bucket in (
        outputs["uploads_bucket_name"],
        outputs["web_bucket_name"],
        outputs["guarded_buckets"][0],
    ):
        empty_versioned_bucket(s3, bucket)
    audit = embedded_aws.request_audit().since(since)
    _report(
        report_lines,
        f"exif_stack: {audit.count()} requests after the apply, "
        f"{audit.count(checked=False)} not checked against IAM",
    )
    # Terraform's destroy signs as the emulator's root, which only works without IAM.
    embedded_aws.set_iam_enforcement(False)
    embedded_aws.delete_user(REVIEWER)
    assert audit.count(checked=False) == 0


@pytest.fixture(scope="module")
def stack(deployed: TerraformStack) -> dict[str, Any]:
    """The stack's outputs: bucket, queue, user, function names and ARNs."""
    return deployed.outputs


@pytest.fixture(scope="module")
def planned(deployed: TerraformStack) -> dict[str, dict[str, Any]]:
    """Planned values of every resource by address, for what moto does not store."""
    plan = deployed.show_plan()
    resources: dict[str, dict[str, Any]] = {}
    modules = [plan["planned_values"]["root_module"]]
    while modules:
        module = modules.pop()
        modules.extend(module.get("child_modules", []))
        for resource in module.get("resources", []):
            # Values unknown until apply are left out (a policy naming a new bucket).
            resources[resource["address"]] = resource.get("values", {})
    return resources


def empty_versioned_bucket(s3: S3Client, bucket: str) -> None:
    """Delete every object version and delete marker of ``bucket``."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


def _report(report_lines: list[str], line: str) -> None:
    print(line)  # shown by `pytest -s`
    report_lines.append(line)  # shown in the terminal summary of every run


def leftovers(aws: EmbeddedAws) -> dict[str, list[str]]:
    """Everything of the kinds the stack creates that still exists (KMS keys count unless
    their deletion is scheduled, which is all AWS allows)."""
    kw = aws.client_kwargs()
    s3, sqs, iam = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("iam", **kw)
    lambda_, logs = boto3.client("lambda", **kw), boto3.client("logs", **kw)
    cloudwatch, ecr, kms = (
        boto3.client("cloudwatch", **kw),
        boto3.client("ecr", **kw),
        boto3.client("kms", **kw),
    )
    found = {
        "buckets": [b["Name"] for b in s3.list_buckets().get("Buckets", [])],
        "queues": sqs.list_queues().get("QueueUrls", []),
        "users": [u["UserName"] for u in iam.list_users()["Users"]],
        "groups": [g["GroupName"] for g in iam.list_groups()["Groups"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "functions": [f["FunctionName"] for f in lambda_.list_functions()["Functions"]],
        "event_source_mappings": [
            m["UUID"] for m in lambda_.list_event_source_mappings()["EventSourceMappings"]
        ],
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "alarms": [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]],
        "repositories": [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]],
        "kms_keys": [
            k["KeyId"]
            for k in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
        ],
    }
    return {kind: names for kind, names in found.items() if names}


# --- the reviewer's clients (IAM enforced) -------------------------------------------------


@pytest.fixture(scope="module")
def s3(embedded_aws: EmbeddedAws, reviewer: Credentials) -> S3Client:
    return boto3.client("s3", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def sqs(embedded_aws: EmbeddedAws, reviewer: Credentials) -> SQSClient:
    return boto3.client("sqs", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def iam(embedded_aws: EmbeddedAws, reviewer: Credentials) -> IAMClient:
    return boto3.client("iam", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def lambda_client(embedded_aws: EmbeddedAws, reviewer: Credentials) -> LambdaClient:
    return boto3.client("lambda", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def cloudwatch(embedded_aws: EmbeddedAws, reviewer: Credentials) -> CloudWatchClient:
    return boto3.client("cloudwatch", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def logs(embedded_aws: EmbeddedAws, reviewer: Credentials) -> CloudWatchLogsClient:
    return boto3.client("logs", **embedded_aws.client_kwargs(*reviewer))


@pytest.fixture(scope="module")
def ecr(embedded_aws: EmbeddedAws, reviewer: Credentials) -> ECRClient:
    return boto3.client("ecr", **embedded_aws.client_kwargs(*reviewer))


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def as_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """An IAM policy document as a dict (boto3 decodes IAM's URL-encoded JSON already;
    the stubs allow for the string)."""
    if isinstance(document, str):
        parsed: dict[str, Any] = json.loads(unquote(document))
        return parsed
    return dict(document)


def allowed_pairs(document: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (action, resource) an IAM policy document allows; Deny or NotAction would
    make the comparison meaningless, so they fail the test outright."""
    pairs: set[tuple[str, str]] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement, statement
        assert "NotResource" not in statement, statement
        actions = statement["Action"]
        resources = statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                pairs.add((action, resource))
    return pairs


# --- buckets ------------------------------------------------------------------------------


def all_buckets(stack: dict[str, Any]) -> list[str]:
    return [
        stack["uploads_bucket_name"],
        stack["web_bucket_name"],
        *stack["hardened_buckets"],
        *stack["guarded_buckets"],
    ]


def test_bucket_names_come_from_the_prefix(stack: dict[str, Any]) -> None:
    assert stack["uploads_bucket_name"].startswith("exif-test-uploads-")
    assert stack["web_bucket_name"].startswith("exif-test-web-")


def test_buckets_block_every_kind_of_public_access(stack: dict[str, Any], s3: S3Client) -> None:
    for bucket in all_buckets(stack):
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert config == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }, bucket


def test_buckets_disable_acls_so_the_owner_owns_every_object(
    stack: dict[str, Any], s3: S3Client
) -> None:
    for bucket in all_buckets(stack):
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], bucket


def test_buckets_encrypt_with_sse_s3_by_default(stack: dict[str, Any], s3: S3Client) -> None:
    for bucket in (stack["uploads_bucket_name"], stack["web_bucket_name"]):
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", bucket


def test_buckets_encrypt_with_sse_kms_and_a_bucket_key_when_given_a_key(
    stack: dict[str, Any], s3: S3Client
) -> None:
    for bucket in stack["hardened_buckets"]:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": stack["hardened_kms_key_arn"],
        }, bucket
        assert rule["BucketKeyEnabled"] is True, bucket


def test_buckets_keep_versions(stack: dict[str, Any], s3: S3Client) -> None:
    for bucket in all_buckets(stack):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", bucket


def test_lifecycle_expires_old_versions_and_aborts_stale_multipart_uploads(
    stack: dict[str, Any], s3: S3Client
) -> None:
    for bucket in all_buckets(stack):
        rules = {
            rule["ID"]: rule
            for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        }
        assert set(rules) == {"expire-noncurrent-versions", "abort-incomplete-multipart-uploads"}
        assert all(rule["Status"] == "Enabled" for rule in rules.values())
        expire = rules["expire-noncurrent-versions"]
        assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
        assert expire["Expiration"] == {"ExpiredObjectDeleteMarker": True}
        abort = rules["abort-incomplete-multipart-uploads"]
        assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def bucket_policy(s3: S3Client, bucket: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    return document


def policy_statements(template: str, bucket: str, writer_arns: list[str]) -> list[Any]:
    """The statements of one of the buckets module's policy templates, rendered."""
    document = load_policy(
        "buckets", template, bucket_arn=bucket_arn(bucket), writer_arns=json.dumps(writer_arns)
    )
    statements: list[Any] = document["Statement"]
    return statements


def test_tls_only_policy_is_on_by_default_and_denies_requests_without_tls(
    stack: dict[str, Any], s3: S3Client
) -> None:
    # The hardened pair runs the module's defaults; the main pair turns the policy off
    # only because moto would apply it to every request (see the stack's main.tf). For
    # the same reason this checks the document S3 holds, not a request over plain HTTP:
    # moto ignores the condition and would deny a TLS request just the same.
    for bucket in stack["hardened_buckets"]:
        statement = bucket_policy(s3, bucket)["Statement"][0]
        assert [statement] == policy_statements("deny-insecure-transport", bucket, [])
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "s3:*"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(statement["Resource"]) == {bucket_arn(bucket), f"{bucket_arn(bucket)}/*"}


# --- the web bucket: written by the function's role (and a break-glass role) only ----------------

# Every request that writes or removes an object, or changes what S3 keeps of it (docs/design.md
# "Access: writes to the web bucket").
OBJECT_WRITE_ACTIONS = {
    "s3:PutObject",  # PutObject, CopyObject into B, and every step of a multipart upload
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
    "s3:ReplicateTags",
}


def test_bucket_b_denies_object_writes_to_all_but_the_functions_role_and_break_glass(
    stack: dict[str, Any], s3: S3Client, iam: IAMClient
) -> None:
    """The documents S3 holds. The exemption is a condition on aws:PrincipalArn, which moto
    does not evaluate (next test): this is where it is checked, against the ARN of the role
    the function really runs as, built by the buckets module from the role's name alone."""
    role_arn = iam.get_role(RoleName=stack["role_name"])["Role"]["Arn"]
    assert stack["hardened_web_writer_arns"] == [role_arn, stack["break_glass_role_arn"]]

    hardened_uploads, hardened_web = stack["hardened_buckets"]
    guarded_uploads, guarded_web = stack["guarded_buckets"]
    expected = {
        hardened_uploads: policy_statements("deny-insecure-transport", hardened_uploads, []),
        hardened_web: [
            *policy_statements("deny-insecure-transport", hardened_web, []),
            *policy_statements(
                "deny-web-writes", hardened_web, [role_arn, stack["break_glass_role_arn"]]
            ),
        ],
        guarded_web: policy_statements("deny-web-writes", guarded_web, [role_arn]),
    }
    for bucket, statements in expected.items():
        assert bucket_policy(s3, bucket) == {"Version": "2012-10-17", "Statement": statements}
    # The uploads bucket of a pair takes no write policy, and a pair with both policies off has
    # none.
    for bucket in (guarded_uploads, stack["uploads_bucket_name"], stack["web_bucket_name"]):
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=bucket)

    [statement] = policy_statements("deny-web-writes", guarded_web, [role_arn])
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert set(statement["Action"]) == OBJECT_WRITE_ACTIONS
    # Objects only: bucket-level actions stay with whoever manages the bucket, so Terraform can
    # still read, change and delete this policy and the bucket (and destroys the policy first).
    assert statement["Resource"] == f"{bucket_arn(guarded_web)}/*"
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [role_arn]}}


def test_bucket_b_write_policy_refuses_writes_on_the_embedded_aws(
    stack: dict[str, Any], s3: S3Client
) -> None:
    """What moto does evaluate of a bucket policy: a Deny's actions and resources, for every
    object request (it names a request s3:<Method>Object). What it cannot: the condition
    (moto treats it as true, and passes no caller to bucket policies), so here the policy
    denies everyone, the function's role included; and it calls CreateMultipartUpload and
    CompleteMultipartUpload s3:PostObject, which AWS authorizes as s3:PutObject. The exemption
    is checked on the document (test above) and, on AWS, by the smoke test, whose photo only
    reaches the web bucket if the function's role may write there."""
    uploads, web = stack["guarded_buckets"]
    key = "guarded/photo.jpg"
    upload_id = s3.create_multipart_upload(Bucket=web, Key=key)["UploadId"]  # see above
    writes: dict[str, Callable[[], object]] = {
        "PutObject": lambda: s3.put_object(Bucket=web, Key=key, Body=b"unsanitized"),
        "CopyObject": lambda: s3.copy_object(
            Bucket=web, Key=key, CopySource={"Bucket": uploads, "Key": "seed.jpg"}
        ),
        "UploadPart": lambda: s3.upload_part(
            Bucket=web, Key=key, UploadId=upload_id, PartNumber=1, Body=b"part"
        ),
        "AbortMultipartUpload": lambda: s3.abort_multipart_upload(
            Bucket=web, Key=key, UploadId=upload_id
        ),
        "PutObjectTagging": lambda: s3.put_object_tagging(
            Bucket=web, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
        "DeleteObject": lambda: s3.delete_object(Bucket=web, Key=key),
    }
    s3.put_object(Bucket=uploads, Key="seed.jpg", Body=b"seed")  # the uploads bucket takes writes

    refused = {}
    for name, write in writes.items():
        with pytest.raises(ClientError) as error:
            write()
        # moto answers a bucket-policy deny with a bare 403 Forbidden (AWS: AccessDenied).
        refused[name] = error.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert refused == dict.fromkeys(writes, 403)
    batch = s3.delete_objects(Bucket=web, Delete={"Objects": [{"Key": key}]})
    assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]
    # Reads and bucket-level calls are not the policy's business.
    assert s3.list_objects_v2(Bucket=web).get("KeyCount") == 0
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=web, Key=key)
    # A bucket-level write (the tags Terraform set, written back unchanged) goes through.
    tags = s3.get_bucket_tagging(Bucket=web)["TagSet"]
    s3.put_bucket_tagging(Bucket=web, Tagging={"TagSet": tags})


# --- event wiring -------------------------------------------------------------------------


def test_uploads_bucket_notifies_the_queue_of_every_created_and_removed_object(
    stack: dict[str, Any], s3: S3Client
) -> None:
    config = s3.get_bucket_notification_configuration(Bucket=stack["uploads_bucket_name"])
    [queue_config] = config["QueueConfigurations"]
    assert queue_config["QueueArn"] == stack["queue_arn"]
    assert sorted(queue_config["Events"]) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    # No suffix filter: ".JPG", ".jpeg" and content that lies about its name must all arrive.
    assert "Filter" not in queue_config
    assert not config.get("LambdaFunctionConfigurations")
    assert not config.get("TopicConfigurations")


def receive_events_for(
    sqs: SQSClient, queue_url: str, key: str, count: int
) -> list[dict[str, Any]]:
    """The S3 event records about ``key`` (decoded once, docs/design.md "Pipeline: keys"), deleting
    the messages
    that carried them; other messages stay in the queue."""
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(records) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=2
        ).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            mine = [
                r for r in body.get("Records", []) if unquote_plus(r["s3"]["object"]["key"]) == key
            ]
            if mine:
                records.extend(mine)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return records


def test_upload_and_delete_in_bucket_a_arrive_in_the_queue_as_real_events(
    stack: dict[str, Any], s3: S3Client, sqs: SQSClient
) -> None:
    # A space (sent as "+") and an upper-case suffix: the handler must see both.
    key = f"events/{uuid.uuid4().hex} Holiday Photo.JPG"
    s3.put_object(Bucket=stack["uploads_bucket_name"], Key=key, Body=b"any bytes")
    # A plain delete, as a user makes it: on a versioned bucket it leaves a delete marker,
    # announced as ObjectRemoved:DeleteMarkerCreated (moto itself sends nothing for it;
    # tools/embedded_aws/moto_server.py sends what S3 sends).
    s3.delete_object(Bucket=stack["uploads_bucket_name"], Key=key)

    records = receive_events_for(sqs, stack["queue_url"], key, count=2)

    names = sorted(record["eventName"] for record in records)
    assert names == ["ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated"], records
    assert all(r["s3"]["bucket"]["name"] == stack["uploads_bucket_name"] for r in records)


def test_queue_moves_repeated_failures_to_the_dead_letter_queue(
    stack: dict[str, Any], sqs: SQSClient
) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=stack["queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack["dlq_arn"],
        "maxReceiveCount": 5,
    }
    # 6 x the function's 60 s timeout (+ 0 s batching window), per AWS guidance.
    assert attributes["VisibilityTimeout"] == "360"
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)


def test_both_queues_are_encrypted_at_rest(stack: dict[str, Any], sqs: SQSClient) -> None:
    dlq_url = sqs.get_queue_url(QueueName=stack["dlq_name"])["QueueUrl"]
    for url in (stack["queue_url"], dlq_url):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true", url
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_queue_admits_only_bucket_a_notifications_of_this_account(
    stack: dict[str, Any], sqs: SQSClient
) -> None:
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=stack["queue_url"], AttributeNames=["Policy"])[
            "Attributes"
        ]["Policy"]
    )
    assert policy == load_policy(
        "exif-lambda",
        "queue-allow-s3",
        queue_arn=stack["queue_arn"],
        uploads_bucket_arn=bucket_arn(stack["uploads_bucket_name"]),
        account_id="123456789012",
    )
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == bucket_arn(
        stack["uploads_bucket_name"]
    )
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_event_source_mapping_reports_partial_batch_failures(
    stack: dict[str, Any], lambda_client: LambdaClient
) -> None:
    mapping = lambda_client.get_event_source_mapping(UUID=stack["event_source_mapping_uuid"])
    assert mapping["EventSourceArn"] == stack["queue_arn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    # The test stack sets enabled = false: moto would otherwise try to run the image.
    assert mapping["State"] == "Disabled"


# --- function and role ----------------------------------------------------------------------


def test_function_runs_the_image_with_the_documented_settings(
    stack: dict[str, Any], lambda_client: LambdaClient
) -> None:
    function = lambda_client.get_function(FunctionName=stack["function_name"])
    config = function["Configuration"]
    assert config["PackageType"] == "Image"
    assert function["Code"]["ImageUri"].endswith("/exif-test-processor:integration-test")
    assert config["Architectures"] == ["x86_64"]
    assert config["MemorySize"] == 1024
    assert config["Timeout"] == 60
    assert config["Role"].endswith(f":role/{stack['role_name']}")
    assert config["Environment"]["Variables"] == {
        "UPLOADS_BUCKET": stack["uploads_bucket_name"],
        "WEB_BUCKET": stack["web_bucket_name"],
        "ORIENTATION_POLICY": "apply",
        "MAX_BYTES": "536870912",  # 512 MiB, the README's limit
        "DAMAGED_POLICY": "reencode",
        "BATCH_THREADS": "10",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "exif-stripper",
        "POWERTOOLS_METRICS_NAMESPACE": "ExifStripper",
    }
    concurrency = lambda_client.get_function_concurrency(FunctionName=stack["function_name"])
    assert concurrency["ReservedConcurrentExecutions"] == 10


def test_function_logs_go_to_a_log_group_with_retention(
    stack: dict[str, Any], logs: CloudWatchLogsClient, planned: dict[str, dict[str, Any]]
) -> None:
    [group] = logs.describe_log_groups(logGroupNamePrefix=stack["log_group_name"])["logGroups"]
    assert group["logGroupName"] == stack["log_group_name"]
    assert group["retentionInDays"] == 30
    # moto ignores a function's LoggingConfig, so check what Terraform sends instead.
    function = planned["module.exif_lambda.aws_lambda_function.this"]
    [logging_config] = function["logging_config"]
    assert logging_config["log_group"] == stack["log_group_name"]
    assert logging_config["log_format"] == "JSON"


def test_role_may_do_what_the_design_allows_and_nothing_else(
    stack: dict[str, Any], iam: IAMClient
) -> None:
    role = stack["role_name"]
    trust = as_document(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    [trust_statement] = trust["Statement"]
    assert trust_statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust_statement["Action"] == "sts:AssumeRole"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]  # no KMS policy: SSE-S3
    document = as_document(
        iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    )

    a, b = bucket_arn(stack["uploads_bucket_name"]), bucket_arn(stack["web_bucket_name"])
    log_group = f"arn:aws:logs:us-east-1:123456789012:log-group:{stack['log_group_name']}"
    assert allowed_pairs(document) == {
        # read objects of A; listing A turns a vanished key into 404 instead of 403
        ("s3:GetObject", f"{a}/*"),
        ("s3:ListBucket", a),
        # write and delete objects of B, and abort a multipart upload that failed partway
        ("s3:PutObject", f"{b}/*"),
        ("s3:DeleteObject", f"{b}/*"),
        ("s3:AbortMultipartUpload", f"{b}/*"),
        ("s3:ListBucketMultipartUploads", b),  # the uploads a killed attempt left open
        # consume its queue
        ("sqs:ReceiveMessage", stack["queue_arn"]),
        ("sqs:DeleteMessage", stack["queue_arn"]),
        ("sqs:GetQueueAttributes", stack["queue_arn"]),
        ("sqs:ChangeMessageVisibility", stack["queue_arn"]),
        # write its logs
        ("logs:CreateLogStream", f"{log_group}:*"),
        ("logs:PutLogEvents", f"{log_group}:*"),
    }
    assert document == load_policy(
        "exif-lambda",
        "lambda-execution",
        uploads_bucket_arn=a,
        web_bucket_arn=b,
        queue_arn=stack["queue_arn"],
        log_group_arn=log_group,
    )


# --- users and groups -----------------------------------------------------------------------


def test_users_get_permissions_only_through_their_group(
    stack: dict[str, Any], iam: IAMClient
) -> None:
    for user, group in (
        (stack["user_a"], stack["groups"]["uploads"]),
        (stack["user_b"], stack["groups"]["web"]),
    ):
        assert iam.list_user_policies(UserName=user)["PolicyNames"] == [], user
        assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [], user
        assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [
            group
        ]
        # No access keys from Terraform by default (create_access_keys = false).
        assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == [], user


def group_document(iam: IAMClient, group: str) -> dict[str, Any]:
    [name] = iam.list_group_policies(GroupName=group)["PolicyNames"]  # no KMS policy: SSE-S3
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == []
    return as_document(iam.get_group_policy(GroupName=group, PolicyName=name)["PolicyDocument"])


def test_uploads_group_may_list_and_read_write_bucket_a_multipart_included(
    stack: dict[str, Any], iam: IAMClient
) -> None:
    a = bucket_arn(stack["uploads_bucket_name"])
    document = group_document(iam, stack["groups"]["uploads"])
    assert allowed_pairs(document) == {
        ("s3:ListBucket", a),
        ("s3:ListBucketMultipartUploads", a),
        ("s3:GetObject", f"{a}/*"),
        ("s3:PutObject", f"{a}/*"),
        ("s3:DeleteObject", f"{a}/*"),
        ("s3:AbortMultipartUpload", f"{a}/*"),
        ("s3:ListMultipartUploadParts", f"{a}/*"),
    }
    assert document == load_policy("iam-users", "uploads-read-write", bucket_arn=a)


def test_web_group_may_list_and_read_bucket_b_only(stack: dict[str, Any], iam: IAMClient) -> None:
    b = bucket_arn(stack["web_bucket_name"])
    document = group_document(iam, stack["groups"]["web"])
    assert allowed_pairs(document) == {("s3:ListBucket", b), ("s3:GetObject", f"{b}/*")}
    assert document == load_policy("iam-users", "web-read-only", bucket_arn=b)


# The permission matrix (docs/design.md "Access": User A, User B and the function's role against
# both
# buckets, tried for real under IAM enforcement) runs in test_pipeline.py, on this same
# composition, through tools/embedded_aws/access.py, which `make demo` prints too.


# --- alarms, registry, tags ------------------------------------------------------------------


def test_alarms_watch_queue_age_failed_and_rejected_records_and_the_function(
    stack: dict[str, Any], cloudwatch: CloudWatchClient
) -> None:
    names = stack["alarm_names"]
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNames=list(names.values()))["MetricAlarms"]
    }
    # purpose: namespace, metric, dimension, statistic, period, evaluation periods, threshold
    queue = stack["queue_url"].rsplit("/", 1)[1]
    service = ("service", "exif-stripper")  # the function's own metrics (EMF, Powertools)
    expected = {
        "dlq_not_empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            ("QueueName", stack["dlq_name"]),
            ("Maximum", 60, 1, 0),
        ),
        "queue_age": (
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            ("QueueName", queue),
            ("Maximum", 60, 5, 300),
        ),
        "records_failed": ("ExifStripper", "Errors", service, ("Sum", 300, 1, 0)),
        "objects_rejected": ("ExifStripper", "ObjectsRejected", service, ("Sum", 300, 1, 0)),
        "errors": (
            "AWS/Lambda",
            "Errors",
            ("FunctionName", stack["function_name"]),
            ("Sum", 300, 1, 0),
        ),
        "throttles": (
            "AWS/Lambda",
            "Throttles",
            ("FunctionName", stack["function_name"]),
            ("Sum", 300, 1, 0),
        ),
    }
    assert set(names) == set(expected)
    for purpose, (namespace, metric, (dimension, value), evaluation) in expected.items():
        alarm = alarms[names[purpose]]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), purpose
        assert alarm["Dimensions"] == [{"Name": dimension, "Value": value}], purpose
        statistic, period, periods, threshold = evaluation
        assert (alarm["Statistic"], alarm["Period"]) == (statistic, period), purpose
        assert (alarm["EvaluationPeriods"], alarm["Threshold"]) == (periods, threshold), purpose
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", purpose
        assert alarm["TreatMissingData"] == "notBreaching", purpose
        assert alarm["AlarmActions"] == [], purpose  # no SNS topic given


def test_image_repository_is_immutable_scanned_and_pruned(
    stack: dict[str, Any], ecr: ECRClient
) -> None:
    [repository] = ecr.describe_repositories(repositoryNames=[stack["repository_name"]])[
        "repositories"
    ]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    lifecycle = ecr.get_lifecycle_policy(repositoryName=stack["repository_name"])
    assert json.loads(lifecycle["lifecyclePolicyText"]) == load_policy(
        "ecr", "lifecycle-policy", image_retention_count=20
    )


def test_tags_reach_every_taggable_resource(
    stack: dict[str, Any],
    s3: S3Client,
    sqs: SQSClient,
    iam: IAMClient,
    lambda_client: LambdaClient,
    logs: CloudWatchLogsClient,
    cloudwatch: CloudWatchClient,
    ecr: ECRClient,
    planned: dict[str, dict[str, Any]],
) -> None:
    def as_dict(tags: list[Any], key: str = "Key", value: str = "Value") -> dict[str, str]:
        return {t[key]: t[value] for t in tags}

    function_arn = lambda_client.get_function(FunctionName=stack["function_name"])["Configuration"][
        "FunctionArn"
    ]
    dlq_url = sqs.get_queue_url(QueueName=stack["dlq_name"])["QueueUrl"]
    found = {
        **{
            f"bucket {b}": as_dict(s3.get_bucket_tagging(Bucket=b)["TagSet"])
            for b in all_buckets(stack)
        },
        **{
            f"queue {u}": sqs.list_queue_tags(QueueUrl=u)["Tags"]
            for u in (stack["queue_url"], dlq_url)
        },
        **{
            f"user {u}": as_dict(iam.list_user_tags(UserName=u)["Tags"])
            for u in (stack["user_a"], stack["user_b"])
        },
        "role": as_dict(iam.list_role_tags(RoleName=stack["role_name"])["Tags"]),
        "function": lambda_client.list_tags(Resource=function_arn)["Tags"],
        "log group": logs.list_tags_log_group(logGroupName=stack["log_group_name"])["tags"],
        **{
            f"alarm {name}": as_dict(
                cloudwatch.list_tags_for_resource(
                    ResourceARN=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
                )["Tags"]
            )
            for name in stack["alarm_names"].values()
        },
        "repository": as_dict(
            ecr.list_tags_for_resource(
                resourceArn=ecr.describe_repositories(repositoryNames=[stack["repository_name"]])[
                    "repositories"
                ][0]["repositoryArn"]
            )["tags"]
        ),
    }
    # moto does not keep tags of event source mappings: check what Terraform sends.
    mapping = planned["module.exif_lambda.aws_lambda_event_source_mapping.this"]
    found["event source mapping"] = mapping["tags"]
    missing = {name: tags for name, tags in found.items() if not STACK_TAGS.items() <= tags.items()}
    assert missing == {}
