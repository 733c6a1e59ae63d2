# The buckets unit, defined once for every environment: live/<env>/buckets/terragrunt.hcl includes
# this file and root.hcl, nothing else. Terragrunt evaluates it for the including unit, so
# find_in_parent_folders() finds that environment's env.hcl and get_terragrunt_dir() is
# live/<env>/buckets; what differs between environments comes from env.hcl alone.
#
# Bucket A (uploads) and bucket B (web-safe copies) (modules/buckets).

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${dirname(find_in_parent_folders("root.hcl"))}/../modules//buckets"
}

inputs = {
  name_prefix = local.env.name_prefix
  # The web bucket takes writes from the function's execution role (the exif-lambda module names it
  # "<name_prefix>-execution") and the break-glass role only.
  writer_role_name                   = "${local.env.name_prefix}-execution"
  break_glass_role_arn               = local.env.break_glass_role_arn
  kms_key_arn                        = local.env.kms_key_arn
  noncurrent_version_expiration_days = local.env.noncurrent_version_expiration_days
  force_destroy                      = local.env.disposable
}
