# The analyst console, deployed: its static build (`make console`, build/console) in a private S3 bucket
# read only by a CloudFront distribution through origin access control, the security headers the local
# gateway sends (anomaly_guardian.local.console), a CLOUDFRONT web ACL (the waf module, in us-east-1),
# and the Cognito user pool analysts sign in with (hosted UI, authorization code + PKCE, no secret).
# The API's authorizer accepts the pool's ID tokens: tenant from the admin-set custom:tenantId attribute,
# scopes from the groups (viewer, analyst, admin); SAM reads the pool through the SSM contract.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  partition   = data.aws_partition.current.partition
  bucket_name = "${var.name}-console-${local.account_id}-${local.region}"
  # The hosted UI domain prefix is global: the account id keeps it unique.
  cognito_domain = "${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
  console_host   = coalesce(var.domain_name, aws_cloudfront_distribution.this.domain_name)
  # Served under /console/ as on the local stack (one build: Vite base /console/); paths.js maps "/" there.
  console_url = "https://${local.console_host}/console/"
  # The local gateway's policy (anomaly_guardian/local/console.py CSP), with connect-src widened to the
  # API (API Gateway in this region, created later by SAM) and the hosted UI's token endpoint.
  csp = join("; ", [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' https://*.execute-api.${local.region}.amazonaws.com https://${local.cognito_domain}",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
  groups = {
    viewer  = "Reads anomalies, incidents, reviews and rules (scope api:read)"
    analyst = "Reads, gives feedback, approves reviews, edits rules (api:read, api:write)"
    admin   = "An analyst who also sees cross-tenant reports (api:read, api:write, admin)"
  }
}

# ---------------------------------------------------------------- bucket (private, OAC only)
resource "aws_s3_bucket" "console" {
  #checkov:skip=CKV_AWS_145:Static console assets (no data, no secrets); SSE-S3 lets CloudFront OAC read them without a key policy for the CloudFront service.
  #checkov:skip=CKV_AWS_144:The build is reproducible from git (make console) and re-uploaded by make deploy; replication adds nothing.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events for console assets; make deploy invalidates the distribution itself.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { purpose = "console" })
}

resource "aws_s3_bucket_public_access_block" "console" {
  bucket                  = aws_s3_bucket.console.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "console" {
  bucket = aws_s3_bucket.console.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "console" {
  bucket = aws_s3_bucket.console.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "console" {
  bucket = aws_s3_bucket.console.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "console" {
  bucket        = aws_s3_bucket.console.id
  target_bucket = var.access_log_bucket
  target_prefix = "console/"
}

resource "aws_s3_bucket_lifecycle_configuration" "console" {
  bucket = aws_s3_bucket.console.id

  # Every deploy replaces the hashed assets; old versions are only kept for a rollback window.
  rule {
    id     = "expire-old-builds"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "console" {
  statement {
    sid       = "CloudFrontOriginAccessControlRead"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.console.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.console.arn, "${aws_s3_bucket.console.arn}/*"]
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

resource "aws_s3_bucket_policy" "console" {
  bucket     = aws_s3_bucket.console.id
  policy     = data.aws_iam_policy_document.console.json
  depends_on = [aws_s3_bucket_public_access_block.console]
}

# ---------------------------------------------------------------- CloudFront
resource "aws_cloudfront_origin_access_control" "console" {
  name                              = "${var.name}-console"
  description                       = "CloudFront reads the console bucket (SigV4); the bucket is not public"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "console" {
  name    = "${var.name}-console-security"
  comment = "The console's security headers (the local gateway sends the same)"

  security_headers_config {
    content_security_policy {
      content_security_policy = local.csp
      override                = true
    }
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    content_type_options {
      override = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

resource "aws_cloudfront_function" "paths" {
  name    = "${var.name}-console-paths"
  runtime = "cloudfront-js-2.0"
  comment = "/ and /console redirect to /console/, which is index.html"
  publish = true
  code    = file("${path.module}/paths.js")
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_86:Standard logs need ACLs on the target bucket, which this repo disables (BucketOwnerEnforced); the web ACL logs blocked requests and the bucket logs every origin read.
  #checkov:skip=CKV_AWS_310:One origin (the console bucket); a failover origin would be a copy of the same build.
  #checkov:skip=CKV_AWS_374:Analysts sign in from wherever they work; access is by Cognito sign-in, not by country.
  #checkov:skip=CKV2_AWS_42:The certificate is the caller's (var.certificate_arn, required in prod by the precondition below); without one the *.cloudfront.net certificate is used.
  #checkov:skip=CKV_AWS_305:No default root object on purpose: the viewer-request function (paths.js) redirects / to /console/ and serves its index.html; nothing is listed at the root.
  #checkov:skip=CKV_AWS_174:minimum_protocol_version is TLSv1.2_2021 whenever a certificate is set (prod must); CloudFront fixes the *.cloudfront.net certificate's policy itself.
  enabled      = true
  comment      = "${var.name} analyst console"
  http_version = "http2and3"
  price_class  = "PriceClass_100"
  aliases      = var.domain_name == null ? [] : [var.domain_name]
  web_acl_id   = module.waf.web_acl_arn
  tags         = var.tags

  origin {
    origin_id                = "console-bucket"
    domain_name              = aws_s3_bucket.console.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.console.id
  }

  default_cache_behavior {
    target_origin_id           = "console-bucket"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.console.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.paths.arn
    }
  }

  # config.json (API URL, hosted UI domain, client id) changes with every deploy: never cached.
  ordered_cache_behavior {
    path_pattern               = "/console/config.json"
    target_origin_id           = "console-bucket"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.console.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }

  lifecycle {
    precondition {
      condition     = var.environment != "prod" || (var.domain_name != null && var.certificate_arn != null)
      error_message = "prod serves the console on its own domain with an ACM certificate (TLSv1.2_2021): set console_domain_name and console_certificate_arn."
    }
    precondition {
      condition     = (var.domain_name == null) == (var.certificate_arn == null)
      error_message = "console_domain_name and console_certificate_arn go together."
    }
  }
}

# ---------------------------------------------------------------- WAF (CLOUDFRONT scope: us-east-1)
data "aws_iam_policy_document" "edge_logs_key" {
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; the one writer is CloudWatch Logs, bound by the log group's encryption context.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:Key administration is the account root's (and key_admin_arns); no other principal may manage the key.
  statement {
    sid = "AccountAdministers"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
      "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"] # "*" in a key policy means this key
    principals {
      type        = "AWS"
      identifiers = concat(["arn:${local.partition}:iam::${local.account_id}:root"], var.key_admin_arns)
    }
  }

  statement {
    sid       = "WafLogGroupEncryption"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.us-east-1.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:aws-waf-logs-${var.name}-console"]
    }
  }
}

# The console's WAF logs live in us-east-1 (CloudFront's web ACLs do): a key there encrypts them.
resource "aws_kms_key" "edge_logs" {
  provider                = aws.us_east_1
  description             = "${var.name} console WAF logs (us-east-1)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.edge_logs_key.json
  tags                    = var.tags
}

module "waf" {
  source    = "../waf"
  providers = { aws = aws.us_east_1 }

  name               = "${var.name}-console"
  scope              = "CLOUDFRONT"
  rate_limit         = var.waf_rate_limit
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = aws_kms_key.edge_logs.arn
  tags               = var.tags
}

# ---------------------------------------------------------------- Cognito
resource "aws_cognito_user_pool" "this" {
  name                     = "${var.name}-console"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = var.mfa
  deletion_protection      = var.environment == "prod" ? "ACTIVE" : "INACTIVE"
  # Plus: threat protection (compromised credentials, adaptive authentication) in ENFORCED mode.
  user_pool_tier = "PLUS"
  tags           = var.tags

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
    password_history_size            = 5
  }

  # Analysts are created by an administrator, who also sets their tenant: no self sign-up.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  user_pool_add_ons {
    advanced_security_mode = "ENFORCED"
  }

  # The tenant an analyst works for: set with admin-update-user-attributes, never writable by the user
  # (the app client's write_attributes leave it out); the authorizer reads it from the ID token.
  schema {
    name                     = "tenantId"
    attribute_data_type      = "String"
    mutable                  = true
    developer_only_attribute = false
    required                 = false
    string_attribute_constraints {
      min_length = 1
      max_length = 64
    }
  }

  lifecycle {
    ignore_changes = [schema] # Cognito cannot change or remove an attribute once created
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = "${var.name}-${local.account_id}"
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_user_group" "this" {
  for_each = local.groups

  name         = each.key
  description  = each.value
  user_pool_id = aws_cognito_user_pool.this.id
}

# The console is a public client (a browser): authorization code with PKCE, no secret, ID tokens for an hour.
resource "aws_cognito_user_pool_client" "console" {
  name                                 = "${var.name}-console"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = [local.console_url]
  logout_urls                          = [local.console_url]
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  read_attributes                      = ["email", "email_verified", "name", "custom:tenantId"]
  write_attributes                     = ["name"]
  id_token_validity                    = 60
  access_token_validity                = 60
  refresh_token_validity               = 12
  auth_session_validity                = 5

  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "hours"
  }

  depends_on = [aws_cognito_user_pool.this]
}
