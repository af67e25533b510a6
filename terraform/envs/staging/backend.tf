# Bucket from terraform/bootstrap; S3-native locking (use_lockfile), no DynamoDB lock table.
# The bucket name includes the account id: pass it at init time,
#   terraform init -backend-config="bucket=anomaly-guardian-tfstate-<account-id>"
# (make deploy/plan do this from `aws sts get-caller-identity`).
terraform {
  backend "s3" {
    key          = "anomaly-guardian/staging/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
