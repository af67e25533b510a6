# The one-way contract from Terraform to SAM and ml/: identifiers of the long-lived infrastructure,
# published under /anomaly-guardian/<env>/. Values are resource names, ids and ARNs (never secrets),
# stored as String/StringList because CloudFormation's AWS::SSM::Parameter::Value<...> parameter types
# cannot read SecureString.
resource "aws_ssm_parameter" "value" {
  #checkov:skip=CKV2_AWS_34:Non-secret identifiers; CloudFormation SSM parameter types cannot resolve SecureString.
  for_each = var.values

  name        = "${var.prefix}/${each.key}"
  description = "Anomaly Guardian contract value (Terraform -> SAM/ml)"
  type        = "String"
  value       = each.value
  tags        = var.tags
}

resource "aws_ssm_parameter" "list" {
  #checkov:skip=CKV2_AWS_34:Non-secret identifiers; CloudFormation SSM parameter types cannot resolve SecureString.
  for_each = var.list_values

  name        = "${var.prefix}/${each.key}"
  description = "Anomaly Guardian contract list (Terraform -> SAM/ml)"
  type        = "StringList"
  value       = join(",", each.value)
  tags        = var.tags
}
