# The function's execution role: docs/design.md "Access: the function's role", nothing else.

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-execution"
  assume_role_policy = templatefile("${path.module}/policies/lambda-assume-role.json.tftpl", {})

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "exif-stripper"
  role = aws_iam_role.this.id
  # s3:ListBucket on the uploads bucket is there so a GetObject/HeadObject of a key that is gone
  # answers 404 instead of 403; the handler needs that to tell "deleted meanwhile" (skip)
  # from "not allowed" (fail). The web bucket needs no list or read: the handler only writes and
  # deletes there, and DeleteObject of a missing key already succeeds.
  policy = templatefile("${path.module}/policies/lambda-execution.json.tftpl", {
    uploads_bucket_arn = var.uploads_bucket_arn
    web_bucket_arn     = var.web_bucket_arn
    # The derived ARN (see locals), so the role and the function need not wait for the
    # event queue's creation.
    queue_arn     = local.queue_arn
    log_group_arn = aws_cloudwatch_log_group.this.arn
  })
}

# Only when the buckets and queues use a customer key: Decrypt to read objects and
# messages, GenerateDataKey to write objects.
resource "aws_iam_role_policy" "kms" {
  count = local.use_kms ? 1 : 0

  name = "exif-stripper-kms"
  role = aws_iam_role.this.id
  policy = templatefile("${path.module}/policies/lambda-kms.json.tftpl", {
    kms_key_arn = var.kms_key_arn
  })
}
