output "repository_name" {
  description = "Name of the repository."
  value       = module.ecr.repository_name
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = module.ecr.repository_arn
}

output "repository_url" {
  description = "URL to push to and to build the function's image_uri from (<url>@sha256:<digest>)."
  value       = module.ecr.repository_url
}

output "registry_id" {
  description = "Account id of the registry that holds the repository."
  value       = module.ecr.registry_id
}
