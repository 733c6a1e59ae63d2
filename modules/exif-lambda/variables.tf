################################################################################
# Naming and wiring
################################################################################

variable "name_prefix" {
  description = "Start of every name: the function \"<name_prefix>-processor\", its queue \"<name_prefix>-events\" and dead-letter queue \"<name_prefix>-events-dlq\", role \"<name_prefix>-execution\", log group and alarms \"<name_prefix>-<alarm>\"."
  type        = string

  validation {
    # The longest derived name, "<name_prefix>-events-dlq" for SQS, must stay well within
    # limits; 40 also leaves room in the 64-character role name.
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 40 characters of letters, digits, hyphens and underscores."
  }
}

variable "image_uri" {
  description = "ECR image of the function, preferably pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$", var.image_uri))
    error_message = "image_uri must be an ECR image URI with a tag (:tag) or a digest (@sha256:<64 hex>); Lambda runs images from ECR only."
  }
}

variable "uploads_bucket_name" {
  description = "Name of the uploads bucket: its object events feed the queue and the function reads from it."
  type        = string
}

variable "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_arn))
    error_message = "uploads_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "web_bucket_name" {
  description = "Name of the web bucket: the function writes and deletes objects there."
  type        = string
}

variable "web_bucket_arn" {
  description = "ARN of the web bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.web_bucket_arn))
    error_message = "web_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the buckets (SSE-KMS); null for SSE-S3. When set it also encrypts both queues, and the role may use it. Its key policy must let s3.amazonaws.com call kms:GenerateDataKey and kms:Decrypt, or S3 cannot send events to the encrypted queue."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

################################################################################
# Function
################################################################################

variable "architecture" {
  description = "Instruction set of the image: \"x86_64\" or \"arm64\". Must match the platform the image was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it). The sanitizer streams, so memory does not grow with the photo's size."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. The queue's visibility timeout is derived from it (6 x timeout + batching window, per AWS guidance for SQS event sources)."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function; -1 for no reservation. 0 is rejected: pause processing with enabled = false instead."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrent_executions == -1 || (var.reserved_concurrent_executions >= 1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions)
    error_message = "reserved_concurrent_executions must be -1 or a whole number of at least 1."
  }
}

variable "orientation_policy" {
  description = "What the sanitizer does with the EXIF Orientation tag (docs/design.md \"Sanitizer: orientation\"): \"apply\" turns the pixels, \"keep-tag\" keeps a minimal APP1 with only the tag, \"drop\" ignores it."
  type        = string
  default     = "apply"

  validation {
    condition     = contains(["apply", "keep-tag", "drop"], var.orientation_policy)
    error_message = "orientation_policy must be \"apply\", \"keep-tag\" or \"drop\"."
  }
}

variable "max_bytes" {
  description = "Largest input the sanitizer accepts, in bytes (MAX_BYTES); larger objects are rejected without retry, before their body is read. Pixel work (turns, re-encodes) has no separate pixel limit: the function bounds it by a budget derived from memory_size."
  type        = number
  default     = 536870912 # 512 MiB, the one byte limit of the README, the CLI and the function

  validation {
    condition     = var.max_bytes >= 1 && floor(var.max_bytes) == var.max_bytes
    error_message = "max_bytes must be a whole number of at least 1."
  }
}

variable "damaged_policy" {
  description = "What the sanitizer does with a photo it cannot copy losslessly but can still decode (docs/design.md \"Damaged input\", DAMAGED_POLICY): \"reencode\" writes a re-encode of its pixels, \"reject\" rejects it."
  type        = string
  default     = "reencode"

  validation {
    condition     = contains(["reencode", "reject"], var.damaged_policy)
    error_message = "damaged_policy must be \"reencode\" or \"reject\"."
  }
}

variable "batch_threads" {
  description = "Records of one SQS batch the function processes concurrently (BATCH_THREADS); the work is mostly S3 I/O. Two events of one key still run in order."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_threads >= 1 && var.batch_threads <= 64 && floor(var.batch_threads) == var.batch_threads
    error_message = "batch_threads must be a whole number between 1 and 64."
  }
}

variable "log_level" {
  description = "Log level of the function (LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "powertools_service_name" {
  description = "Service name in the function's logs and metrics (POWERTOOLS_SERVICE_NAME)."
  type        = string
  default     = "exif-stripper"
}

variable "powertools_metrics_namespace" {
  description = "CloudWatch namespace of the function's metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "ExifStripper"
}

################################################################################
# Queue and event source mapping
################################################################################

variable "enabled" {
  description = "Whether the function consumes the queue. false pauses processing; events keep queueing until message_retention_seconds."
  type        = bool
  default     = true
}

variable "batch_size" {
  description = "Most records per invocation. Above 10, maximum_batching_window_in_seconds must be at least 1 (an SQS rule)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping may wait to fill a batch, in seconds."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations the queue drives. Keep it at or below reserved_concurrent_executions, or the surplus is throttled."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency
    error_message = "maximum_concurrency must be a whole number between 2 and 1000."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue (failed attempts, including transient errors)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the event queue keeps a message, in seconds."
  type        = number
  default     = 345600 # 4 days

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message, in seconds. SQS keeps a message's original enqueue time when it moves, so this should be longer than message_retention_seconds."
  type        = number
  default     = 1209600 # 14 days, the maximum

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number between 60 and 1209600 (14 days)."
  }
}

################################################################################
# Logs and alarms
################################################################################

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_group_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the log group; null uses CloudWatch Logs' own encryption. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null

  validation {
    condition     = var.log_group_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_group_kms_key_arn))
    error_message = "log_group_kms_key_arn must be null or a KMS key ARN."
  }
}

variable "queue_age_alarm_seconds" {
  description = "The queue-age alarm fires when the oldest event has waited longer than this many seconds, five minutes running: processing is paused, failing or too slow for the load."
  type        = number
  default     = 300

  validation {
    condition     = var.queue_age_alarm_seconds >= 60 && floor(var.queue_age_alarm_seconds) == var.queue_age_alarm_seconds
    error_message = "queue_age_alarm_seconds must be a whole number of at least 60."
  }
}

variable "rejected_alarm_threshold" {
  description = "The rejected-photos alarm fires when more than this many photos are rejected (the function's ObjectsRejected metric) within five minutes. 0: any rejection."
  type        = number
  default     = 0

  validation {
    condition     = var.rejected_alarm_threshold >= 0 && floor(var.rejected_alarm_threshold) == var.rejected_alarm_threshold
    error_message = "rejected_alarm_threshold must be a whole number of at least 0."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm fires or recovers; null creates the alarms without notifications."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be null or an SNS topic ARN."
  }
}

variable "tags" {
  description = "Tags for every resource of the module that supports them."
  type        = map(string)
  default     = {}
}
