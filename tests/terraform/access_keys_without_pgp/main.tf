# A plan-only fixture: asking iam-users for access keys without a PGP key must fail the
# plan (the secret would otherwise sit in the state in plain text). Nothing is applied, so
# the provider needs no endpoint and makes no request.

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "plan-only" # not a credential: nothing is applied
  secret_key                  = "plan-only"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}

module "iam_users" {
  source = "../../../modules/iam-users"

  name_prefix        = "plan-only"
  uploads_bucket_arn = "arn:aws:s3:::plan-only-uploads"
  web_bucket_arn     = "arn:aws:s3:::plan-only-web"
  create_access_keys = true
}
