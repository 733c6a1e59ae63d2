output "function_name" {
  description = "Name of the Lambda function."
  value       = module.exif_lambda.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = module.exif_lambda.function_arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = module.exif_lambda.role_name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = module.exif_lambda.role_arn
}

output "queue_name" {
  description = "Name of the queue that receives the uploads bucket's object events."
  value       = module.exif_lambda.queue_name
}

output "queue_arn" {
  description = "ARN of the event queue."
  value       = module.exif_lambda.queue_arn
}

output "queue_url" {
  description = "URL of the event queue (a local worker can consume it instead of the function)."
  value       = module.exif_lambda.queue_url
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = module.exif_lambda.dlq_name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.exif_lambda.dlq_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.exif_lambda.dlq_url
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the queue to the function."
  value       = module.exif_lambda.event_source_mapping_uuid
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = module.exif_lambda.log_group_name
}

output "alarm_names" {
  description = "Names of the alarms by purpose: dead-letter queue not empty, oldest event too old, records failed, photos rejected, function errors, throttles."
  value       = module.exif_lambda.alarm_names
}
