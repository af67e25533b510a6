# AWS Cost Anomaly Detection: an AWS managed monitor per service (DIMENSIONAL SERVICE) and, when this
# runs from an organization's management account, a customer managed monitor per linked account; one
# subscription alerting an encrypted SNS topic (and optional e-mail digests) when an anomaly's total
# impact exceeds the threshold. The `cost_anomalies` function (sam/template.yaml) polls GetAnomalies on
# a schedule and turns each anomaly into a `cost` anomaly correlated with the usage detector's findings.
# Cost Explorer is a global service served from us-east-1: apply this module with a us-east-1 provider.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_ce_anomaly_monitor" "services" {
  name              = "${var.name}-services"
  monitor_type      = "DIMENSIONAL"
  monitor_dimension = "SERVICE"
  tags              = var.tags
}

# Per linked account (management account only): one CUSTOM monitor per account id, so each account's
# spend has its own baseline instead of being averaged into the organization's.
resource "aws_ce_anomaly_monitor" "linked_account" {
  for_each = toset(var.linked_account_ids)

  name         = "${var.name}-account-${each.value}"
  monitor_type = "CUSTOM"
  monitor_specification = jsonencode({
    And            = null
    CostCategories = null
    Dimensions = {
      Key          = "LINKED_ACCOUNT"
      MatchOptions = null
      Values       = [each.value]
    }
    Not  = null
    Or   = null
    Tags = null
  })
  tags = var.tags
}

resource "aws_sns_topic" "cost_alerts" {
  name              = "${var.name}-cost-anomalies"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "cost_alerts" {
  statement {
    sid       = "CostAnomalyDetectionPublishes"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.cost_alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["costalerts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.cost_alerts.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "cost_alerts" {
  arn    = aws_sns_topic.cost_alerts.arn
  policy = data.aws_iam_policy_document.cost_alerts.json
}

# IMMEDIATE subscriptions can only deliver to SNS; e-mail digests need DAILY or WEEKLY.
resource "aws_ce_anomaly_subscription" "immediate" {
  name      = "${var.name}-cost-impact"
  frequency = "IMMEDIATE"
  monitor_arn_list = concat(
    [aws_ce_anomaly_monitor.services.arn],
    [for m in aws_ce_anomaly_monitor.linked_account : m.arn],
  )

  subscriber {
    type    = "SNS"
    address = aws_sns_topic.cost_alerts.arn
  }

  threshold_expression {
    dimension {
      key           = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
      match_options = ["GREATER_THAN_OR_EQUAL"]
      values        = [tostring(var.total_impact_threshold_usd)]
    }
  }

  tags       = var.tags
  depends_on = [aws_sns_topic_policy.cost_alerts]
}

resource "aws_ce_anomaly_subscription" "digest" {
  count = length(var.digest_emails) > 0 ? 1 : 0

  name      = "${var.name}-cost-digest"
  frequency = "DAILY"
  monitor_arn_list = concat(
    [aws_ce_anomaly_monitor.services.arn],
    [for m in aws_ce_anomaly_monitor.linked_account : m.arn],
  )

  dynamic "subscriber" {
    for_each = var.digest_emails
    content {
      type    = "EMAIL"
      address = subscriber.value
    }
  }

  threshold_expression {
    dimension {
      key           = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
      match_options = ["GREATER_THAN_OR_EQUAL"]
      values        = [tostring(var.total_impact_threshold_usd)]
    }
  }

  tags = var.tags
}

# The monthly report filters GetCostAndUsage by the stack's tags: Cost Explorer only knows activated keys.
resource "aws_ce_cost_allocation_tag" "this" {
  for_each = toset(var.cost_allocation_tag_keys)

  tag_key = each.value
  status  = "Active"
}
