# User A (read-write on bucket A) and User B (read-only on bucket B), with their groups
# (modules/iam-users).

include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "../../../modules//iam-users"
}

dependency "buckets" {
  config_path = "../buckets"

  # Only until the buckets exist (the first plan of an environment); apply always reads
  # the real outputs. The ARNs must pass the module's validation, hence a valid form.
  mock_outputs = {
    uploads_bucket_arn = "arn:aws:s3:::${local.env.name_prefix}-uploads-mock"
    web_bucket_arn     = "arn:aws:s3:::${local.env.name_prefix}-web-mock"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan", "init"]
}

inputs = {
  name_prefix        = local.env.name_prefix
  uploads_bucket_arn = dependency.buckets.outputs.uploads_bucket_arn
  web_bucket_arn     = dependency.buckets.outputs.web_bucket_arn
  kms_key_arn        = local.env.kms_key_arn
  # Keys made by hand or by the smoke test must not stop a disposable environment's destroy.
  force_destroy = local.env.disposable
}
