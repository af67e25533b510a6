variable "name" {
  description = "Name prefix, e.g. anomaly-guardian-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the cost alerts topic (its policy must let costalerts.amazonaws.com use it)."
  type        = string
}

variable "total_impact_threshold_usd" {
  description = "Alert when an anomaly's total impact reaches this many dollars (the seed's default: 100)."
  type        = number
  default     = 100
}

variable "linked_account_ids" {
  description = "Organization member accounts to monitor one by one; set only when applied from the management account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.linked_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "linked_account_ids must be 12-digit AWS account ids."
  }
}

variable "digest_emails" {
  description = "Addresses for a daily e-mail digest of cost anomalies above the threshold (optional)."
  type        = list(string)
  default     = []
}

variable "cost_allocation_tag_keys" {
  description = "Tag keys to activate as cost allocation tags (e.g. [\"project\", \"environment\"]), so Cost Explorer can filter the system's own cost by them (the monthly report's system_cost). Only from the payer (management or standalone) account, and only once the keys appear in billing data (up to 24 h after first use)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
