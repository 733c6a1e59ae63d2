# The dev environment: every value in which the environments differ, and the only place in
# live/ for account numbers and ARNs (tests/unit/test_live.py checks both). root.hcl and the
# units read these locals with read_terragrunt_config(find_in_parent_folders("env.hcl")).
#
# Development is cheap and disposable: SSE-S3 instead of a KMS key, short retention, no
# reserved concurrency, no alarm notifications, and `terragrunt run --all destroy` may delete
# buckets and images together with their contents.
locals {
  environment = "dev"

  # REPLACE: the AWS account of this environment; "111111111111" is a placeholder. The
  # generated provider refuses any other account (allowed_account_ids).
  account_id = "111111111111"
  region     = "eu-west-1"

  # Terraform state: one bucket per environment. `terragrunt backend bootstrap --all` in
  # live/dev creates it (versioned, encrypted, TLS only); locking uses a lock file next to
  # the state (use_lockfile), no DynamoDB table.
  state_bucket = "exif-stripper-tfstate-${local.account_id}-${local.region}"

  # Names. name_prefix starts the bucket names (<prefix>-uploads-<suffix>, <prefix>-web-<suffix>),
  # the IAM users and groups, and the function, its queues, role, log group and alarms.
  name_prefix = "exif-stripper-dev"
  # The image repository is "<ecr_name_prefix>-processor", one name in every account (deploy.yml
  # promotes an image by copying it between them): the GitHub variable ECR_REPOSITORY holds it.
  ecr_name_prefix = "exif-stripper"

  # Encryption at rest: null keeps SSE-S3 on the buckets and SQS-managed SSE on the queues.
  kms_key_arn = null

  # The function. lambda_architecture must match IMAGE_PLATFORM in .github/workflows/deploy.yml
  # (linux/arm64 -> "arm64", linux/amd64 -> "x86_64").
  lambda_architecture = "arm64"
  lambda_memory_size  = 1024 # MB; rotating a large photo decodes its pixels
  lambda_timeout      = 60   # seconds
  # Records of a batch processed at once (the function's BATCH_THREADS), records per
  # invocation, and how long the queue may wait to fill a batch: docs/capacity.md.
  lambda_batch_threads          = 10
  queue_batch_size              = 10
  queue_batching_window_seconds = 0
  # -1: no reservation; the function shares the account's unreserved concurrency.
  lambda_reserved_concurrency = -1
  # Most concurrent invocations the queue drives (2 is the smallest SQS allows).
  queue_maximum_concurrency = 2
  # false pauses processing: events wait in the queue (docs/design.md
  # "Pipeline: events and the queue") until it is true again.
  processing_enabled = true

  # Retention
  log_retention_days                 = 7
  noncurrent_version_expiration_days = 7
  ecr_image_retention_count          = 10

  # A role that may write to the web bucket besides the function (repairs with `exif-stripper sync`);
  # null: none.
  break_glass_role_arn = null

  # Alarms: null creates them without notifications.
  alarm_sns_topic_arn = null

  # Lets destroy delete non-empty buckets and the repository with its images.
  disposable = true
}
