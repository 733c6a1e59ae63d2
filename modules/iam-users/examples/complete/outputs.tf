output "user_a_name" {
  description = "Name of User A (read-write on the uploads bucket)."
  value       = module.iam_users.user_a_name
}

output "user_a_arn" {
  description = "ARN of User A."
  value       = module.iam_users.user_a_arn
}

output "user_b_name" {
  description = "Name of User B (read-only on the web bucket)."
  value       = module.iam_users.user_b_name
}

output "user_b_arn" {
  description = "ARN of User B."
  value       = module.iam_users.user_b_arn
}

output "uploads_group_name" {
  description = "Name of the group that holds the read-write policy on the uploads bucket."
  value       = module.iam_users.uploads_group_name
}

output "uploads_group_arn" {
  description = "ARN of the uploads read-write group."
  value       = module.iam_users.uploads_group_arn
}

output "web_group_name" {
  description = "Name of the group that holds the read-only policy on the web bucket."
  value       = module.iam_users.web_group_name
}

output "web_group_arn" {
  description = "ARN of the web read-only group."
  value       = module.iam_users.web_group_arn
}

output "access_key_ids" {
  description = "Access key id per user name; empty unless create_access_keys is true."
  value       = module.iam_users.access_key_ids
}

output "encrypted_secret_access_keys" {
  description = "PGP-encrypted, base64 secret access key per user name; decrypt it with the private half of pgp_key. Empty unless create_access_keys is true. The plain secret is never output."
  value       = module.iam_users.encrypted_secret_access_keys
}
