"""The deployment targets refuse clearly, before touching anything, when ENV or credentials are missing."""

from __future__ import annotations

import os
import subprocess

import pytest
from infra_tools import ROOT, tool

NO_AWS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("ENV", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(autouse=True)
def _tools_present():
    tool("sam/bin/sam")  # the targets depend on it; installing it is make infra-tools' job, not this test's


@pytest.mark.parametrize("target", ["deploy", "plan", "destroy", "console-publish"])
def test_given_no_env_when_a_deployment_target_runs_then_it_refuses_naming_the_fix(target):
    result = make(target, env=NO_AWS)
    assert result.returncode != 0
    assert f"ENV is required: make {target} ENV=<dev|staging|prod>" in result.stderr


def test_given_an_unknown_env_when_deploy_runs_then_it_lists_the_valid_ones():
    result = make("deploy", "ENV=qa", env=NO_AWS)
    assert result.returncode != 0
    assert "ENV=qa is not valid: use one of dev staging prod" in result.stderr


def test_given_no_credentials_when_plan_runs_then_it_says_so_before_terraform():
    result = make("plan", "ENV=dev", env=NO_AWS)
    assert result.returncode != 0
    assert "No usable AWS credentials" in result.stderr
    assert "terraform -chdir" not in result.stdout


def test_given_no_local_stack_when_invoke_runs_then_it_refuses_instead_of_reaching_a_real_account(tmp_path):
    result = make(
        "invoke", "FN=ingest", "EVENT=tests/events/apigw_post_event.json", f"LOCAL_ENV_FILE={tmp_path}/env.json"
    )
    assert result.returncode == 2
    assert "start it first (make local" in result.stderr and "REAL_AWS=1" in result.stderr
    assert "sam local invoke" not in result.stdout


def test_given_no_container_runtime_when_invoke_runs_then_it_points_to_the_in_process_route():
    result = make(
        "invoke", "FN=ingest", "EVENT=tests/events/apigw_post_event.json", "REAL_AWS=1", env={"PATH": "/usr/bin:/bin"}
    )
    if result.returncode == 0:
        pytest.skip("a container runtime is available here: sam local invoke ran")
    assert "needs a container runtime" in result.stderr
    assert "pytest tests/functions -k ingest" in result.stderr


def test_given_deploy_when_read_then_the_console_is_published_after_the_stack_that_writes_its_api_url():
    recipe = make("-n", "deploy", "ENV=dev", "AUTO_APPROVE=1", env=NO_AWS).stdout
    stack, console = recipe.find("sam-deploy ENV=dev"), recipe.find("console-publish ENV=dev")
    assert 0 < stack < console, recipe
    publish = make("-n", "console-publish", "ENV=dev", env=NO_AWS).stdout
    assert "guardian console publish --env dev --build build/console" in publish
