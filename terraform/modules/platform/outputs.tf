output "ssm_parameters" {
  description = "Every contract parameter name published for SAM and ml/."
  value       = module.contract.parameter_names
}

output "kinesis_stream_name" {
  description = "Event stream name."
  value       = module.kinesis.stream_name
}

output "opensearch_endpoint" {
  description = "OpenSearch VPC endpoint."
  value       = module.opensearch.endpoint
}

output "web_acl_arn" {
  description = "WAF web ACL ARN."
  value       = module.waf.web_acl_arn
}

output "bucket_names" {
  description = "S3 bucket names by purpose."
  value       = module.storage.bucket_names
}

output "console_url" {
  description = "Where analysts open the console."
  value       = module.console.console_url
}
