variable "name" {
  description = "Bucket name prefix, e.g. anomaly-guardian-prod; the account id and region are appended for uniqueness."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS on the models, reports and archive buckets."
  type        = string
}

variable "archive_expiration_days" {
  description = "Days after which archived raw events are deleted (retention)."
  type        = number
  default     = 730
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced object version is kept."
  type        = number
  default     = 90
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
