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
  description = "ARN of an existing customer-managed KMS key for the buckets and queues; null: AWS-managed encryption."
  type        = string
  default     = null
}

variable "break_glass_role_arn" {
  description = "ARN of an existing role that may also write to the web bucket (repairs); null: none."
  type        = string
  default     = null
}

variable "access_log_bucket" {
  description = "Name of an existing bucket for S3 server access logs; null: no access logs."
  type        = string
  default     = null
}

variable "pgp_key" {
  description = "PGP public key (base64, or \"keybase:<username>\") that encrypts the users' secret access keys; null: no access keys."
  type        = string
  default     = null
}
