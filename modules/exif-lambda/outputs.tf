output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "queue_name" {
  description = "Name of the queue that receives the uploads bucket's object events."
  value       = aws_sqs_queue.this.name
}

output "queue_arn" {
  description = "ARN of the event queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the event queue (a local worker can consume it instead of the function)."
  value       = aws_sqs_queue.this.url
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the queue to the function."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_names" {
  description = "Names of the alarms by purpose: dead-letter queue not empty, oldest event too old, records failed, photos rejected, function errors, throttles."
  value       = { for purpose, alarm in aws_cloudwatch_metric_alarm.this : purpose => alarm.alarm_name }
}
