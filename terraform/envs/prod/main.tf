locals {
  default_tags = {
    project     = "anomaly-guardian"
    environment = "prod"
    managed-by  = "terraform"
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront's web ACLs (the console's) and their log key live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.default_tags
  }
}

module "platform" {
  source    = "../../modules/platform"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  environment                  = "prod"
  azs                          = var.azs
  single_nat_gateway           = var.single_nat_gateway
  interface_endpoints          = var.interface_endpoints
  kinesis_stream_mode          = var.kinesis_stream_mode
  kinesis_shard_count          = var.kinesis_shard_count
  opensearch_instance_type     = var.opensearch_instance_type
  opensearch_instance_count    = var.opensearch_instance_count
  opensearch_dedicated_masters = var.opensearch_dedicated_masters
  opensearch_volume_size_gb    = var.opensearch_volume_size_gb
  log_retention_days           = var.log_retention_days
  key_admin_arns               = var.key_admin_arns
  force_destroy                = var.force_destroy
  console_domain_name          = var.console_domain_name
  console_certificate_arn      = var.console_certificate_arn
  console_mfa                  = var.console_mfa
  cost_allocation_tag_keys     = var.cost_allocation_tag_keys
}
