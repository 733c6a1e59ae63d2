# User A and User B with their groups, over the bucket pair they use, with every input of
# the iam-users module set.

provider "aws" {
  region = var.region
}

locals {
  tags = {
    Project = "exif-stripper"
    Example = "iam-users/complete"
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

module "iam_users" {
  source = "../.."

  name_prefix        = var.name_prefix
  uploads_bucket_arn = module.buckets.uploads_bucket_arn
  web_bucket_arn     = module.buckets.web_bucket_arn
  kms_key_arn        = module.buckets.kms_key_arn
  path               = "/exif-stripper/"
  # Keys only with a PGP key, so the secret is stored and output encrypted.
  create_access_keys = var.pgp_key != null
  pgp_key            = var.pgp_key
  force_destroy      = true # an example: destroy takes the users' keys along
  tags               = local.tags
}
