# Terragrunt's root configuration (Terragrunt 1.x), included by every unit as
# `include "root" { path = find_in_parent_folders("root.hcl") }`: where the state lives, the
# AWS provider and the version constraints. What differs between environments comes from the
# env.hcl of the unit's environment (live/dev/env.hcl, live/prod/env.hcl).

locals {
  # Evaluated for the including unit, so this finds live/<env>/env.hcl.
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

# ------------------------------------------------------------------------------------------
# State: one S3 bucket per environment, one key per unit ("dev/buckets/terraform.tfstate"),
# locked with a lock file next to the state (S3 conditional writes; no DynamoDB table).
# ------------------------------------------------------------------------------------------
remote_state {
  backend = "s3"
  config = {
    bucket       = local.env.state_bucket
    key          = "${path_relative_to_include()}/terraform.tfstate"
    region       = local.env.region
    encrypt      = true
    use_lockfile = true
  }
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
}

# ------------------------------------------------------------------------------------------
# Provider: the environment's region and account only, and tags on every resource.
# ------------------------------------------------------------------------------------------
generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOF
    provider "aws" {
      region = "${local.env.region}"

      # A plan or apply with credentials of any other account fails before it changes anything.
      allowed_account_ids = ["${local.env.account_id}"]

      default_tags {
        tags = {
          Project     = "exif-stripper"
          Environment = "${local.env.environment}"
          ManagedBy   = "terragrunt"
        }
      }
    }
  EOF
}

# ------------------------------------------------------------------------------------------
# Versions: the modules' own constraint on the AWS provider, and the Terraform release that
# S3 lock files (use_lockfile) need. An override file, because Terraform refuses a second
# required_providers block in a module ("Duplicate required providers configuration") and
# every module already has one in versions.tf; tests/unit/test_live.py keeps the two equal.
# ------------------------------------------------------------------------------------------
generate "versions" {
  path      = "versions_override.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOF
    terraform {
      required_version = ">= 1.11"

      required_providers {
        aws = {
          source  = "hashicorp/aws"
          version = ">= 5.100, < 7"
        }
      }
    }
  EOF
}
