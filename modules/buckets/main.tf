locals {
  # The uploads bucket receives the users' photos, the web bucket holds the web-safe copies (docs/design.md
  # "The pipeline").
  # Every resource below is created once per entry, so both buckets get the same controls.
  buckets = {
    uploads = "${var.name_prefix}-uploads-"
    web     = "${var.name_prefix}-web-"
  }

  use_kms = var.kms_key_arn != null

  # The web bucket takes object writes from the function's execution role and the break-glass role
  # only (docs/design.md "Access: writes to the web bucket"). The role's ARN is built from its name
  # and this account, so the buckets do
  # not depend on the function (which depends on them).
  writer_arns = compact([
    "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${var.writer_role_name}",
    var.break_glass_role_arn,
  ])

  # Which bucket gets which policy statements; the keys depend on inputs only, so for_each
  # knows them at plan time.
  policy_templates = {
    for key in keys(local.buckets) : key => concat(
      var.deny_insecure_transport ? ["deny-insecure-transport"] : [],
      key == "web" && var.restrict_web_writes ? ["deny-web-writes"] : [],
    )
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

################################################################################
# Buckets
################################################################################

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per environment, not a property of these buckets; the web bucket can be rebuilt from the uploads bucket.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default on purpose (no key policy to manage); SSE-KMS with a bucket key is one input away (kms_key_arn).
  #checkov:skip=CKV2_AWS_62:The uploads bucket's event notification is wired by the exif-lambda module (one notification configuration per bucket); the web bucket has no consumer.
  #checkov:skip=CKV_AWS_18:Access logging is optional (access_log_bucket) because it needs a separate log bucket that this module does not own.
  bucket_prefix = each.value
  force_destroy = var.force_destroy

  tags = var.tags
}

################################################################################
# Access: no public access, no ACLs, TLS only, the web bucket written by the function only
################################################################################

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    # ACLs are disabled; the bucket owner owns every object, whoever uploads it.
    object_ownership = "BucketOwnerEnforced"
  }
}

# One policy per bucket (S3 holds one), made of the statements of its templates. Only
# object-level actions are denied, so Terraform (or anyone with bucket-level rights) can
# still read, change and delete the policy and the bucket. On destroy the policy goes before
# the bucket, so force_destroy can empty the web bucket.
resource "aws_s3_bucket_policy" "this" {
  for_each = { for key, templates in local.policy_templates : key => templates if length(templates) > 0 }

  bucket = aws_s3_bucket.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = flatten([
      for template in each.value : jsondecode(templatefile("${path.module}/policies/${template}.json.tftpl", {
        bucket_arn  = aws_s3_bucket.this[each.key].arn
        writer_arns = jsonencode(local.writer_arns)
      })).Statement
    ])
  })

  # S3 rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

################################################################################
# Encryption at rest
################################################################################

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # A bucket key cuts KMS requests (and their cost) by orders of magnitude; it has no
    # meaning for SSE-S3.
    bucket_key_enabled = local.use_kms
  }
}

################################################################################
# Versioning and lifecycle
################################################################################

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # A delete marker left with no versions behind it is removed, so deleted keys
    # disappear completely once their old versions expire.
    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  # Noncurrent-version rules need versioning to be on first.
  depends_on = [aws_s3_bucket_versioning.this]
}

################################################################################
# Access logging (optional)
################################################################################

resource "aws_s3_bucket_logging" "this" {
  for_each = var.access_log_bucket != null ? aws_s3_bucket.this : {}

  bucket        = each.value.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.access_log_prefix}${each.value.id}/"
}
