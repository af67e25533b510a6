"""terraform/: module layout, typed and described variables, and the security properties from issue 5."""

from __future__ import annotations

import iac_rules
import pytest
from iac_rules import TERRAFORM, load_hcl_dir, tf_modules, tf_resources, tf_variables


@pytest.mark.parametrize("directory", iac_rules.terraform_dirs(), ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_given_a_module_or_root_when_checked_then_no_rule_is_broken(directory):
    assert iac_rules.module_violations(directory) == []


def test_given_the_modules_when_listed_then_every_issue_module_exists():
    names = {p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir()}
    assert {"network", "kms", "waf", "opensearch", "kinesis", "storage", "ssm_contract"} <= names


def _default(module: str, var: str):
    return tf_variables(load_hcl_dir(TERRAFORM / "modules" / module))[var].get("default")


def test_given_the_network_defaults_when_read_then_subnets_and_endpoints_are_as_specified():
    assert _default("network", "vpc_cidr") == "10.0.0.0/16"
    assert _default("network", "public_subnets") == ["10.0.1.0/24", "10.0.2.0/24"]
    assert _default("network", "private_subnets") == ["10.0.10.0/24", "10.0.11.0/24"]
    assert _default("network", "database_subnets") == ["10.0.20.0/24", "10.0.21.0/24"]
    interface = set(_default("network", "interface_endpoints"))
    assert interface == {"kinesis-streams", "ssm", "secretsmanager", "sts", "logs", "kms", "sagemaker.runtime"}
    main = (TERRAFORM / "modules/network/main.tf").read_text()
    for gateway in ('service         = "dynamodb"', 'service         = "s3"'):
        assert gateway in main
    vpc = tf_modules(load_hcl_dir(TERRAFORM / "modules/network"))["vpc"]
    assert vpc["enable_flow_log"] is True and vpc["enable_nat_gateway"] is True


def test_given_the_waf_when_read_then_rate_rule_2000_common_rules_ip_set_and_logging_exist():
    assert _default("waf", "rate_limit") == 2000
    doc = load_hcl_dir(TERRAFORM / "modules/waf")
    acl = tf_resources(doc, "aws_wafv2_web_acl")["api"]
    assert acl["scope"] == "${var.scope}" and _default("waf", "scope") == "REGIONAL"  # the API's: REGIONAL
    assert "scope" not in tf_modules(load_hcl_dir(TERRAFORM / "modules/platform"))["waf"]
    rules = {r["name"]: r for r in acl["rule"]}
    rate = rules["rate-limit-per-ip"]["statement"][0]["rate_based_statement"][0]
    assert rate["limit"] == "${var.rate_limit}" and rate["aggregate_key_type"] == "IP"
    managed = rules["aws-common"]["statement"][0]["managed_rule_group_statement"][0]
    assert managed["name"] == "AWSManagedRulesCommonRuleSet"
    assert "ip_set_reference_statement" in rules["blocked-ips"]["statement"][0]
    assert tf_resources(doc, "aws_wafv2_web_acl_logging_configuration")


def test_given_opensearch_when_read_then_tls12_and_prod_dedicated_masters():
    assert _default("opensearch", "tls_security_policy") in (
        "Policy-Min-TLS-1-2-2019-07",
        "Policy-Min-TLS-1-2-PFS-2023-10",
    )
    prod = (TERRAFORM / "envs/prod/terraform.tfvars").read_text()
    assert "opensearch_dedicated_masters = true" in prod


def test_given_kinesis_when_read_then_on_demand_by_default():
    assert _default("kinesis", "stream_mode") == "ON_DEMAND"


def test_given_storage_when_read_then_lifecycle_uses_intelligent_tiering_and_tls_only():
    text = (TERRAFORM / "modules/storage/main.tf").read_text()
    assert "INTELLIGENT_TIERING" in text and '"aws:SecureTransport"' in text
    assert {"models", "reports", "archive"} <= set(text.split("buckets = {")[1].split("}")[0].split()) | {
        k for k in ("models", "reports", "archive") if f"    {k} " in text
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_given_an_env_root_when_read_then_the_s3_backend_uses_native_locking(env):
    doc = load_hcl_dir(TERRAFORM / "envs" / env)
    backend = doc["terraform"][0]["backend"][0]["s3"]
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    assert backend["key"] == f"anomaly-guardian/{env}/terraform.tfstate"
    assert (TERRAFORM / "envs" / env / "terraform.tfvars").is_file()
