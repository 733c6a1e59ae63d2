# The processor over its bucket pair, with every input of the exif-lambda module set.

provider "aws" {
  region = var.region
}

locals {
  tags = {
    Project = "exif-stripper"
    Example = "exif-lambda/complete"
  }
}

module "buckets" {
  source = "../../../buckets"

  name_prefix = var.name_prefix
  # The exif-lambda module's execution role for the same name_prefix.
  writer_role_name                       = "${var.name_prefix}-execution"
  break_glass_role_arn                   = var.break_glass_role_arn
  restrict_web_writes                    = true
  kms_key_arn                            = var.kms_key_arn
  deny_insecure_transport                = true
  noncurrent_version_expiration_days     = 30
  abort_incomplete_multipart_upload_days = 7
  access_log_bucket                      = var.access_log_bucket
  access_log_prefix                      = "s3-access-logs/"
  force_destroy                          = true # an example: destroy takes the objects along
  tags                                   = local.tags
}

module "exif_lambda" {
  source = "../.."

  name_prefix         = var.name_prefix
  image_uri           = var.image_uri
  uploads_bucket_name = module.buckets.uploads_bucket_name
  uploads_bucket_arn  = module.buckets.uploads_bucket_arn
  web_bucket_name     = module.buckets.web_bucket_name
  web_bucket_arn      = module.buckets.web_bucket_arn
  kms_key_arn         = module.buckets.kms_key_arn

  architecture                   = "arm64"
  memory_size                    = 1024
  timeout                        = 60
  reserved_concurrent_executions = 10
  orientation_policy             = "apply"
  max_bytes                      = 536870912
  damaged_policy                 = "reencode"
  batch_threads                  = 10
  log_level                      = "INFO"
  powertools_service_name        = "exif-stripper"
  powertools_metrics_namespace   = "ExifStripper"

  enabled                            = true
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
  maximum_concurrency                = 5
  max_receive_count                  = 5
  message_retention_seconds          = 345600
  dlq_message_retention_seconds      = 1209600

  log_retention_days       = 30
  log_group_kms_key_arn    = null
  queue_age_alarm_seconds  = 300
  rejected_alarm_threshold = 0
  alarm_sns_topic_arn      = var.alarm_sns_topic_arn
  tags                     = local.tags
}
