# Queues: the uploads bucket's object events in, failures to the dead-letter queue; and the
# notification that sends the events.

locals {
  # AWS guidance for SQS event sources: visibility timeout >= 6 x function timeout plus the
  # batching window, so a message is not redelivered while a throttled or retried
  # invocation may still hold it.
  # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
  visibility_timeout_seconds = 6 * var.timeout + var.maximum_batching_window_in_seconds

  # arn:<partition>:sqs:<region>:<account>:<name>. The event queue's policy must name the
  # queue's own ARN at create time, so we build it from the dead-letter queue's ARN (same
  # partition, region and account), which the event queue depends on anyway. That keeps
  # the policy inline (see aws_sqs_queue.this) and avoids data sources whose attributes
  # differ between provider 5.x and 6.x (data.aws_region.name became .region).
  dlq_arn_parts = split(":", aws_sqs_queue.dlq.arn)
  account_id    = local.dlq_arn_parts[4]
  queue_arn     = join(":", concat(slice(local.dlq_arn_parts, 0, 5), [local.queue_name]))
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${local.queue_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds

  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = local.queue_name
  visibility_timeout_seconds = local.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds

  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  # Inline rather than an aws_sqs_queue_policy resource: the provider waits about 25 s
  # after every SQS attribute write (six matching reads, 5 s apart) whatever the backend,
  # so a separate policy resource would add another 25 s to every apply, here and on AWS.
  policy = templatefile("${path.module}/policies/queue-allow-s3.json.tftpl", {
    queue_arn          = local.queue_arn
    uploads_bucket_arn = var.uploads_bucket_arn
    account_id         = local.account_id
  })

  tags = var.tags
}

resource "aws_s3_bucket_notification" "this" {
  bucket = var.uploads_bucket_name

  queue {
    id        = "${var.name_prefix}-object-events"
    queue_arn = aws_sqs_queue.this.arn
    # Every key: the handler decides what is a JPEG (docs/design.md "Sanitizer: the content
    # decides"; and keys in any case, .JPG or .jpeg, must arrive). Removed events keep the web
    # bucket in step.
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
  }
}
