variable "aws_endpoint" {
  description = "URL of the embedded AWS (moto server on 127.0.0.1) that every service endpoint points at. The test harness sets it as TF_VAR_aws_endpoint."
  type        = string

  validation {
    # A guard against applying this disposable stack (force_destroy, TLS policy off) to a
    # real account by accident.
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost):[0-9]+$", var.aws_endpoint))
    error_message = "aws_endpoint must be a local emulator, http://127.0.0.1:<port>."
  }
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Start of every name in the stack."
  type        = string
  default     = "exif-test"
}
