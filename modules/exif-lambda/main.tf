# Names and values the module's files share; each file holds one part of the system:
# queue.tf (S3 events in, failures to the dead-letter queue), iam.tf (the execution role),
# function.tf (the function, its log group and the event source mapping), alarms.tf.

locals {
  function_name = "${var.name_prefix}-processor"
  queue_name    = "${var.name_prefix}-events"
  use_kms       = var.kms_key_arn != null
}
