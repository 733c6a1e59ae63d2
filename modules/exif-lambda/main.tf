locals {
  function_name = "${var.name_prefix}-processor"
  queue_name    = "${var.name_prefix}-events"
  use_kms       = var.kms_key_arn != null

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

  alarm_actions = var.alarm_sns_topic_arn != null ? [var.alarm_sns_topic_arn] : []
}

################################################################################
# Queues: S3 events in, failures to the dead-letter queue
################################################################################

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
    # Every key: the handler decides what is a JPEG (SPEC §1: content decides, and keys in
    # any case, .JPG or .jpeg, must arrive). Removed events keep bucket B in step.
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
  }
}

################################################################################
# Execution role: SPEC §3 and nothing else
################################################################################

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-execution"
  assume_role_policy = templatefile("${path.module}/policies/lambda-assume-role.json.tftpl", {})

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "exif-stripper"
  role = aws_iam_role.this.id
  # s3:ListBucket on bucket A is there so a GetObject/HeadObject of a key that is gone
  # answers 404 instead of 403; the handler needs that to tell "deleted meanwhile" (skip)
  # from "not allowed" (fail). Bucket B needs no list or read: the handler only writes and
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

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Logs name the object keys users chose; retention is short on purpose (30 days by default, log_retention_days) for a privacy tool, and the DLQ keeps failed events 14 days.
  #checkov:skip=CKV_AWS_158:Log data is encrypted by CloudWatch Logs by default; a customer key is one input away (log_group_kms_key_arn) because it needs a key policy for the logs service.
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_group_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:A function DLQ only catches asynchronous invocations; this function is invoked synchronously by the SQS event source mapping, whose failures go to the queue's redrive DLQ.
  #checkov:skip=CKV_AWS_117:The function only talks to S3, SQS and CloudWatch public endpoints; a VPC would add NAT or endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds bucket names and limits, no secrets; Lambda encrypts it at rest with an AWS key anyway.
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages only; this function is a container image pinned by digest.
  #checkov:skip=CKV_AWS_50:Active X-Ray tracing needs xray:PutTraceSegments, outside the role's SPEC §3 permissions; Powertools logs and metrics cover observability.
  function_name = local.function_name
  role          = aws_iam_role.this.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = {
      UPLOADS_BUCKET               = var.uploads_bucket_name
      WEB_BUCKET                   = var.web_bucket_name
      ORIENTATION_POLICY           = var.orientation_policy
      MAX_BYTES                    = tostring(var.max_bytes)
      DAMAGED_POLICY               = var.damaged_policy
      BATCH_THREADS                = tostring(var.batch_threads)
      LOG_LEVEL                    = var.log_level
      POWERTOOLS_SERVICE_NAME      = var.powertools_service_name
      POWERTOOLS_METRICS_NAMESPACE = var.powertools_metrics_namespace
    }
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  lifecycle {
    precondition {
      # SPEC §2: reading from and writing to the same bucket would feed the function its
      # own output forever.
      condition     = var.uploads_bucket_arn != var.web_bucket_arn
      error_message = "the uploads and web buckets must differ."
    }
  }

  # The role's policy must be in place before the first invocation can log.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = aws_sqs_queue.this.arn
  function_name                      = aws_lambda_function.this.arn
  enabled                            = var.enabled
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  # One bad record fails only itself: the handler returns the failed message ids and the
  # rest of the batch is deleted (SPEC §2).
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
      error_message = "batch_size above 10 needs maximum_batching_window_in_seconds of at least 1."
    }
    precondition {
      condition     = var.reserved_concurrent_executions == -1 || var.maximum_concurrency <= var.reserved_concurrent_executions
      error_message = "maximum_concurrency must not exceed reserved_concurrent_executions, or the surplus invocations are throttled."
    }
  }

  # AWS checks at create time that the role may consume the queue.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy.kms]
}

################################################################################
# Alarms
################################################################################

locals {
  # One alarm per purpose; each fires when its metric is above the threshold for
  # evaluation_periods periods running, and notifies alarm_sns_topic_arn when set.
  # With partial batch responses a failed record is not a failed invocation: it never reaches
  # Lambda's Errors metric, only the dead-letter queue after max_receive_count tries. The
  # queue's age and the function's own metrics (EMF, Powertools: namespace and a `service`
  # dimension) catch it sooner.
  function_metrics = { namespace = var.powertools_metrics_namespace, dimensions = { service = var.powertools_service_name } }
  alarms = {
    dlq_not_empty = {
      description = "Events failed ${var.max_receive_count} times and wait in ${aws_sqs_queue.dlq.name}: inspect, fix, then redrive them."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = aws_sqs_queue.dlq.name }
      statistic   = "Maximum", period = 60, evaluation_periods = 1, threshold = 0
    }
    queue_age = {
      description = "The oldest event in ${aws_sqs_queue.this.name} has waited over ${var.queue_age_alarm_seconds} s for 5 minutes: processing is paused, failing or behind the load."
      namespace   = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", dimensions = { QueueName = aws_sqs_queue.this.name }
      statistic   = "Maximum", period = 60, evaluation_periods = 5, threshold = var.queue_age_alarm_seconds
    }
    records_failed = merge(local.function_metrics, {
      description = "Records failed and went back to the queue (the function's Errors metric): S3 or KMS trouble, throttling, a bug. They are retried and end in ${aws_sqs_queue.dlq.name} if they keep failing."
      metric      = "Errors", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = 0
    })
    objects_rejected = merge(local.function_metrics, {
      description = "More than ${var.rejected_alarm_threshold} photos were rejected in 5 minutes (ObjectsRejected): nothing was written for them; the function's log line for each key names the reason."
      metric      = "ObjectsRejected", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = var.rejected_alarm_threshold
    })
    errors = {
      description = "The function failed (unhandled error or timeout); rejected photos are not errors."
      namespace   = "AWS/Lambda", metric = "Errors", dimensions = { FunctionName = aws_lambda_function.this.function_name }
      statistic   = "Sum", period = 300, evaluation_periods = 1, threshold = 0
    }
    throttles = {
      description = "Invocations were throttled: reserved concurrency is below the queue's maximum concurrency or the account limit is reached."
      namespace   = "AWS/Lambda", metric = "Throttles", dimensions = { FunctionName = aws_lambda_function.this.function_name }
      statistic   = "Sum", period = 300, evaluation_periods = 1, threshold = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# The alarms of earlier versions, each a resource of its own.
moved {
  from = aws_cloudwatch_metric_alarm.dlq_not_empty
  to   = aws_cloudwatch_metric_alarm.this["dlq_not_empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.errors
  to   = aws_cloudwatch_metric_alarm.this["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.throttles
  to   = aws_cloudwatch_metric_alarm.this["throttles"]
}
