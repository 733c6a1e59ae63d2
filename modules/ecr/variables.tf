variable "name_prefix" {
  description = "Start of the repository's name: \"<name_prefix>-processor\" holds the function's image."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name_prefix)) && length(var.name_prefix) >= 1 && length(var.name_prefix) <= 246
    error_message = "name_prefix must be 1 to 246 characters of lowercase letters, digits and single . _ - / separators."
  }
}

variable "image_retention_count" {
  description = "How many of the most recent images the lifecycle policy keeps; older ones expire."
  type        = number
  default     = 20

  validation {
    condition     = var.image_retention_count >= 1 && floor(var.image_retention_count) == var.image_retention_count
    error_message = "image_retention_count must be a whole number, at least 1."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key that encrypts the images; null (default) uses ECR's AES-256 encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "force_delete" {
  description = "Let terraform delete the repository even when it holds images. Only for disposable environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module that supports them."
  type        = map(string)
  default     = {}
}
