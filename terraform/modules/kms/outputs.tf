output "app_key_arn" {
  description = "ARN of the application key."
  value       = aws_kms_key.app.arn
}

output "app_key_id" {
  description = "Id of the application key."
  value       = aws_kms_key.app.key_id
}

output "database_key_arn" {
  description = "ARN of the database key."
  value       = aws_kms_key.database.arn
}

output "database_key_id" {
  description = "Id of the database key."
  value       = aws_kms_key.database.key_id
}
