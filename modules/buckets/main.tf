locals {
  # Bucket A receives the users' photos, bucket B holds the web-safe copies (SPEC §2).
  # Every resource below is created once per entry, so both buckets get the same controls.
  buckets = {
    uploads = "${var.bucket_prefix}-uploads-"
    web     = "${var.bucket_prefix}-web-"
  }

  use_kms = var.kms_key_arn != null
}

################################################################################
# Buckets
################################################################################

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per environment, not a property of these buckets; bucket B can be rebuilt from bucket A.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default on purpose (no key policy to manage); SSE-KMS with a bucket key is one input away (kms_key_arn).
  #checkov:skip=CKV2_AWS_62:Bucket A's event notification is wired by the exif-lambda module (one notification configuration per bucket); bucket B has no consumer.
  #checkov:skip=CKV_AWS_18:Access logging is optional (access_log_bucket) because it needs a separate log bucket that this module does not own.
  bucket_prefix = each.value
  force_destroy = var.force_destroy

  tags = var.tags
}

################################################################################
# Access: no public access, no ACLs, TLS only
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

resource "aws_s3_bucket_policy" "this" {
  for_each = var.deny_insecure_transport ? aws_s3_bucket.this : {}

  bucket = each.value.id
  policy = templatefile("${path.module}/policies/deny-insecure-transport.json.tftpl", {
    bucket_arn = each.value.arn
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
