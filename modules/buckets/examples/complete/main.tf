# The uploads and web buckets with every input set: SSE-KMS when a key is given, the TLS-only
# and web-write policies, version expiry and access logs.

provider "aws" {
  region = var.region
}

locals {
  tags = {
    Project = "exif-stripper"
    Example = "buckets/complete"
  }
}

module "buckets" {
  source = "../.."

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
