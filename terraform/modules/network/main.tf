# VPC with three subnet tiers in two AZs, NAT for the few calls that leave AWS (webhooks),
# endpoints for the AWS APIs the functions call on the hot path, and flow logs.
module "vpc" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version (registry sources cannot take a commit hash).
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.19.0"

  name = var.name
  cidr = var.vpc_cidr
  azs  = var.azs

  public_subnets   = var.public_subnets
  private_subnets  = var.private_subnets
  database_subnets = var.database_subnets

  create_database_subnet_group       = true
  create_database_subnet_route_table = true

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  map_public_ip_on_launch        = false
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_traffic_type                           = "ALL"
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = var.flow_log_retention_days
  flow_log_cloudwatch_log_group_kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

# Lambda functions: no ingress; HTTPS out (AWS endpoints, webhooks through NAT).
resource "aws_security_group" "lambda" {
  #checkov:skip=CKV2_AWS_5:Attached by the SAM stack (Globals VpcConfig via the SSM contract), outside Terraform.
  name_prefix = "${var.name}-lambda-"
  description = "Anomaly Guardian Lambda functions: no ingress, HTTPS egress only"
  vpc_id      = module.vpc.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS endpoints and webhook targets"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"] #tfsec:ignore:aws-ec2-no-public-egress-sgr
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Interface endpoints accept HTTPS from inside the VPC only.
resource "aws_security_group" "endpoints" {
  #checkov:skip=CKV2_AWS_5:Attached to the interface endpoints inside the registry vpc-endpoints module, which checkov does not download.
  name_prefix = "${var.name}-endpoints-"
  description = "Interface VPC endpoints: HTTPS from the VPC"
  vpc_id      = module.vpc.vpc_id
  tags        = var.tags

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  lifecycle {
    create_before_destroy = true
  }
}

module "endpoints" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version (registry sources cannot take a commit hash).
  source  = "terraform-aws-modules/vpc/aws//modules/vpc-endpoints"
  version = "5.19.0"

  vpc_id             = module.vpc.vpc_id
  security_group_ids = [aws_security_group.endpoints.id]

  endpoints = merge(
    {
      dynamodb = {
        service         = "dynamodb"
        service_type    = "Gateway"
        route_table_ids = concat(module.vpc.private_route_table_ids, module.vpc.database_route_table_ids)
        tags            = { Name = "${var.name}-dynamodb" }
      }
      s3 = {
        service         = "s3"
        service_type    = "Gateway"
        route_table_ids = concat(module.vpc.private_route_table_ids, module.vpc.database_route_table_ids)
        tags            = { Name = "${var.name}-s3" }
      }
    },
    {
      for svc in var.interface_endpoints : replace(svc, ".", "_") => {
        service             = svc
        private_dns_enabled = true
        subnet_ids          = module.vpc.private_subnets
        tags                = { Name = "${var.name}-${svc}" }
      }
    }
  )

  tags = var.tags
}
