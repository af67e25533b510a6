variable "name" {
  description = "Name prefix, e.g. anomaly-guardian-prod."
  type        = string
}

variable "rate_limit" {
  description = "Requests per 5-minute window from one IP before the rate-based rule blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit must be between 10 and 2,000,000,000 (AWS WAF limits)."
  }
}

variable "log_retention_days" {
  description = "Retention of the WAF logs."
  type        = number
  default     = 365
}

variable "log_all_requests" {
  description = "Log every request (true) or only blocked and counted ones (false, the cost-aware default)."
  type        = bool
  default     = false
}

variable "log_kms_key_arn" {
  description = "KMS key ARN encrypting the WAF log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "scope" {
  description = "REGIONAL (API Gateway) or CLOUDFRONT (a distribution; the provider must be in us-east-1)."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "CLOUDFRONT"], var.scope)
    error_message = "scope must be REGIONAL or CLOUDFRONT."
  }
}
