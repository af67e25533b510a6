variable "name" {
  description = "Stream name, e.g. anomaly-guardian-prod-events."
  type        = string
}

variable "stream_mode" {
  description = "ON_DEMAND (default, no capacity planning) or PROVISIONED (cheaper at a steady 2M events/day)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards when stream_mode is PROVISIONED (ignored otherwise)."
  type        = number
  default     = 1
}

variable "retention_hours" {
  description = "How long records stay replayable."
  type        = number
  default     = 24
}

variable "kms_key_arn" {
  description = "KMS key encrypting the stream."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
