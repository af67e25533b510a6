# Applied once per account with local state (then optionally migrated into the bucket it creates).
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.95"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = "anomaly-guardian"
      managed-by = "terraform-bootstrap"
    }
  }
}
