variable "name" {
  description = "Name prefix for the key aliases, e.g. anomaly-guardian-prod."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "key_admin_arns" {
  description = "IAM principals allowed to administer (not use) the keys, e.g. the deploy role. Empty: the account root only."
  type        = list(string)
  default     = []
}

variable "principal_tag_value" {
  description = "Value of the principal tag `project` that lets an IAM role call the application key directly (Lambda roles carry it)."
  type        = string
  default     = "anomaly-guardian"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
