# The exif-lambda unit, defined once for every environment: live/<env>/exif-lambda/terragrunt.hcl includes
# this file and root.hcl, nothing else. Terragrunt evaluates it for the including unit, so
# find_in_parent_folders() finds that environment's env.hcl and get_terragrunt_dir() is
# live/<env>/exif-lambda; what differs between environments comes from env.hcl alone.
#
# The processor (modules/exif-lambda): the uploads bucket's object events go to a queue, the function
# (a container image from the ecr unit) writes web-safe copies to the web bucket; a dead-letter
# queue and alarms catch what keeps failing.

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals

  # The image to deploy comes from CI (.github/workflows/deploy.yml) or the toolbox, always by
  # digest: EXIF_IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>
  image_uri_from_ci = get_env("EXIF_IMAGE_URI", "")
  # Without it, validate and plan run with this digest, which no image has (all zeros);
  # apply refuses it (before_hook below).
  placeholder_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
  image_uri_is_deployable = (
    can(regex("@sha256:[0-9a-f]{64}$", local.image_uri_from_ci))
    && !can(regex("@sha256:0{64}$", local.image_uri_from_ci))
  )
}

terraform {
  source = "${dirname(find_in_parent_folders("root.hcl"))}/../modules//exif-lambda"

  # Fail loudly instead of deploying a function whose image does not exist: without a real
  # image by digest, apply stops here, before it changes anything in this unit. plan,
  # validate and destroy do not need one.
  before_hook "require_image_by_digest" {
    commands = ["apply"]
    execute  = ["sh", "-c", "echo 'exif-lambda: set EXIF_IMAGE_URI to the image to deploy, by digest: <repository_url>@sha256:<64 hex digits>' >&2; exit 1"]
    if       = !local.image_uri_is_deployable
  }
}

dependency "ecr" {
  config_path = "${get_terragrunt_dir()}/../ecr"

  # Only until the repository exists (the first plan of an environment). The URL is the one
  # the repository will have, so the placeholder image_uri passes the module's validation.
  mock_outputs = {
    repository_url = "${local.env.account_id}.dkr.ecr.${local.env.region}.amazonaws.com/${local.env.ecr_name_prefix}-processor"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan", "init"]
}

dependency "buckets" {
  config_path = "${get_terragrunt_dir()}/../buckets"

  # Only until the buckets exist (the first plan of an environment); apply always reads
  # the real outputs. The ARNs must pass the module's validation, hence a valid form.
  mock_outputs = {
    uploads_bucket_name = "${local.env.name_prefix}-uploads-mock"
    uploads_bucket_arn  = "arn:aws:s3:::${local.env.name_prefix}-uploads-mock"
    web_bucket_name     = "${local.env.name_prefix}-web-mock"
    web_bucket_arn      = "arn:aws:s3:::${local.env.name_prefix}-web-mock"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan", "init"]
}

inputs = {
  name_prefix = local.env.name_prefix
  image_uri   = get_env("EXIF_IMAGE_URI", "${dependency.ecr.outputs.repository_url}@${local.placeholder_digest}")

  uploads_bucket_name = dependency.buckets.outputs.uploads_bucket_name
  uploads_bucket_arn  = dependency.buckets.outputs.uploads_bucket_arn
  web_bucket_name     = dependency.buckets.outputs.web_bucket_name
  web_bucket_arn      = dependency.buckets.outputs.web_bucket_arn
  kms_key_arn         = local.env.kms_key_arn

  architecture                   = local.env.lambda_architecture
  memory_size                    = local.env.lambda_memory_size
  timeout                        = local.env.lambda_timeout
  reserved_concurrent_executions = local.env.lambda_reserved_concurrency
  maximum_concurrency            = local.env.queue_maximum_concurrency
  enabled                        = local.env.processing_enabled
  batch_threads                  = local.env.lambda_batch_threads

  batch_size                         = local.env.queue_batch_size
  maximum_batching_window_in_seconds = local.env.queue_batching_window_seconds

  log_retention_days  = local.env.log_retention_days
  alarm_sns_topic_arn = local.env.alarm_sns_topic_arn
}
