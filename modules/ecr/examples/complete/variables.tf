variable "region" {
  description = "AWS region to deploy the example to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Start of every name the example creates."
  type        = string
  default     = "exif-example"
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key for the images; null: ECR's AES-256."
  type        = string
  default     = null
}
