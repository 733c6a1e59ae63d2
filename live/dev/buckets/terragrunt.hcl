# Bucket A (uploads) and bucket B (web-safe copies) (modules/buckets).

include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "../../../modules//buckets"
}

inputs = {
  name_prefix = local.env.name_prefix
  # Bucket B takes writes from the function's execution role (the exif-lambda module names it
  # "<name_prefix>-execution") and the break-glass role only.
  writer_role_name                   = "${local.env.name_prefix}-execution"
  break_glass_role_arn               = local.env.break_glass_role_arn
  kms_key_arn                        = local.env.kms_key_arn
  noncurrent_version_expiration_days = local.env.noncurrent_version_expiration_days
  force_destroy                      = local.env.disposable
}
