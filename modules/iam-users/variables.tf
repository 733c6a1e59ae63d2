variable "name_prefix" {
  description = "Start of every IAM name: users \"<prefix>-user-a\" and \"<prefix>-user-b\", groups \"<prefix>-uploads-read-write\" and \"<prefix>-web-read-only\"."
  type        = string

  validation {
    # IAM user names are at most 64 characters; the longest suffix is "-uploads-read-write" (19).
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 40 characters of letters, digits and + = , . @ _ -."
  }
}

variable "uploads_bucket_arn" {
  description = "ARN of the uploads bucket. User A may list it and get, put and delete its objects, multipart uploads included."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_arn))
    error_message = "uploads_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "web_bucket_arn" {
  description = "ARN of the web bucket. User B may list it and get its objects."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.web_bucket_arn))
    error_message = "web_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the buckets (SSE-KMS), or null for SSE-S3. When set, each group may also use the key for exactly what its access level needs."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "path" {
  description = "IAM path of the users and groups."
  type        = string
  default     = "/exif-stripper/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.path)) && length(var.path) <= 512
    error_message = "path must start and end with \"/\", e.g. \"/\" or \"/exif-stripper/\"."
  }
}

variable "create_access_keys" {
  description = "Create one access key per user. Off by default: hand out keys another way (e.g. IAM Identity Center). When on, pgp_key is required so the secret is only ever stored and output encrypted."
  type        = bool
  default     = false
}

variable "pgp_key" {
  description = "PGP public key (base64, or \"keybase:<username>\") that encrypts the access keys' secrets. Required when create_access_keys is true."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy the users even when they hold access keys, a login profile, MFA devices, SSH keys or signing certificates made outside Terraform (all are deleted with them). Only for disposable environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module that supports them."
  type        = map(string)
  default     = {}
}
