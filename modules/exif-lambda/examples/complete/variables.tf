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

variable "image_uri" {
  description = "The function's image in ECR, by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest> (modules/ecr, then push the image)."
  type        = string
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

variable "alarm_sns_topic_arn" {
  description = "ARN of an existing SNS topic the alarms notify; null: alarms without notifications."
  type        = string
  default     = null
}
