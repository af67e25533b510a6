variable "environment" {
  description = "Deployment environment."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "azs" {
  description = "Two availability zones."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ (dev/staging cost saving)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints (about $15/month each over two AZs); [] sends those API calls through NAT."
  type        = list(string)
  default     = ["kinesis-streams", "ssm", "secretsmanager", "sts", "logs", "kms", "sagemaker.runtime"]
}

variable "kinesis_stream_mode" {
  description = "ON_DEMAND or PROVISIONED."
  type        = string
  default     = "ON_DEMAND"
}

variable "kinesis_shard_count" {
  description = "Shards when PROVISIONED."
  type        = number
  default     = 1
}

variable "opensearch_instance_type" {
  description = "OpenSearch data node type."
  type        = string
  default     = "r7g.large.search"
}

variable "opensearch_instance_count" {
  description = "OpenSearch data nodes (multiple of 2)."
  type        = number
  default     = 2
}

variable "opensearch_dedicated_masters" {
  description = "Three dedicated master nodes (prod)."
  type        = bool
  default     = true
}

variable "opensearch_volume_size_gb" {
  description = "EBS per OpenSearch data node, GiB."
  type        = number
  default     = 100
}

variable "waf_rate_limit" {
  description = "WAF rate-based rule limit per IP per 5 minutes."
  type        = number
  default     = 2000
}

variable "log_retention_days" {
  description = "Retention of infrastructure log groups (flow, WAF, OpenSearch)."
  type        = number
  default     = 365
}

variable "key_admin_arns" {
  description = "Principals allowed to administer the KMS keys (the deploy role)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let destroy remove non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "cost_impact_threshold_usd" {
  description = "Cost Anomaly Detection alerts when an anomaly's total impact reaches this many dollars."
  type        = number
  default     = 100
}

variable "cost_linked_account_ids" {
  description = "Member accounts monitored one by one (only when applied from the organization's management account)."
  type        = list(string)
  default     = []
}

variable "cost_digest_emails" {
  description = "Optional daily e-mail digest of cost anomalies."
  type        = list(string)
  default     = []
}

variable "cost_allocation_tag_keys" {
  description = "Tag keys activated as cost allocation tags (payer account only; e.g. [\"project\", \"environment\"]): the monthly report's system cost filters by them."
  type        = list(string)
  default     = []
}

variable "cloudtrail_enabled" {
  description = "Create (or adopt) the usage trail; false disables usage monitoring."
  type        = bool
  default     = true
}

variable "cloudtrail_existing_log_group_name" {
  description = "Adopt an existing trail by its CloudWatch Logs group (nothing is created then)."
  type        = string
  default     = ""
}

variable "cloudtrail_organization_trail" {
  description = "Organization trail (apply from the Organizations management or delegated-admin account)."
  type        = bool
  default     = false
}

variable "cloudtrail_s3_data_event_arns" {
  description = "Optional S3 object data events for these ARN prefixes (billed per event)."
  type        = list(string)
  default     = []
}

variable "console_domain_name" {
  description = "The console's own domain (CloudFront alias); null: its *.cloudfront.net name. Required in prod."
  type        = string
  default     = null
}

variable "console_certificate_arn" {
  description = "ACM certificate in us-east-1 for console_domain_name (viewer TLS policy TLSv1.2_2021). Required in prod."
  type        = string
  default     = null
}

variable "console_mfa" {
  description = "Cognito MFA for analysts: ON or OPTIONAL."
  type        = string
  default     = "ON"
}
