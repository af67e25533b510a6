variable "cost_allocation_tag_keys" {
  description = "Tag keys activated as cost allocation tags (payer account only, once they appear in billing data; e.g. [\"project\", \"environment\"]): the monthly report's system cost filters by them."
  type        = list(string)
  default     = []
}

variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-1"
}

variable "azs" {
  description = "Two availability zones in the region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints; [] routes those AWS API calls through NAT (cheaper at low volume)."
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
  description = "OpenSearch data nodes."
  type        = number
  default     = 2
}

variable "opensearch_dedicated_masters" {
  description = "Three dedicated master nodes."
  type        = bool
  default     = true
}

variable "opensearch_volume_size_gb" {
  description = "EBS per OpenSearch data node, GiB."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of infrastructure log groups."
  type        = number
  default     = 365
}

variable "key_admin_arns" {
  description = "Principals administering the KMS keys (the deploy role)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let destroy remove non-empty buckets."
  type        = bool
  default     = false
}

variable "console_domain_name" {
  description = "The console's own domain; null: its *.cloudfront.net name (prod must set one)."
  type        = string
  default     = null
}

variable "console_certificate_arn" {
  description = "ACM certificate (us-east-1) for console_domain_name; prod must set one."
  type        = string
  default     = null
}

variable "console_mfa" {
  description = "Cognito MFA for analysts: ON or OPTIONAL."
  type        = string
  default     = "ON"
}
