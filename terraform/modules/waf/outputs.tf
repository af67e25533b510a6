output "web_acl_arn" {
  description = "ARN of the web ACL SAM associates with the API stage."
  value       = aws_wafv2_web_acl.api.arn
}

output "ip_set_id" {
  description = "Id of the dynamic block IP set."
  value       = aws_wafv2_ip_set.blocked.id
}

output "ip_set_name" {
  description = "Name of the dynamic block IP set."
  value       = aws_wafv2_ip_set.blocked.name
}

output "ip_set_arn" {
  description = "ARN of the dynamic block IP set."
  value       = aws_wafv2_ip_set.blocked.arn
}
