variable "name" {
  description = "Name prefix; the domain is named <name> truncated to 28 characters."
  type        = string
}

variable "engine_version" {
  description = "OpenSearch engine version."
  type        = string
  default     = "OpenSearch_2.19"
}

variable "vpc_id" {
  description = "VPC the domain lives in."
  type        = string
}

variable "subnet_ids" {
  description = "Two database subnets (one per AZ) for the domain's ENIs."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach the domain over HTTPS (the Lambda functions)."
  type        = list(string)
}

variable "instance_type" {
  description = "Data node instance type."
  type        = string
  default     = "r7g.large.search"
}

variable "instance_count" {
  description = "Number of data nodes (a multiple of the AZ count)."
  type        = number
  default     = 2
}

variable "dedicated_master_enabled" {
  description = "Run three dedicated master nodes (recommended for production)."
  type        = bool
  default     = true
}

variable "dedicated_master_type" {
  description = "Dedicated master instance type."
  type        = string
  default     = "m7g.medium.search"
}

variable "volume_size_gb" {
  description = "gp3 EBS volume per data node, GiB."
  type        = number
  default     = 100
}

variable "master_user_arn" {
  description = "IAM role mapped to the fine-grained access control master user (all_access)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest."
  type        = string
}

variable "log_kms_key_arn" {
  description = "KMS key for the domain's log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the audit, slow and application logs."
  type        = number
  default     = 365
}

variable "tls_security_policy" {
  description = "TLS policy of the HTTPS endpoint (TLS 1.2 minimum)."
  type        = string
  default     = "Policy-Min-TLS-1-2-PFS-2023-10"

  validation {
    condition     = contains(["Policy-Min-TLS-1-2-2019-07", "Policy-Min-TLS-1-2-PFS-2023-10"], var.tls_security_policy)
    error_message = "Only TLS 1.2+ policies are allowed."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
