output "uploads_bucket_name" {
  description = "Name of the uploads bucket."
  value       = module.buckets.uploads_bucket_name
}

output "web_bucket_name" {
  description = "Name of the web bucket."
  value       = module.buckets.web_bucket_name
}

output "hardened_buckets" {
  description = "Names of the hardened bucket pair (TLS-only policy, SSE-KMS)."
  value       = [module.buckets_hardened.uploads_bucket_name, module.buckets_hardened.web_bucket_name]
}

output "hardened_web_writer_arns" {
  description = "The principals the hardened pair's web bucket admits for writes."
  value       = module.buckets_hardened.web_writer_arns
}

output "guarded_buckets" {
  description = "Names of the pair whose web bucket has the write policy and no TLS policy: uploads, web."
  value       = [module.buckets_guarded.uploads_bucket_name, module.buckets_guarded.web_bucket_name]
}

output "break_glass_role_arn" {
  description = "The break-glass role named in the hardened pair's web bucket policy."
  value       = local.break_glass_role_arn
}

output "hardened_kms_key_arn" {
  description = "KMS key of the hardened bucket pair."
  value       = aws_kms_key.buckets.arn
}

output "user_a" {
  description = "Name of User A."
  value       = module.iam_users.user_a_name
}

output "user_b" {
  description = "Name of User B."
  value       = module.iam_users.user_b_name
}

output "groups" {
  description = "Group names per access level."
  value = {
    uploads = module.iam_users.uploads_group_name
    web     = module.iam_users.web_group_name
  }
}

output "function_name" {
  description = "Name of the function."
  value       = module.exif_lambda.function_name
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = module.exif_lambda.role_name
}

output "queue_url" {
  description = "URL of the event queue."
  value       = module.exif_lambda.queue_url
}

output "queue_arn" {
  description = "ARN of the event queue."
  value       = module.exif_lambda.queue_arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.exif_lambda.dlq_arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = module.exif_lambda.dlq_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping."
  value       = module.exif_lambda.event_source_mapping_uuid
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = module.exif_lambda.log_group_name
}

output "alarm_names" {
  description = "Alarm names by purpose."
  value       = module.exif_lambda.alarm_names
}

output "repository_name" {
  description = "Name of the ECR repository."
  value       = module.ecr.repository_name
}
