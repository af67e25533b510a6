# Account bootstrap: the Terraform state bucket (S3-native locking, no DynamoDB table), its KMS key,
# the GitHub OIDC provider and one role per GitHub environment (no stored keys anywhere).
# Deploy roles are scoped to the services this project uses and, where the API allows resource-level
# permissions, to resources named anomaly-guardian-<env>*. They are powerful by nature (they create IAM
# roles for Lambda), so each one is bound to its GitHub environment (production has required reviewers)
# and can only create roles under the project's permissions boundary path.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  arn        = "arn:${local.partition}"
  oidc_arn   = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "${local.arn}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

# --- state bucket ---
data "aws_iam_policy_document" "state_key" {
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; use is limited to S3 in this account.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:Key policy: administration stays with the account root so the key cannot be orphaned.
  statement {
    sid = "RootAdministration"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
      "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"] # in a key policy "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["${local.arn}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "UseThroughS3"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["${local.arn}:iam::${local.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "state" {
  description             = "anomaly-guardian Terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/anomaly-guardian-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_144:State is versioned; cross-region replication is left to the operator's DR policy.
  #checkov:skip=CKV_AWS_18:Access to the state bucket is recorded by CloudTrail data events, not server access logs.
  #checkov:skip=CKV2_AWS_62:No consumer for state object events.
  bucket = "anomaly-guardian-tfstate-${local.account_id}"
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
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

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json
}

# --- GitHub OIDC ---
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate through its own trust store; the thumbprint is kept for the API.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_policy_document" "deploy_trust" {
  for_each = toset(var.environments)

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${each.key}"]
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_111:Create/Describe calls without resource-level permissions (ec2:CreateVpc, kms:CreateKey, ...) can only name "*"; every other statement is scoped to anomaly-guardian-<env>* resources.
  #checkov:skip=CKV_AWS_356:Same statement as CKV_AWS_111: those actions do not support resource-level permissions.
  for_each = toset(var.environments)

  statement {
    sid       = "TerraformState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/anomaly-guardian/${each.key}/*"]
  }
  statement {
    sid       = "TerraformStateList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }
  statement {
    sid       = "TerraformStateKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.state.arn]
  }
  statement {
    sid = "ProjectResources"
    actions = [
      "cloudformation:*", "lambda:*", "apigateway:*", "dynamodb:*", "sqs:*", "sns:*", "states:*",
      "events:*", "scheduler:*", "kinesis:*", "logs:*", "cloudwatch:*", "ssm:*", "s3:*", "es:*",
      "wafv2:*", "sagemaker:*", "kms:*", "xray:*", "application-autoscaling:*", "firehose:*",
    ]
    resources = [
      "${local.arn}:cloudformation:${var.region}:${local.account_id}:stack/anomaly-guardian-${each.key}*",
      "${local.arn}:cloudformation:${var.region}:aws:transform/Serverless-2016-10-31",
      "${local.arn}:lambda:${var.region}:${local.account_id}:function:anomaly-guardian-${each.key}*",
      "${local.arn}:lambda:${var.region}:${local.account_id}:layer:anomaly-guardian-${each.key}*",
      "${local.arn}:lambda:${var.region}:${local.account_id}:event-source-mapping:*",
      "${local.arn}:apigateway:${var.region}::/*",
      "${local.arn}:dynamodb:${var.region}:${local.account_id}:table/anomaly-guardian-${each.key}*",
      "${local.arn}:sqs:${var.region}:${local.account_id}:anomaly-guardian-${each.key}*",
      "${local.arn}:sns:${var.region}:${local.account_id}:anomaly-guardian-${each.key}*",
      "${local.arn}:states:${var.region}:${local.account_id}:stateMachine:anomaly-guardian-${each.key}*",
      "${local.arn}:events:${var.region}:${local.account_id}:*/anomaly-guardian-${each.key}*",
      "${local.arn}:scheduler:${var.region}:${local.account_id}:schedule/*/anomaly-guardian-${each.key}*",
      "${local.arn}:kinesis:${var.region}:${local.account_id}:stream/anomaly-guardian-${each.key}*",
      "${local.arn}:logs:${var.region}:${local.account_id}:log-group:*anomaly-guardian-${each.key}*",
      "${local.arn}:logs:${var.region}:${local.account_id}:log-group:/aws/vpc-flow-log/*",
      "${local.arn}:cloudwatch:${var.region}:${local.account_id}:alarm:anomaly-guardian-${each.key}*",
      "${local.arn}:cloudwatch::${local.account_id}:dashboard/anomaly-guardian-${each.key}*",
      "${local.arn}:ssm:${var.region}:${local.account_id}:parameter/anomaly-guardian/${each.key}/*",
      "${local.arn}:ssm:${var.region}:${local.account_id}:parameter/anomaly-guardian-app/${each.key}/*",
      "${local.arn}:s3:::anomaly-guardian-${each.key}-*",
      "${local.arn}:s3:::aws-sam-cli-managed-*",
      "${local.arn}:es:${var.region}:${local.account_id}:domain/anomaly-guardian-${each.key}*",
      "${local.arn}:wafv2:${var.region}:${local.account_id}:regional/*/anomaly-guardian-${each.key}*/*",
      "${local.arn}:sagemaker:${var.region}:${local.account_id}:*/anomaly-guardian-${each.key}*",
      "${local.arn}:kms:${var.region}:${local.account_id}:key/*",
      "${local.arn}:kms:${var.region}:${local.account_id}:alias/anomaly-guardian-${each.key}*",
      "${local.arn}:application-autoscaling:${var.region}:${local.account_id}:scalable-target/*",
      "${local.arn}:firehose:${var.region}:${local.account_id}:deliverystream/anomaly-guardian-${each.key}*",
    ]
  }
  # The console (terraform/modules/console; make deploy publishes it): CloudFront and Cognito ARNs carry ids,
  # not names, so these are scoped to the account; its web ACL, log group and log key are in us-east-1.
  statement {
    sid     = "ConsoleDistributionAndSignIn"
    actions = ["cloudfront:*", "cognito-idp:*", "wafv2:*", "logs:*", "kms:*"]
    resources = [
      "${local.arn}:cloudfront::${local.account_id}:distribution/*",
      "${local.arn}:cloudfront::${local.account_id}:origin-access-control/*",
      "${local.arn}:cloudfront::${local.account_id}:response-headers-policy/*",
      "${local.arn}:cloudfront::${local.account_id}:cache-policy/*",
      "${local.arn}:cloudfront::${local.account_id}:function/anomaly-guardian-${each.key}-console*",
      "${local.arn}:cognito-idp:${var.region}:${local.account_id}:userpool/*",
      "${local.arn}:wafv2:us-east-1:${local.account_id}:global/*/anomaly-guardian-${each.key}-console*/*",
      "${local.arn}:logs:us-east-1:${local.account_id}:log-group:aws-waf-logs-anomaly-guardian-${each.key}-console*",
      "${local.arn}:kms:us-east-1:${local.account_id}:key/*",
    ]
  }
  statement {
    sid = "ConsoleCreateAndListWithoutResourceLevelPermissions"
    actions = [
      "cloudfront:ListCachePolicies", "cloudfront:ListResponseHeadersPolicies", "cloudfront:ListOriginAccessControls",
      "cloudfront:CreateOriginAccessControl", "cloudfront:CreateResponseHeadersPolicy", "cognito-idp:CreateUserPool",
      "cognito-idp:ListUserPools", "cognito-idp:DescribeUserPoolDomain",
    ]
    resources = ["*"] # these actions do not support resource-level permissions
  }
  statement {
    sid = "DescribeAndCreateWithoutResourceLevelPermissions"
    actions = [
      "ec2:Describe*", "ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:CreateInternetGateway",
      "ec2:CreateNatGateway", "ec2:AllocateAddress", "ec2:CreateSecurityGroup", "ec2:CreateVpcEndpoint",
      "ec2:CreateFlowLogs", "ec2:CreateTags", "ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry",
      "kms:CreateKey", "kms:ListAliases", "wafv2:ListWebACLs", "wafv2:ListIPSets", "logs:DescribeLogGroups",
      "cloudformation:ValidateTemplate", "cloudformation:ListStacks", "lambda:ListLayers",
      "lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:DeleteEventSourceMapping",
      "lambda:UpdateEventSourceMapping", "logs:PutResourcePolicy", "logs:DeleteResourcePolicy",
      "logs:DescribeResourcePolicies", "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:GetLogDelivery",
      "logs:UpdateLogDelivery", "logs:ListLogDeliveries", "es:CreateServiceRole", "iam:ListRoles",
      "ssm:DescribeParameters", "states:ListStateMachines", "sts:GetCallerIdentity",
      "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:DeregisterScalableTarget",
    ]
    resources = ["*"] # these actions do not support resource-level permissions
  }
  statement {
    sid = "NetworkResourcesOfTheProject"
    actions = [
      "ec2:ModifyVpcAttribute", "ec2:DeleteVpc", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
      "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateRoute",
      "ec2:DeleteRoute", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway",
      "ec2:DeleteNatGateway", "ec2:ReleaseAddress", "ec2:DisassociateAddress", "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:DeleteFlowLogs",
      "ec2:DeleteTags", "ec2:DeleteNetworkAcl", "ec2:DeleteNetworkAclEntry", "ec2:ReplaceNetworkAclAssociation",
      "ec2:ReplaceNetworkAclEntry",
    ]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["anomaly-guardian"]
    }
  }
  # Cost Anomaly Detection (modules/cost_anomaly): monitor and subscription ARNs carry ids, not names.
  statement {
    sid = "CostAnomalyDetection"
    actions = [
      "ce:CreateAnomalyMonitor", "ce:UpdateAnomalyMonitor", "ce:DeleteAnomalyMonitor", "ce:GetAnomalyMonitors",
      "ce:CreateAnomalySubscription", "ce:UpdateAnomalySubscription", "ce:DeleteAnomalySubscription",
      "ce:GetAnomalySubscriptions", "ce:TagResource", "ce:UntagResource", "ce:ListTagsForResource",
    ]
    resources = [
      "${local.arn}:ce::${local.account_id}:anomalymonitor/*",
      "${local.arn}:ce::${local.account_id}:anomalysubscription/*",
    ]
  }
  statement {
    sid       = "CostAllocationTags" # cost_allocation_tag_keys (payer account only)
    actions   = ["ce:UpdateCostAllocationTagsStatus", "ce:ListCostAllocationTags"]
    resources = ["*"] # these actions do not support resource-level permissions
  }
  statement {
    sid = "ProjectRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:TagRole", "iam:UntagRole",
      "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:AttachRolePolicy",
      "iam:DetachRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:PassRole",
      "iam:UpdateAssumeRolePolicy", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["${local.arn}:iam::${local.account_id}:role/anomaly-guardian-${each.key}*"]
  }
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.arn}:iam::${local.account_id}:role/aws-service-role/*"]
    condition {
      test     = "StringLike"
      variable = "iam:AWSServiceName"
      values   = ["opensearchservice.amazonaws.com", "es.amazonaws.com", "ops.apigateway.amazonaws.com", "dynamodb.application-autoscaling.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = toset(var.environments)

  name                 = "anomaly-guardian-github-deploy-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  for_each = toset(var.environments)

  name   = "deploy"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy[each.key].json
}

# ml.yml: build and push the job image, upsert and start the SageMaker pipeline, pass the execution role.
data "aws_iam_policy_document" "ml_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:ml-*"]
    }
  }
}

data "aws_iam_policy_document" "ml" {
  statement {
    sid = "Pipeline"
    actions = [
      "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DescribePipeline",
      "sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution",
      "sagemaker:ListPipelineExecutionSteps", "sagemaker:AddTags",
    ]
    resources = [
      "${local.arn}:sagemaker:${var.region}:${local.account_id}:pipeline/anomaly-guardian-*",
      "${local.arn}:sagemaker:${var.region}:${local.account_id}:pipeline/anomaly-guardian-*/execution/*",
    ]
  }
  statement {
    sid       = "ReadContract"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = ["${local.arn}:ssm:${var.region}:${local.account_id}:parameter/anomaly-guardian/*"]
  }
  statement {
    sid       = "PassSageMakerRole"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn}:iam::${local.account_id}:role/anomaly-guardian-*-sagemaker"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid = "PushJobImage" # make ml-image: ml/container/Dockerfile -> the environment's ECR repository
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages",
    ]
    resources = ["${local.arn}:ecr:${var.region}:${local.account_id}:repository/anomaly-guardian-*-ml-jobs"]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }
  statement {
    sid       = "WriteJobImageUri"
    actions   = ["ssm:PutParameter"]
    resources = ["${local.arn}:ssm:${var.region}:${local.account_id}:parameter/anomaly-guardian/*/ml/sklearn-image-uri"]
  }
  statement {
    sid       = "UploadPipelineCode"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.arn}:s3:::anomaly-guardian-*-models-*/pipeline/*"]
  }
}

resource "aws_iam_role" "ml" {
  name                 = "anomaly-guardian-github-ml"
  assume_role_policy   = data.aws_iam_policy_document.ml_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "ml" {
  name   = "sagemaker-pipeline"
  role   = aws_iam_role.ml.id
  policy = data.aws_iam_policy_document.ml.json
}
