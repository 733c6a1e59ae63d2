locals {
  # docs/design.md "Access: the two users": one group per access level holds that level's policies;
  # each user is a member
  # of exactly one group and has no policy of its own.
  access_levels = {
    uploads = {
      group       = "${var.name_prefix}-uploads-read-write"
      user        = "${var.name_prefix}-user-a"
      policy_file = "uploads-read-write.json.tftpl"
      bucket_arn  = var.uploads_bucket_arn
      kms_file    = "kms-read-write.json.tftpl" # SSE-KMS writes need GenerateDataKey
    }
    web = {
      group       = "${var.name_prefix}-web-read-only"
      user        = "${var.name_prefix}-user-b"
      policy_file = "web-read-only.json.tftpl"
      bucket_arn  = var.web_bucket_arn
      kms_file    = "kms-read.json.tftpl"
    }
  }
}

################################################################################
# Groups and their policies
################################################################################

resource "aws_iam_group" "this" {
  for_each = local.access_levels

  name = each.value.group
  path = var.path
}

resource "aws_iam_group_policy" "this" {
  for_each = local.access_levels

  name  = "s3-access"
  group = aws_iam_group.this[each.key].name
  policy = templatefile("${path.module}/policies/${each.value.policy_file}", {
    bucket_arn = each.value.bucket_arn
  })
}

# KMS permissions exist only when the buckets use a customer key.
resource "aws_iam_group_policy" "kms" {
  for_each = var.kms_key_arn != null ? local.access_levels : {}

  name  = "kms-access"
  group = aws_iam_group.this[each.key].name
  policy = templatefile("${path.module}/policies/${each.value.kms_file}", {
    kms_key_arn = var.kms_key_arn
  })
}

################################################################################
# Users and memberships
################################################################################

resource "aws_iam_user" "this" {
  #checkov:skip=CKV_AWS_273:docs/design.md "Access: the two users" defines two IAM users (User A uploads, User B reads the web copies); they hold no policies of their own and get no console password or keys from this module by default.
  for_each = local.access_levels

  name = each.value.user
  path = var.path
  # Keys made outside Terraform (the README's `aws iam create-access-key`, the smoke test's
  # short-lived keys) would otherwise make IAM refuse to delete the user (DeleteConflict).
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_iam_user_group_membership" "this" {
  for_each = local.access_levels

  user   = aws_iam_user.this[each.key].name
  groups = [aws_iam_group.this[each.key].name]
}

################################################################################
# Access keys (optional, PGP-encrypted)
################################################################################

resource "aws_iam_access_key" "this" {
  for_each = var.create_access_keys ? aws_iam_user.this : {}

  user    = each.value.name
  pgp_key = var.pgp_key

  lifecycle {
    precondition {
      # Without a PGP key the secret would sit in the state in plain text (docs/design.md
      # "Access: keys and state").
      condition     = trimspace(coalesce(var.pgp_key, " ")) != "" # null and blank both fail
      error_message = "create_access_keys = true requires pgp_key, so the secret is stored and output only encrypted."
    }
  }
}
