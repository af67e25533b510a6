output "ssm_parameters" {
  description = "SSM contract parameters SAM reads."
  value       = module.platform.ssm_parameters
}

output "kinesis_stream_name" {
  description = "Event stream name."
  value       = module.platform.kinesis_stream_name
}

output "opensearch_endpoint" {
  description = "OpenSearch VPC endpoint."
  value       = module.platform.opensearch_endpoint
}

output "console_url" {
  description = "Where analysts open the console."
  value       = module.platform.console_url
}
