# One environment's long-lived infrastructure, composed from the modules, and the SSM contract
# SAM (sam/template.yaml parameters) and ml/ read. Keep the contract keys in step with the template:
# tests/infra/test_contract.py fails when they drift.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name   = "anomaly-guardian-${var.environment}"
  prefix = "/anomaly-guardian/${var.environment}"
  tags   = merge({ project = "anomaly-guardian", environment = var.environment }, var.tags)
}

locals {
  # The one name of the retraining pipeline: ml/pipeline.py, `make ml-pipeline`, the notebook and the
  # SAM stack's retrain rule all read it from the contract (ml/pipeline-name).
  pipeline_name = "${local.name}-retrain"
}

module "kms" {
  source         = "../kms"
  name           = local.name
  key_admin_arns = var.key_admin_arns
  tags           = local.tags
}

module "network" {
  source                  = "../network"
  name                    = local.name
  azs                     = var.azs
  single_nat_gateway      = var.single_nat_gateway
  interface_endpoints     = var.interface_endpoints
  flow_log_retention_days = var.log_retention_days
  log_kms_key_arn         = module.kms.app_key_arn
  tags                    = local.tags
}

module "kinesis" {
  source      = "../kinesis"
  name        = "${local.name}-events"
  stream_mode = var.kinesis_stream_mode
  shard_count = var.kinesis_shard_count
  kms_key_arn = module.kms.app_key_arn
  tags        = local.tags
}

module "waf" {
  source             = "../waf"
  name               = local.name
  rate_limit         = var.waf_rate_limit
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = module.kms.app_key_arn
  tags               = local.tags
}

module "storage" {
  source        = "../storage"
  name          = local.name
  kms_key_arn   = module.kms.app_key_arn
  force_destroy = var.force_destroy
  tags          = local.tags
}

# The analyst console: bucket + CloudFront (OAC, security headers, CLOUDFRONT web ACL in us-east-1) and
# the Cognito user pool whose ID tokens the API's authorizer accepts (docs/console.md).
module "console" {
  source    = "../console"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  name               = local.name
  environment        = var.environment
  access_log_bucket  = module.storage.access_log_bucket_name
  domain_name        = var.console_domain_name
  certificate_arn    = var.console_certificate_arn
  mfa                = var.console_mfa
  log_retention_days = var.log_retention_days
  key_admin_arns     = var.key_admin_arns
  force_destroy      = var.force_destroy
  tags               = local.tags
}

module "cost_anomaly" {
  source                     = "../cost_anomaly"
  name                       = local.name
  kms_key_arn                = module.kms.app_key_arn
  total_impact_threshold_usd = var.cost_impact_threshold_usd
  linked_account_ids         = var.cost_linked_account_ids
  digest_emails              = var.cost_digest_emails
  cost_allocation_tag_keys   = var.cost_allocation_tag_keys
  tags                       = local.tags
}

module "cloudtrail" {
  source                  = "../cloudtrail"
  name                    = local.name
  enabled                 = var.cloudtrail_enabled
  existing_log_group_name = var.cloudtrail_existing_log_group_name
  organization_trail      = var.cloudtrail_organization_trail
  s3_data_event_arns      = var.cloudtrail_s3_data_event_arns
  key_admin_arns          = var.key_admin_arns
  force_destroy           = var.force_destroy
  tags                    = local.tags
}

# FGAC master: an IAM role operators assume to map OpenSearch roles (e.g. the detector role to a writer).
data "aws_iam_policy_document" "opensearch_admin_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role" "opensearch_admin" {
  name                 = "${local.name}-opensearch-admin"
  assume_role_policy   = data.aws_iam_policy_document.opensearch_admin_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

module "opensearch" {
  source                     = "../opensearch"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.database_subnet_ids
  allowed_security_group_ids = [module.network.lambda_security_group_id]
  instance_type              = var.opensearch_instance_type
  instance_count             = var.opensearch_instance_count
  dedicated_master_enabled   = var.opensearch_dedicated_masters
  volume_size_gb             = var.opensearch_volume_size_gb
  master_user_arn            = aws_iam_role.opensearch_admin.arn
  kms_key_arn                = module.kms.database_key_arn
  log_kms_key_arn            = module.kms.app_key_arn
  log_retention_days         = var.log_retention_days
  tags                       = local.tags
}

# SageMaker execution role for the ml/ pipeline: read/write the models bucket, use the app key, logs.
data "aws_iam_policy_document" "sagemaker_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ModelsBucketObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.storage.bucket_arns["models"]}/*", "${module.storage.bucket_arns["archive"]}/*"]
  }
  statement {
    sid       = "ModelsBucketList"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [module.storage.bucket_arns["models"], module.storage.bucket_arns["archive"]]
  }
  statement {
    sid       = "AppKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [module.kms.app_key_arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:*:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/*"]
  }
  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; scoped by namespace below.
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*", "AnomalyGuardian*"]
    }
  }
  statement {
    sid = "RunPipelineJobs"
    actions = [
      "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
      "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:sagemaker:*:${data.aws_caller_identity.current.account_id}:processing-job/*",
      "arn:${data.aws_partition.current.partition}:sagemaker:*:${data.aws_caller_identity.current.account_id}:training-job/*",
    ]
  }
  statement {
    sid = "RegisterModels"
    actions = [
      "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages",
      "sagemaker:DescribeModelPackageGroup", "sagemaker:UpdateModelPackage",
    ]
    resources = [
      aws_sagemaker_model_package_group.detector.arn,
      "arn:${data.aws_partition.current.partition}:sagemaker:*:${data.aws_caller_identity.current.account_id}:model-package/${local.name}-detector/*",
    ]
  }
  statement {
    sid       = "PassSelfToJobs"
    actions   = ["iam:PassRole"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${local.name}-sagemaker"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid = "VpcJobsDescribe"
    actions = [
      "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
      "ec2:DescribeDhcpOptions",
    ]
    resources = ["*"] # Describe calls have no resource-level permissions
  }
  statement {
    sid = "VpcJobsNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
      "ec2:DeleteNetworkInterfacePermission",
    ]
    resources = concat(
      ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:network-interface/*"],
      [for s in module.network.private_subnet_ids : "arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:subnet/${s}"],
      ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:security-group/${module.network.lambda_security_group_id}"],
    )
  }
  statement {
    sid       = "PullBuiltInImages"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }
  statement {
    sid       = "PullImageLayers"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.ml_jobs.arn]
  }
}

resource "aws_iam_role" "sagemaker" {
  name               = "${local.name}-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "least-privilege"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}

# Application secrets: generated once, stored as SecureString under the app key. The state bucket
# is KMS-encrypted and private (terraform/bootstrap). Rotate by tainting the random_password.
resource "random_password" "secret" {
  for_each = toset(["pseudonym-key", "token-signing-key"])

  length  = 64
  special = false
}

resource "aws_ssm_parameter" "secret" {
  for_each = random_password.secret

  name        = "${local.prefix}/secrets/${each.key}"
  description = "Anomaly Guardian ${each.key} (HMAC)"
  type        = "SecureString"
  key_id      = module.kms.app_key_arn
  value       = each.value.result
  tags        = local.tags
}

module "contract" {
  source = "../ssm_contract"
  prefix = local.prefix
  tags   = local.tags

  values = {
    "kinesis/stream-name"             = module.kinesis.stream_name
    "kinesis/stream-arn"              = module.kinesis.stream_arn
    "kms/app-key-arn"                 = module.kms.app_key_arn
    "kms/database-key-arn"            = module.kms.database_key_arn
    "waf/web-acl-arn"                 = module.waf.web_acl_arn
    "waf/ip-set-id"                   = module.waf.ip_set_id
    "waf/ip-set-name"                 = module.waf.ip_set_name
    "waf/ip-set-arn"                  = module.waf.ip_set_arn
    "opensearch/endpoint"             = module.opensearch.endpoint
    "opensearch/domain-arn"           = module.opensearch.domain_arn
    "s3/models-bucket"                = module.storage.bucket_names["models"]
    "s3/reports-bucket"               = module.storage.bucket_names["reports"]
    "s3/archive-bucket"               = module.storage.bucket_names["archive"]
    "sagemaker/role-arn"              = aws_iam_role.sagemaker.arn
    "secrets/pseudonym-key-param"     = aws_ssm_parameter.secret["pseudonym-key"].name
    "secrets/token-signing-key-param" = aws_ssm_parameter.secret["token-signing-key"].name
    "ml/artifact-bucket"              = module.storage.bucket_names["models"]
    "ml/kms-key-arn"                  = module.kms.app_key_arn
    "ml/model-package-group"          = aws_sagemaker_model_package_group.detector.model_package_group_name
    "ml/pipeline-name"                = local.pipeline_name
    "ml/job-image-repository"         = aws_ecr_repository.ml_jobs.repository_url
    "ml/training-data-uri"            = "s3://${module.storage.bucket_names["archive"]}/events/"
    "cost/service-monitor-arn"        = module.cost_anomaly.service_monitor_arn
    "cost/alerts-topic-arn"           = module.cost_anomaly.topic_arn
    "cloudtrail/log-group-name"       = module.cloudtrail.log_group_name
    "console/bucket"                  = module.console.bucket_name
    "console/distribution-id"         = module.console.distribution_id
    "console/url"                     = module.console.console_url
    "console/origin"                  = module.console.console_origin
    "cognito/issuer"                  = module.console.issuer
    "cognito/jwks-url"                = module.console.jwks_url
    "cognito/client-id"               = module.console.client_id
    "cognito/domain"                  = module.console.cognito_domain
  }

  list_values = {
    "network/private-subnet-ids"        = module.network.private_subnet_ids
    "network/lambda-security-group-ids" = [module.network.lambda_security_group_id]
    "ml/subnet-ids"                     = module.network.private_subnet_ids
    "ml/security-group-ids"             = [module.network.lambda_security_group_id]
  }
}
