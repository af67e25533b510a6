output "state_bucket" {
  description = "Terraform state bucket for the env roots (backend-config bucket=...)."
  value       = aws_s3_bucket.state.id
}

output "deploy_role_arns" {
  description = "GitHub deploy role per environment (repository variable AWS_DEPLOY_ROLE_ARN in each GitHub environment)."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "ml_role_arn" {
  description = "GitHub role for ml.yml (SageMaker pipeline upsert/start)."
  value       = aws_iam_role.ml.arn
}
