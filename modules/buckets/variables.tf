variable "name_prefix" {
  description = "Start of both bucket names. The uploads bucket is \"<prefix>-uploads-<unique suffix>\", the web bucket \"<prefix>-web-<unique suffix>\"; S3 adds the 26-character suffix that keeps the names globally unique."
  type        = string

  validation {
    # S3 allows at most 37 characters in a bucket_prefix (the argument); "-uploads-" takes 9 of them.
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,26}[a-z0-9]$", var.name_prefix)) && !startswith(var.name_prefix, "xn--")
    error_message = "name_prefix must be 3 to 28 characters of lowercase letters, digits and hyphens, start and end with a letter or digit, and not start with \"xn--\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for SSE-KMS with S3 Bucket Keys on both buckets. null (default) uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>); aliases are not accepted because IAM policies need the key ARN."
  }
}

variable "deny_insecure_transport" {
  description = "Attach a bucket policy that denies every request made without TLS (aws:SecureTransport = false). Keep true everywhere; only the embedded-AWS test stack sets false, because moto treats every policy condition as true and the policy would then deny all requests."
  type        = bool
  default     = true
}

variable "writer_role_name" {
  description = "Name of the IAM role (in this account, path \"/\") that writes the web-safe copies: the exif-lambda function's execution role, \"<name_prefix>-execution\" of the exif-lambda module. The web bucket denies object writes and deletes to every other principal but break_glass_role_arn. A name, not an ARN, so the buckets need not wait for the function that reads them."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.writer_role_name))
    error_message = "writer_role_name must be an IAM role name: 1 to 64 letters, digits and + = , . @ _ -."
  }
}

variable "break_glass_role_arn" {
  description = "ARN of a role that may also write and delete objects in the web bucket, for repairs (`exif-stripper sync`) and incidents; null (default): none."
  type        = string
  default     = null

  validation {
    condition     = var.break_glass_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.break_glass_role_arn))
    error_message = "break_glass_role_arn must be null or an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "restrict_web_writes" {
  description = "Give the web bucket a policy that denies object writes and deletes (PutObject and with it every multipart and copy upload, object ACL, tagging, retention and legal-hold writes, DeleteObject and DeleteObjectVersion, AbortMultipartUpload, replication writes) to every principal but writer_role_name and break_glass_role_arn. Keep true everywhere; only the embedded-AWS test stack sets false for the pair its pipeline writes to, because moto treats the policy's condition as always true and would deny the function too."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a noncurrent (overwritten or deleted) object version is deleted for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which S3 aborts a multipart upload that was never completed, deleting its parts."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number of days, at least 1."
  }
}

variable "access_log_bucket" {
  description = "Name of an existing bucket that receives S3 server access logs of both buckets; null (default) turns access logging off. That bucket's policy must allow logging.s3.amazonaws.com to write."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in access_log_bucket; each bucket's logs go under \"<prefix><bucket name>/\"."
  type        = string
  default     = "s3-access-logs/"
}

variable "force_destroy" {
  description = "Let terraform destroy the buckets even when they hold objects (all versions are deleted). Only for disposable environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module that supports them."
  type        = map(string)
  default     = {}
}
