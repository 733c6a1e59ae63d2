output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "URL to push to and to build the function's image_uri from (<url>@sha256:<digest>)."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "Account id of the registry that holds the repository."
  value       = aws_ecr_repository.this.registry_id
}
