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
  bucket_prefix                      = local.env.name_prefix
  kms_key_arn                        = local.env.kms_key_arn
  noncurrent_version_expiration_days = local.env.noncurrent_version_expiration_days
  force_destroy                      = local.env.disposable
}
