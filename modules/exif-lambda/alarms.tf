# Alarms, one per purpose, from one map.

locals {
  # One alarm per purpose; each fires when its metric is above the threshold for
  # evaluation_periods periods running, and notifies alarm_sns_topic_arn when set.
  # With partial batch responses a failed record is not a failed invocation: it never reaches
  # Lambda's Errors metric, only the dead-letter queue after max_receive_count tries. The
  # queue's age and the function's own metrics (EMF, Powertools: namespace and a `service`
  # dimension) catch it sooner.
  alarm_actions = var.alarm_sns_topic_arn != null ? [var.alarm_sns_topic_arn] : []

  # Where each alarm's metric comes from: the queues (AWS/SQS), Lambda's own metrics, and the
  # function's EMF metrics (Powertools: its namespace and a `service` dimension).
  metric_sources = {
    dlq      = { namespace = "AWS/SQS", dimensions = { QueueName = aws_sqs_queue.dlq.name } }
    queue    = { namespace = "AWS/SQS", dimensions = { QueueName = aws_sqs_queue.this.name } }
    lambda   = { namespace = "AWS/Lambda", dimensions = { FunctionName = aws_lambda_function.this.function_name } }
    function = { namespace = var.powertools_metrics_namespace, dimensions = { service = var.powertools_service_name } }
  }

  alarms = {
    dlq_not_empty = {
      source      = "dlq", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum", period = 60, evaluation_periods = 1, threshold = 0
      description = "Events failed ${var.max_receive_count} times and wait in ${aws_sqs_queue.dlq.name}: inspect, fix, then redrive them."
    }
    queue_age = {
      source      = "queue", metric = "ApproximateAgeOfOldestMessage", statistic = "Maximum", period = 60, evaluation_periods = 5, threshold = var.queue_age_alarm_seconds
      description = "The oldest event in ${aws_sqs_queue.this.name} has waited over ${var.queue_age_alarm_seconds} s for 5 minutes: processing is paused, failing or behind the load."
    }
    records_failed = {
      source      = "function", metric = "Errors", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = 0
      description = "Records failed and went back to the queue (the function's Errors metric): S3 or KMS trouble, throttling, a bug. They are retried and end in ${aws_sqs_queue.dlq.name} if they keep failing."
    }
    objects_rejected = {
      source      = "function", metric = "ObjectsRejected", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = var.rejected_alarm_threshold
      description = "More than ${var.rejected_alarm_threshold} photos were rejected in 5 minutes (ObjectsRejected): nothing was written for them; the function's log line for each key names the reason."
    }
    errors = {
      source      = "lambda", metric = "Errors", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = 0
      description = "The function failed (unhandled error or timeout); rejected photos are not errors."
    }
    throttles = {
      source      = "lambda", metric = "Throttles", statistic = "Sum", period = 300, evaluation_periods = 1, threshold = 0
      description = "Invocations were throttled: reserved concurrency is below the queue's maximum concurrency or the account limit is reached."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = local.metric_sources[each.value.source].namespace
  metric_name         = each.value.metric
  dimensions          = local.metric_sources[each.value.source].dimensions
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
