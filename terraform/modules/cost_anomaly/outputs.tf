output "service_monitor_arn" {
  description = "ARN of the per-service anomaly monitor (GetAnomalies MonitorArn)."
  value       = aws_ce_anomaly_monitor.services.arn
}

output "monitor_arns" {
  description = "Every monitor this module created (service monitor first, then per linked account)."
  value       = concat([aws_ce_anomaly_monitor.services.arn], [for m in aws_ce_anomaly_monitor.linked_account : m.arn])
}

output "topic_arn" {
  description = "SNS topic Cost Anomaly Detection publishes to (encrypted with kms_key_arn)."
  value       = aws_sns_topic.cost_alerts.arn
}
