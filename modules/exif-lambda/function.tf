# The function, its log group, and the event source mapping that feeds it the queue.

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
  #checkov:skip=CKV_AWS_50:Active X-Ray tracing needs xray:PutTraceSegments, outside the role's permissions (design.md, "Access: the function's role"); Powertools logs and metrics cover observability.
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
      # docs/design.md "Pipeline: settings": reading from and writing to the same bucket would
      # feed the function its own output forever.
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
  # rest of the batch is deleted (docs/design.md "Pipeline: events and the queue").
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
