output "user_a_name" {
  description = "Name of User A (read-write on the uploads bucket)."
  value       = aws_iam_user.this["uploads"].name
}

output "user_a_arn" {
  description = "ARN of User A."
  value       = aws_iam_user.this["uploads"].arn
}

output "user_b_name" {
  description = "Name of User B (read-only on the web bucket)."
  value       = aws_iam_user.this["web"].name
}

output "user_b_arn" {
  description = "ARN of User B."
  value       = aws_iam_user.this["web"].arn
}

output "uploads_group_name" {
  description = "Name of the group that holds the read-write policy on the uploads bucket."
  value       = aws_iam_group.this["uploads"].name
}

output "uploads_group_arn" {
  description = "ARN of the uploads read-write group."
  value       = aws_iam_group.this["uploads"].arn
}

output "web_group_name" {
  description = "Name of the group that holds the read-only policy on the web bucket."
  value       = aws_iam_group.this["web"].name
}

output "web_group_arn" {
  description = "ARN of the web read-only group."
  value       = aws_iam_group.this["web"].arn
}

output "access_key_ids" {
  description = "Access key id per user name; empty unless create_access_keys is true."
  value       = { for access_key in aws_iam_access_key.this : access_key.user => access_key.id }
}

output "encrypted_secret_access_keys" {
  description = "PGP-encrypted, base64 secret access key per user name; decrypt it with the private half of pgp_key. Empty unless create_access_keys is true. The plain secret is never output."
  value       = { for access_key in aws_iam_access_key.this : access_key.user => access_key.encrypted_secret }
}
