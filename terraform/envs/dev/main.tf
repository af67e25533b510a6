provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "anomaly-guardian"
      environment = "dev"
      managed-by  = "terraform"
    }
  }
}

module "platform" {
  source = "../../modules/platform"

  environment                  = "dev"
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
}
