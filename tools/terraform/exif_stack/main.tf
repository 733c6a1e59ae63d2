# A disposable copy of the whole system, applied to the embedded AWS (moto) by the
# integration tests. It composes the real modules with production defaults, except where
# a comment says why the emulator needs otherwise.
#
# It calls the modules themselves, wired to each other exactly as their examples
# (modules/<name>/examples/complete) wire them; tests/unit/test_examples.py checks that. It
# cannot call the examples: each is a root module with its own AWS provider, and a module
# with a provider configuration of its own cannot be given this stack's (the emulator's
# endpoints), nor be applied twice, as the bucket pairs below are.

provider "aws" {
  region = var.region

  # Credentials come from the environment the harness sets (moto accepts any).
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true # 127.0.0.1 has no per-bucket host names

  endpoints {
    cloudwatch = var.aws_endpoint
    ecr        = var.aws_endpoint
    iam        = var.aws_endpoint
    kms        = var.aws_endpoint
    lambda     = var.aws_endpoint
    logs       = var.aws_endpoint
    s3         = var.aws_endpoint
    sns        = var.aws_endpoint
    sqs        = var.aws_endpoint
    sts        = var.aws_endpoint
  }
}

locals {
  tags = {
    Project = "exif-stripper"
    Stack   = "integration-test"
  }

  # The exif-lambda module names its execution role "<name_prefix>-execution"; the buckets take
  # the name (the tests check that it is the role the function really runs as).
  writer_role_name = "${var.name_prefix}-execution"
  # A break-glass role only needs to be named in the web bucket's policy; nothing assumes it here.
  break_glass_role_arn = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${var.name_prefix}-break-glass"
}

data "aws_caller_identity" "current" {}

################################################################################
# The system under test
################################################################################

module "ecr" {
  source = "../../../modules/ecr"

  name_prefix  = var.name_prefix
  force_delete = true # disposable
  tags         = local.tags
}

module "buckets" {
  source = "../../../modules/buckets"

  name_prefix      = var.name_prefix
  writer_role_name = local.writer_role_name
  force_destroy    = true # disposable
  # moto treats every IAM condition as true, so the TLS-only policy (Deny when
  # aws:SecureTransport is false) would deny every object request, even over TLS, and bucket
  # B's write policy (Deny unless aws:PrincipalArn is the function's role) would deny the
  # function too. Both policies are applied and checked on the pairs below.
  deny_insecure_transport = false
  restrict_web_writes     = false
  tags                    = local.tags
}

module "iam_users" {
  source = "../../../modules/iam-users"

  name_prefix        = var.name_prefix
  uploads_bucket_arn = module.buckets.uploads_bucket_arn
  web_bucket_arn     = module.buckets.web_bucket_arn
  kms_key_arn        = module.buckets.kms_key_arn # null: this pair uses SSE-S3
  # Not force_destroy, though the stack is disposable: the provider's clean-up of a user
  # calls ListServiceSpecificCredentials, which moto answers with a 500, and retries it for
  # minutes. The tests delete the keys they make instead (tests/unit/test_live.py checks the
  # module and live/ wiring of force_destroy).
  tags = local.tags
}

module "exif_lambda" {
  source = "../../../modules/exif-lambda"

  name_prefix = var.name_prefix
  # moto does not pull or run the image, so a tag that was never pushed is enough.
  image_uri           = "${module.ecr.repository_url}:integration-test"
  uploads_bucket_name = module.buckets.uploads_bucket_name
  uploads_bucket_arn  = module.buckets.uploads_bucket_arn
  web_bucket_name     = module.buckets.web_bucket_name
  web_bucket_arn      = module.buckets.web_bucket_arn
  kms_key_arn         = module.buckets.kms_key_arn
  # moto would try to run the function (it needs Docker for that) for every message of an
  # enabled mapping and swallow the messages; the tests read the real events instead.
  enabled = false
  tags    = local.tags
}

################################################################################
# Production defaults the emulator cannot exercise with traffic
################################################################################

resource "aws_kms_key" "buckets" {
  description             = "Key of the hardened bucket pair (integration test)"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  tags                    = local.tags
}

# Defaults (TLS-only policy and the web bucket's write policy on) plus SSE-KMS and a break-glass
# role: applied to check the documents they create. Nothing reads or writes objects here,
# because the TLS policy denies everything on moto.
module "buckets_hardened" {
  source = "../../../modules/buckets"

  name_prefix          = "${var.name_prefix}-hard"
  writer_role_name     = local.writer_role_name
  break_glass_role_arn = local.break_glass_role_arn
  kms_key_arn          = aws_kms_key.buckets.arn
  force_destroy        = true # disposable
  tags                 = local.tags
}

# The web bucket's write policy alone (TLS policy off), so the tests can send it requests: moto
# evaluates its actions and resources, not its condition (see the tests).
module "buckets_guarded" {
  source = "../../../modules/buckets"

  name_prefix             = "${var.name_prefix}-guard"
  writer_role_name        = local.writer_role_name
  deny_insecure_transport = false
  force_destroy           = true # disposable
  tags                    = local.tags
}
