output "bucket_names" {
  description = "Bucket names by purpose (models, reports, archive)."
  value       = { for k, b in aws_s3_bucket.this : k => b.id }
}

output "bucket_arns" {
  description = "Bucket ARNs by purpose."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "access_log_bucket_name" {
  description = "S3 server access log bucket."
  value       = aws_s3_bucket.logs.id
}
