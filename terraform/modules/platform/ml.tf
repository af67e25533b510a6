# What ml/pipeline.py needs: the raw-event archive it trains on (Kinesis -> Firehose -> S3), a model
# package group, the container image, and the ml/ part of the SSM contract (see main.tf).
data "aws_region" "current" {}

# The job image (ml/container/Dockerfile: Python 3.11 + the tested pins; the prebuilt SageMaker
# scikit-learn images ship Python 3.9/3.10, which the package cannot run on). `make ml-image ENV=` and
# the ml.yml workflow build and push it here and write its digest URI into ml/sklearn-image-uri.
resource "aws_ecr_repository" "ml_jobs" {
  name                 = "${local.name}-ml-jobs"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false
  tags                 = local.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.kms.app_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "ml_jobs" {
  repository = aws_ecr_repository.ml_jobs.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 20 job images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

# Written by `make ml-image` (repository@sha256:digest); Terraform only creates it, with a value the
# pipeline factory refuses ("not built yet"), and never resets what the build wrote.
resource "aws_ssm_parameter" "job_image" {
  #checkov:skip=CKV2_AWS_34:Non-secret identifier; read by ml/pipeline.py like the rest of the contract.
  name        = "${local.prefix}/ml/sklearn-image-uri"
  description = "Anomaly Guardian ML job image (written by make ml-image)"
  type        = "String"
  value       = "${aws_ecr_repository.ml_jobs.repository_url}:not-built"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_sagemaker_model_package_group" "detector" {
  model_package_group_name        = "${local.name}-detector"
  model_package_group_description = "Anomaly Guardian detector models (registered by the ml/ pipeline when they beat the champion)"
  tags                            = local.tags
}

# --- archive: every event on the stream lands, compressed, under s3://<archive>/events/ ---
data "aws_iam_policy_document" "firehose_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "firehose" {
  statement {
    sid       = "ReadStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
    resources = [module.kinesis.stream_arn]
  }
  statement {
    sid       = "WriteArchive"
    actions   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"]
    resources = [module.storage.bucket_arns["archive"], "${module.storage.bucket_arns["archive"]}/*"]
  }
  statement {
    sid       = "AppKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.kms.app_key_arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${local.name}-archive-firehose"
  assume_role_policy = data.aws_iam_policy_document.firehose_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "firehose" {
  name   = "archive"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_cloudwatch_log_group" "firehose" {
  name              = "/aws/kinesisfirehose/${local.name}-archive"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.app_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_stream" "firehose" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "archive" {
  #checkov:skip=CKV_AWS_240:The source is the KMS-encrypted Kinesis stream; Firehose server-side encryption only applies to Direct PUT sources.
  #checkov:skip=CKV_AWS_241:Same as CKV_AWS_240; objects are written SSE-KMS with the application key (kms_key_arn below).
  name        = "${local.name}-archive"
  destination = "extended_s3"
  tags        = local.tags

  kinesis_source_configuration {
    kinesis_stream_arn = module.kinesis.stream_arn
    role_arn           = aws_iam_role.firehose.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = module.storage.bucket_arns["archive"]
    kms_key_arn         = module.kms.app_key_arn
    prefix              = "events/dt=!{timestamp:yyyy-MM-dd}/"
    error_output_prefix = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    buffering_size      = 64
    buffering_interval  = 300
    compression_format  = "GZIP"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose.name
    }
  }

  depends_on = [aws_iam_role_policy.firehose]
}
