output "vpc_id" {
  description = "VPC id."
  value       = module.vpc.vpc_id
}

output "vpc_cidr" {
  description = "VPC CIDR block."
  value       = module.vpc.vpc_cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet ids (NAT only)."
  value       = module.vpc.public_subnets
}

output "private_subnet_ids" {
  description = "Private subnet ids for Lambda functions."
  value       = module.vpc.private_subnets
}

output "database_subnet_ids" {
  description = "Database subnet ids for OpenSearch."
  value       = module.vpc.database_subnets
}

output "lambda_security_group_id" {
  description = "Security group attached to every Lambda function."
  value       = aws_security_group.lambda.id
}

output "endpoint_ids" {
  description = "VPC endpoint ids by service."
  value       = { for k, v in module.endpoints.endpoints : k => v.id }
}
