"""Cost Explorer needs the stack's tag keys activated before the monthly report can price the system.

Given the Terraform as written, When read, Then the cost_anomaly module activates exactly the keys it is
given (none by default: only a payer account may, and only once the keys are in billing data), and the
environment roots pass their setting through the platform module to it.
"""

from __future__ import annotations

from iac_rules import TERRAFORM, load_hcl_dir, tf_modules, tf_resources, tf_variables

COST = load_hcl_dir(TERRAFORM / "modules/cost_anomaly")
PLATFORM = load_hcl_dir(TERRAFORM / "modules/platform")


def test_cost_allocation_tags_are_activated_one_per_given_key_and_none_by_default():
    tag = tf_resources(COST, "aws_ce_cost_allocation_tag")["this"]
    assert "var.cost_allocation_tag_keys" in str(tag["for_each"])
    assert tag["tag_key"] == "${each.value}" and tag["status"] == "Active"
    assert tf_variables(COST)["cost_allocation_tag_keys"]["default"] == []


def test_every_environment_root_passes_the_keys_through_the_platform_module():
    call = tf_modules(PLATFORM)["cost_anomaly"]
    assert call["cost_allocation_tag_keys"] == "${var.cost_allocation_tag_keys}"
    assert tf_variables(PLATFORM)["cost_allocation_tag_keys"]["default"] == []
    for env in ("dev", "staging", "prod"):
        root = load_hcl_dir(TERRAFORM / "envs" / env)
        assert tf_modules(root)["platform"]["cost_allocation_tag_keys"] == "${var.cost_allocation_tag_keys}", env
        assert tf_variables(root)["cost_allocation_tag_keys"]["default"] == [], env
