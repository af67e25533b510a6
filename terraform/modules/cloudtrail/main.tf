# The account's (or organization's) CloudTrail trail for usage monitoring: multi-region, management
# events plus Lambda data events (optionally S3 data events), log file validation, its own KMS key,
# delivery to S3 and to a CloudWatch Logs group the usage_ingest function subscribes to (SAM reads the
# group's name from the SSM contract). Or adopt an existing trail by naming its log group.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_organizations_organization" "current" {
  count = local.create && var.organization_trail ? 1 : 0
}

locals {
  create     = var.enabled && var.existing_log_group_name == ""
  account    = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  trail_name = "${var.name}-usage"
  trail_arn  = "arn:${local.partition}:cloudtrail:${local.region}:${local.account}:trail/${local.trail_name}"
  log_group  = "/aws/cloudtrail/${var.name}"
  bucket     = "${var.name}-cloudtrail-${local.account}-${local.region}"
  # Organization trails write under AWSLogs/<org id>/<account>/, account trails under AWSLogs/<account>/.
  log_prefixes = var.organization_trail ? [
    "AWSLogs/${local.account}/*",
    "AWSLogs/${one(data.aws_organizations_organization.current[*].id)}/*",
  ] : ["AWSLogs/${local.account}/*"]
}

# --- KMS key for the trail, its bucket and its log group ---
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; writers are CloudTrail and CloudWatch Logs, bound by encryption context and source ARN.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:Key administration is the account root's (and key_admin_arns); no other principal may manage the key.
  count = local.create ? 1 : 0

  statement {
    sid = "AccountAdministers"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
      "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = concat(["arn:${local.partition}:iam::${local.account}:root"], var.key_admin_arns)
    }
  }
  statement {
    sid       = "CloudTrailEncrypts"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account}:trail/*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid       = "CloudTrailDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
  statement {
    sid       = "LogsEncryptsTheLogGroup"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group}"]
    }
  }
  statement {
    sid       = "AccountReadsTrailFiles"
    actions   = ["kms:Decrypt", "kms:ReEncryptFrom"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account}:trail/*"]
    }
  }
}

resource "aws_kms_key" "trail" {
  count                   = local.create ? 1 : 0
  description             = "${var.name} CloudTrail trail, bucket and log group"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "trail" {
  count         = local.create ? 1 : 0
  name          = "alias/${var.name}-cloudtrail"
  target_key_id = aws_kms_key.trail[0].key_id
}

# --- S3 delivery ---
resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_144:Trail files stay in-region; organizations replicate them with their own log archive account.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events: the usage path reads the CloudWatch Logs copy.
  #checkov:skip=CKV_AWS_18:Server access logging of the trail bucket is left to the organization's log archive; CloudTrail itself records data access when S3 data events are on.
  count         = local.create ? 1 : 0
  bucket        = local.bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count                   = local.create ? 1 : 0
  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "trail" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.trail[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id

  rule {
    id     = "trail-retention"
    status = "Enabled"
    filter {}
    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }
    expiration {
      days = var.s3_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  count = local.create ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
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
  statement {
    sid       = "CloudTrailChecksAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid       = "CloudTrailWrites"
    actions   = ["s3:PutObject"]
    resources = [for p in local.log_prefixes : "${aws_s3_bucket.trail[0].arn}/${p}"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  policy = data.aws_iam_policy_document.bucket[0].json
}

# --- CloudWatch Logs delivery (what usage_ingest subscribes to) ---
resource "aws_cloudwatch_log_group" "trail" {
  #checkov:skip=CKV_AWS_338:The CloudWatch Logs copy only feeds the usage path within minutes; the trail itself is kept in S3 (s3_retention_days, 400 by default).
  count             = local.create ? 1 : 0
  name              = local.log_group
  retention_in_days = var.log_group_retention_days
  kms_key_id        = aws_kms_key.trail[0].arn
  tags              = var.tags
}

data "aws_iam_policy_document" "delivery_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

resource "aws_iam_role" "delivery" {
  count              = local.create ? 1 : 0
  name               = "${var.name}-cloudtrail-to-logs"
  assume_role_policy = data.aws_iam_policy_document.delivery_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "delivery" {
  count = local.create ? 1 : 0

  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trail[0].arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "delivery" {
  count  = local.create ? 1 : 0
  name   = "put-log-events"
  role   = aws_iam_role.delivery[0].id
  policy = data.aws_iam_policy_document.delivery[0].json
}

# --- the trail ---
resource "aws_cloudtrail" "usage" {
  #checkov:skip=CKV2_AWS_10:CloudWatch Logs integration is configured (cloud_watch_logs_group_arn); the check misses it behind count.
  #checkov:skip=CKV_AWS_252:No SNS topic per log file: the usage path reads the CloudWatch Logs copy.
  count                         = local.create ? 1 : 0
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  kms_key_id                    = aws_kms_key.trail[0].arn
  is_multi_region_trail         = true
  include_global_service_events = true
  is_organization_trail         = var.organization_trail
  enable_log_file_validation    = true
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail[0].arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.delivery[0].arn
  tags                          = var.tags

  advanced_event_selector {
    name = "Management events"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  dynamic "advanced_event_selector" {
    for_each = var.lambda_data_events ? [1] : []
    content {
      name = "Lambda Invoke data events"
      field_selector {
        field  = "eventCategory"
        equals = ["Data"]
      }
      field_selector {
        field  = "resources.type"
        equals = ["AWS::Lambda::Function"]
      }
    }
  }

  dynamic "advanced_event_selector" {
    for_each = length(var.s3_data_event_arns) > 0 ? [1] : []
    content {
      name = "S3 object data events"
      field_selector {
        field  = "eventCategory"
        equals = ["Data"]
      }
      field_selector {
        field  = "resources.type"
        equals = ["AWS::S3::Object"]
      }
      field_selector {
        field       = "resources.ARN"
        starts_with = var.s3_data_event_arns
      }
    }
  }

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.delivery]
}
