variable "name" {
  description = "Name prefix, e.g. anomaly-guardian-prod."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod (prod refuses to run without its own domain and certificate)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving the console bucket's S3 server access logs (the storage module's log bucket)."
  type        = string
}

variable "domain_name" {
  description = "Custom domain of the console (an alias on the distribution), e.g. console.example.com; null: the *.cloudfront.net name."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate (in us-east-1) for domain_name; with it the viewer TLS policy is TLSv1.2_2021."
  type        = string
  default     = null
}

variable "mfa" {
  description = "Cognito MFA: ON (every analyst enrols a TOTP app) or OPTIONAL."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL"], var.mfa)
    error_message = "mfa must be ON or OPTIONAL."
  }
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before the console's web ACL blocks it."
  type        = number
  default     = 1000
}

variable "log_retention_days" {
  description = "Retention of the console WAF's log group."
  type        = number
  default     = 365
}

variable "key_admin_arns" {
  description = "Principals administering the console's us-east-1 log key, besides the account root."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow deleting the console bucket with objects in it (dev)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
