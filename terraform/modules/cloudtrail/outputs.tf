output "log_group_name" {
  description = "The CloudWatch Logs group usage_ingest subscribes to (the adopted one, ours, or \"disabled\")."
  value       = !var.enabled ? "disabled" : (var.existing_log_group_name != "" ? var.existing_log_group_name : aws_cloudwatch_log_group.trail[0].name)
}

output "trail_arn" {
  description = "ARN of the trail this module created (empty when adopting or disabled)."
  value       = one(aws_cloudtrail.usage[*].arn) != null ? one(aws_cloudtrail.usage[*].arn) : ""
}

output "bucket_name" {
  description = "Bucket holding the trail's log files (empty when adopting or disabled)."
  value       = one(aws_s3_bucket.trail[*].id) != null ? one(aws_s3_bucket.trail[*].id) : ""
}

output "kms_key_arn" {
  description = "KMS key of the trail, its bucket and log group (empty when adopting or disabled)."
  value       = one(aws_kms_key.trail[*].arn) != null ? one(aws_kms_key.trail[*].arn) : ""
}
