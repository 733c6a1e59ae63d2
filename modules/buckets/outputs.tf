output "uploads_bucket_name" {
  description = "Name (id) of the uploads bucket, where users upload photos."
  value       = aws_s3_bucket.this["uploads"].id
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.this["uploads"].arn
}

output "web_bucket_name" {
  description = "Name (id) of the web bucket, which holds the web-safe copies."
  value       = aws_s3_bucket.this["web"].id
}

output "web_bucket_arn" {
  description = "ARN of the web bucket."
  value       = aws_s3_bucket.this["web"].arn
}

output "kms_key_arn" {
  description = "The KMS key that encrypts both buckets, or null when they use SSE-S3. Pass it on to the iam-users and exif-lambda modules so their policies allow the key."
  value       = var.kms_key_arn
}

output "web_writer_arns" {
  description = "The principals that alone may write and delete objects in the web bucket (the function's execution role, then the break-glass role if any); empty when restrict_web_writes is false."
  value       = var.restrict_web_writes ? local.writer_arns : []
}
