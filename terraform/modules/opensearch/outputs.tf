output "endpoint" {
  description = "HTTPS endpoint of the domain (VPC)."
  value       = aws_opensearch_domain.this.endpoint
}

output "domain_arn" {
  description = "ARN of the domain."
  value       = aws_opensearch_domain.this.arn
}

output "domain_name" {
  description = "Name of the domain."
  value       = aws_opensearch_domain.this.domain_name
}

output "security_group_id" {
  description = "Security group of the domain."
  value       = aws_security_group.domain.id
}
