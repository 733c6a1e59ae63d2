# The iam-users unit, defined once for every environment: live/<env>/iam-users/terragrunt.hcl includes
# this file and root.hcl, nothing else. Terragrunt evaluates it for the including unit, so
# find_in_parent_folders() finds that environment's env.hcl and get_terragrunt_dir() is
# live/<env>/iam-users; what differs between environments comes from env.hcl alone.
#
# User A (read-write on the uploads bucket) and User B (read-only on the web bucket), with their groups
# (modules/iam-users).

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${dirname(find_in_parent_folders("root.hcl"))}/../modules//iam-users"
}

dependency "buckets" {
  config_path = "${get_terragrunt_dir()}/../buckets"

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
