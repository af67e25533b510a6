# Two customer managed keys with yearly rotation:
#  - application: Kinesis, SQS, SNS, S3, Lambda environment, Step Functions, CloudWatch Logs, SSM;
#  - database: DynamoDB tables and the OpenSearch domain.
# Key policies are least privilege: the account root keeps administration only (so the key can never be
# orphaned); data-plane use is granted through named AWS services (kms:ViaService) in this account, to
# the log service for encrypted log groups, and to the few service principals that publish into
# encrypted queues/topics. Direct Encrypt/Decrypt (webhook secrets, encrypted amounts) needs the
# `project` principal tag the Lambda roles carry.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  root_arn   = "arn:${local.partition}:iam::${local.account_id}:root"
  admins     = length(var.key_admin_arns) > 0 ? var.key_admin_arns : [local.root_arn]

  app_services = ["kinesis", "sqs", "sns", "s3", "lambda", "states", "ssm", "secretsmanager", "sagemaker", "events", "ecr"]
  db_services  = ["dynamodb", "es"]

  usage_actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
  admin_actions = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
  ]
}

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "RootAdministration"
    actions   = local.admin_actions
    resources = ["*"] # "*" in a key policy means this key
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
  }

  statement {
    sid       = "KeyAdministrators"
    actions   = local.admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }

  statement {
    sid       = "UseThroughApplicationServices"
    actions   = concat(local.usage_actions, ["kms:CreateGrant"])
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for s in local.app_services : "${s}.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DirectUseByTaggedProjectRoles"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/project"
      values   = [var.principal_tag_value]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryption"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "ServicePublishersToEncryptedQueuesAndTopics"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com", "costalerts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "database" {
  statement {
    sid       = "RootAdministration"
    actions   = local.admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
  }

  statement {
    sid       = "KeyAdministrators"
    actions   = local.admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }

  statement {
    sid       = "UseThroughDatabaseServices"
    actions   = concat(local.usage_actions, ["kms:CreateGrant"])
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for s in local.db_services : "${s}.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "app" {
  description             = "${var.name} application data (Kinesis, SQS, SNS, S3, logs, Lambda)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.app.json
  tags                    = var.tags
}

resource "aws_kms_alias" "app" {
  name          = "alias/${var.name}-app"
  target_key_id = aws_kms_key.app.key_id
}

resource "aws_kms_key" "database" {
  description             = "${var.name} databases (DynamoDB, OpenSearch)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.database.json
  tags                    = var.tags
}

resource "aws_kms_alias" "database" {
  name          = "alias/${var.name}-database"
  target_key_id = aws_kms_key.database.key_id
}
