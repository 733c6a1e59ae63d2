# The prod environment: every value in which the environments differ, and the only place in
# live/ for account numbers and ARNs (tests/unit/test_live.py checks both). root.hcl and the
# units read these locals with read_terragrunt_config(find_in_parent_folders("env.hcl")).
#
# Production differs from dev where it matters: SSE-KMS with a customer-managed key, longer
# log and object-version retention, alarm notifications, reserved concurrency, more memory,
# and nothing that holds data can be destroyed while it still holds it.
locals {
  environment = "prod"

  # REPLACE: the AWS account of this environment; "222222222222" is a placeholder. The
  # generated provider refuses any other account (allowed_account_ids).
  account_id = "222222222222"
  region     = "eu-west-1"

  # Terraform state: one bucket per environment. `terragrunt backend bootstrap --all` in
  # live/prod creates it (versioned, encrypted, TLS only); locking uses a lock file next to
  # the state (use_lockfile), no DynamoDB table.
  state_bucket = "exif-stripper-tfstate-${local.account_id}-${local.region}"

  # Names. name_prefix starts the bucket names (<prefix>-uploads-<suffix>, <prefix>-web-<suffix>),
  # the IAM users and groups, and the function, its queues, role, log group and alarms.
  name_prefix = "exif-stripper-prod"
  # The image repository is "<ecr_name_prefix>-processor", one name in every account (deploy.yml
  # promotes an image by copying it between them): the GitHub variable ECR_REPOSITORY holds it.
  ecr_name_prefix = "exif-stripper"

  # REPLACE: an existing customer-managed KMS key of this account (the all-zero key id is a
  # placeholder). It encrypts both buckets (SSE-KMS with S3 Bucket Keys) and both queues;
  # User A, User B and the function get exactly the key actions their access needs. The key
  # is not created here: a key outlives any stack that uses it (deleting one destroys the data
  # it encrypts), so it belongs to the account's baseline. Its key policy must allow
  # s3.amazonaws.com kms:GenerateDataKey and kms:Decrypt, or S3 cannot send events to the
  # encrypted queue (modules/exif-lambda/README.md).
  kms_key_arn = "arn:aws:kms:${local.region}:${local.account_id}:key/00000000-0000-0000-0000-000000000000"

  # The function. lambda_architecture must match IMAGE_PLATFORM in .github/workflows/deploy.yml
  # (linux/arm64 -> "arm64", linux/amd64 -> "x86_64").
  lambda_architecture = "arm64"
  lambda_memory_size  = 2048 # MB; more memory is more CPU for rotations (1769 MB = 1 vCPU)
  lambda_timeout      = 120  # seconds
  # Sized in docs/capacity.md from what `make bench` measures per photo. 2048 MB above is the
  # pixel budget for turning a 200 MP photo, and 1.16 vCPU: as much as one Python process uses.
  # Records of a batch processed at once (the function's BATCH_THREADS): the CPU is full from
  # about 6, and 10 is one wave for a batch of 10.
  lambda_batch_threads = 10
  # Records per invocation, and how long the queue may wait to fill a batch (seconds): in a
  # burst batches fill anyway, and a window would only delay the quiet hours.
  queue_batch_size              = 10
  queue_batching_window_seconds = 0
  # A burst of 1,000 photos/s of 3.7 MB needs 39 instances at 26 photos/s each; 60 absorb it
  # with no message older than about 15 s while the queue's pollers ramp up (docs/capacity.md,
  # section 3). Reserved as much as the queue drives, so nothing is throttled, and capped
  # there, so a burst cannot starve the account's other functions. AWS keeps 100 unreserved,
  # so the account's concurrency quota must be at least 160: README, "Operating it".
  lambda_reserved_concurrency = 60
  queue_maximum_concurrency   = 60
  # false pauses processing: events wait in the queue (docs/design.md
  # "Pipeline: events and the queue") until it is true again.
  processing_enabled = true

  # Retention
  log_retention_days                 = 365
  noncurrent_version_expiration_days = 90
  ecr_image_retention_count          = 30

  # A role that may write to the web bucket besides the function, for repairs with
  # `exif-stripper sync` and incidents (docs/design.md "Access: writes to the web bucket"); null:
  # none. Set it to an existing role of
  # this account (arn:aws:iam::<account>:role/<name>) before you need it: the web bucket's policy
  # refuses object writes from every other principal, administrators included.
  break_glass_role_arn = null

  # REPLACE: an existing SNS topic of this account that reaches whoever is on call (the topic
  # name is a placeholder). The dead-letter-queue, error and throttle alarms notify it.
  alarm_sns_topic_arn = "arn:aws:sns:${local.region}:${local.account_id}:exif-stripper-alarms"

  # Buckets and the image repository cannot be destroyed while they hold data.
  disposable = false
}
