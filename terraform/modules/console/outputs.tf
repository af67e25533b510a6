output "bucket_name" {
  description = "Bucket make deploy uploads build/console to."
  value       = aws_s3_bucket.console.id
}

output "distribution_id" {
  description = "Distribution make deploy invalidates."
  value       = aws_cloudfront_distribution.this.id
}

output "console_url" {
  description = "Where analysts open the console (also the app client's callback and logout URL)."
  value       = local.console_url
}

output "console_origin" {
  description = "Origin the API allows (CORS) for the console's calls."
  value       = "https://${local.console_host}"
}

output "user_pool_id" {
  description = "Cognito user pool of the analysts."
  value       = aws_cognito_user_pool.this.id
}

output "issuer" {
  description = "iss of the pool's tokens (the authorizer's GUARDIAN_TOKEN_EXTERNAL_ISSUER)."
  value       = "https://cognito-idp.${local.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "jwks_url" {
  description = "The pool's signing keys (the authorizer's GUARDIAN_TOKEN_JWKS_URL)."
  value       = "https://cognito-idp.${local.region}.amazonaws.com/${aws_cognito_user_pool.this.id}/.well-known/jwks.json"
}

output "client_id" {
  description = "The console's app client (aud of its ID tokens)."
  value       = aws_cognito_user_pool_client.console.id
}

output "cognito_domain" {
  description = "Hosted UI domain the console signs in through."
  value       = local.cognito_domain
}

output "web_acl_arn" {
  description = "The distribution's CLOUDFRONT web ACL."
  value       = module.waf.web_acl_arn
}
