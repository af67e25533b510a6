variable "name" {
  description = "Name prefix, e.g. anomaly-guardian-prod."
  type        = string
}

variable "enabled" {
  description = "Watch this account's API usage. false: no trail and no subscription (the contract publishes \"disabled\")."
  type        = bool
  default     = true
}

variable "existing_log_group_name" {
  description = "Adopt an existing trail: the CloudWatch Logs group it already delivers to. Set, nothing else is created."
  type        = string
  default     = ""
}

variable "organization_trail" {
  description = "An organization trail (apply from the AWS Organizations management account or a delegated administrator): every member account is watched."
  type        = bool
  default     = false
}

variable "lambda_data_events" {
  description = "Record Lambda Invoke data events (the per-function Invoke detector needs them)."
  type        = bool
  default     = true
}

variable "s3_data_event_arns" {
  description = "Optionally record S3 object-level data events for these bucket ARN prefixes (e.g. [\"arn:aws:s3:::my-bucket/\"]); empty: none. Data events are billed per event."
  type        = list(string)
  default     = []
}

variable "log_group_retention_days" {
  description = "Days the CloudWatch Logs copy is kept (the usage path reads it within minutes; S3 keeps the trail)."
  type        = number
  default     = 14
}

variable "s3_retention_days" {
  description = "Days trail log files are kept in S3 (Glacier Instant Retrieval after 90)."
  type        = number
  default     = 400
}

variable "key_admin_arns" {
  description = "IAM principals that administer the trail's KMS key (the account root always can)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow destroying the trail bucket with objects in it (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
