"""The deployed console (terraform/modules/console) and the SAM side that trusts it (issue 15).

Given the module and the template as written, When read, Then the bucket is private behind origin access
control, viewers get TLSv1.2_2021 (prod cannot plan without a certificate) and the local gateway's
security headers, the Cognito client is a PKCE public client that cannot write its own tenant, and the
authorizer and the API are wired to the pool and the console's origin through the SSM contract.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import iac_rules
import pytest
from iac_rules import TERRAFORM, load_hcl_dir, tf_data, tf_modules, tf_resources, tf_variables

from anomaly_guardian.auth.tokens import CONSOLE_GROUPS, GROUP_SCOPES
from anomaly_guardian.local.console import CSP, SECURITY_HEADERS

CONSOLE = load_hcl_dir(TERRAFORM / "modules/console")


def _one(rtype: str, name: str) -> dict:
    return tf_resources(CONSOLE, rtype)[name]


def _block(resource: dict, key: str) -> dict:
    return iac_rules._first(resource[key])


def _directives(csp: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in csp.split(";")) if d}


def test_the_bucket_is_private_versioned_logged_and_read_only_by_the_distribution():
    block = _one("aws_s3_bucket_public_access_block", "console")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert _block(_one("aws_s3_bucket_versioning", "console"), "versioning_configuration")["status"] == "Enabled"
    assert (
        _block(_one("aws_s3_bucket_ownership_controls", "console"), "rule")["object_ownership"] == "BucketOwnerEnforced"
    )
    assert _one("aws_s3_bucket_logging", "console")["target_bucket"] == "${var.access_log_bucket}"
    platform = tf_modules(load_hcl_dir(TERRAFORM / "modules/platform"))["console"]
    assert platform["access_log_bucket"] == "${module.storage.access_log_bucket_name}"  # the repo's log bucket
    read, tls = tf_data(CONSOLE, "aws_iam_policy_document")["console"]["statement"]
    assert read["actions"] == ["s3:GetObject"] and read["principals"] == [
        {"type": "Service", "identifiers": ["cloudfront.amazonaws.com"]}
    ]
    assert read["condition"] == [
        {"test": "StringEquals", "variable": "AWS:SourceArn", "values": ["${aws_cloudfront_distribution.this.arn}"]}
    ]
    assert tls["effect"] == "Deny" and tls["condition"][0]["variable"] == "aws:SecureTransport"


def test_the_distribution_reads_the_bucket_through_origin_access_control():
    oac = _one("aws_cloudfront_origin_access_control", "console")
    assert (oac["origin_access_control_origin_type"], oac["signing_behavior"], oac["signing_protocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    dist = _one("aws_cloudfront_distribution", "this")
    origin = _block(dist, "origin")
    assert origin["origin_access_control_id"] == "${aws_cloudfront_origin_access_control.console.id}"
    assert "s3_origin_config" not in origin  # no legacy origin access identity
    assert origin["domain_name"] == "${aws_s3_bucket.console.bucket_regional_domain_name}"


def test_viewers_get_tls_1_2_2021_with_a_certificate_and_prod_cannot_go_without_one():
    cert = _block(_one("aws_cloudfront_distribution", "this"), "viewer_certificate")
    assert cert["acm_certificate_arn"] == "${var.certificate_arn}"
    assert cert["minimum_protocol_version"] == '${var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"}'
    assert cert["ssl_support_method"] == '${var.certificate_arn == null ? null : "sni-only"}'
    conditions = [
        p["condition"] for p in _block(_one("aws_cloudfront_distribution", "this"), "lifecycle")["precondition"]
    ]
    assert '${var.environment != "prod" || (var.domain_name != null && var.certificate_arn != null)}' in conditions
    behaviours = [_block(_one("aws_cloudfront_distribution", "this"), "default_cache_behavior")]
    behaviours += _one("aws_cloudfront_distribution", "this")["ordered_cache_behavior"]
    assert {b["viewer_protocol_policy"] for b in behaviours} <= {"redirect-to-https", "https-only"}


def test_the_headers_policy_sends_what_the_local_gateway_sends():
    policy = _block(_one("aws_cloudfront_response_headers_policy", "console"), "security_headers_config")
    assert _block(policy, "content_security_policy")["content_security_policy"] == "${local.csp}"
    items = re.findall(r'"([^"]+)"', iac_rules._first(CONSOLE["locals"])["csp"].split("[", 1)[1])
    deployed, local = _directives("; ".join(items)), _directives(CSP)
    assert deployed.keys() == local.keys()
    assert {k: v for k, v in deployed.items() if k != "connect-src"} == {
        k: v for k, v in local.items() if k != "connect-src"
    }
    # connect-src: the local 'self' plus the API (another origin when deployed) and the hosted UI's token endpoint.
    assert deployed["connect-src"].split() == [
        "'self'",
        "https://*.execute-api.${local.region}.amazonaws.com",
        "https://${local.cognito_domain}",
    ]
    local_headers = dict(SECURITY_HEADERS)
    assert _block(policy, "frame_options")["frame_option"] == local_headers["X-Frame-Options"]
    assert _block(policy, "referrer_policy")["referrer_policy"] == local_headers["Referrer-Policy"]
    assert local_headers["X-Content-Type-Options"] == "nosniff" and _block(policy, "content_type_options")["override"]
    hsts = _block(policy, "strict_transport_security")
    assert hsts["access_control_max_age_sec"] >= 31536000 and hsts["include_subdomains"] and hsts["override"]
    assert all(
        _block(policy, k)["override"] is True for k in ("content_security_policy", "frame_options", "referrer_policy")
    )
    dist = _one("aws_cloudfront_distribution", "this")
    for behaviour in [_block(dist, "default_cache_behavior"), *dist["ordered_cache_behavior"]]:
        assert behaviour["response_headers_policy_id"] == "${aws_cloudfront_response_headers_policy.console.id}"


def test_the_distribution_has_a_cloudfront_web_acl_from_the_waf_module_in_us_east_1():
    waf = tf_modules(CONSOLE)["waf"]
    assert waf["source"] == "../waf" and waf["scope"] == "CLOUDFRONT"
    assert waf["providers"] == {"aws": "${aws.us_east_1}"}
    assert _one("aws_cloudfront_distribution", "this")["web_acl_id"] == "${module.waf.web_acl_arn}"
    assert _one("aws_kms_key", "edge_logs")["provider"] == "${aws.us_east_1}"


def test_the_app_client_is_a_pkce_public_client_that_cannot_write_its_tenant():
    client = _one("aws_cognito_user_pool_client", "console")
    assert client["generate_secret"] is False
    assert client["allowed_oauth_flows"] == ["code"]  # no implicit flow: tokens only through the PKCE exchange
    assert client["callback_urls"] == client["logout_urls"] == ["${local.console_url}"]
    assert "custom:tenantId" in client["read_attributes"] and "custom:tenantId" not in client["write_attributes"]
    assert client["id_token_validity"] <= 60 and _block(client, "token_validity_units")["id_token"] == "minutes"
    assert iac_rules._first(CONSOLE["locals"])["console_url"] == "https://${local.console_host}/console/"


def test_the_pool_is_admin_provisioned_with_strong_passwords_mfa_and_threat_protection():
    pool = _one("aws_cognito_user_pool", "this")
    password = _block(pool, "password_policy")
    assert password["minimum_length"] >= 14
    assert all(
        password[k] is True for k in ("require_lowercase", "require_uppercase", "require_numbers", "require_symbols")
    )
    assert pool["mfa_configuration"] == "${var.mfa}" and tf_variables(CONSOLE)["mfa"]["default"] == "ON"
    assert _block(pool, "software_token_mfa_configuration")["enabled"] is True
    assert _block(pool, "admin_create_user_config")["allow_admin_create_user_only"] is True
    assert (
        _block(pool, "user_pool_add_ons")["advanced_security_mode"] == "ENFORCED" and pool["user_pool_tier"] == "PLUS"
    )
    (attribute,) = pool["schema"]
    assert attribute["name"] == "tenantId" and _block(attribute, "string_attribute_constraints")["max_length"] == 64


def test_the_groups_are_the_ones_the_authorizer_maps_to_scopes():
    groups = set(iac_rules._first(CONSOLE["locals"])["groups"])
    assert groups == set(CONSOLE_GROUPS) and groups <= set(GROUP_SCOPES)
    assert _one("aws_cognito_user_group", "this")["for_each"] == "${local.groups}"


@pytest.mark.parametrize(
    ("variable", "parameter"),
    [
        ("GUARDIAN_TOKEN_JWKS_URL", "CognitoJwksUrl"),
        ("GUARDIAN_TOKEN_EXTERNAL_ISSUER", "CognitoIssuer"),
        ("GUARDIAN_TOKEN_EXTERNAL_AUDIENCE", "CognitoClientId"),
    ],
)
def test_the_authorizer_trusts_the_pool_named_by_the_contract(template, variable, parameter):
    env = iac_rules.functions(template)["AuthorizerFunction"]["Environment"]["Variables"]
    assert env[variable] == {"Ref": parameter}
    contract = tf_modules(load_hcl_dir(TERRAFORM / "modules/platform"))["contract"]["values"]
    key = template["Parameters"][parameter]["Default"].removeprefix("/anomaly-guardian/dev/")
    assert contract[key].startswith("${module.console.")


def test_the_api_allows_the_consoles_origin_and_every_gateway_error_names_it(template):
    cors = template["Resources"]["Api"]["Properties"]["Cors"]
    assert cors["AllowOrigin"] == {"Fn::Sub": "'${ConsoleOrigin}'"}
    assert "Authorization" in cors["AllowHeaders"]
    assert iac_rules.functions(template)["ApiFunction"]["Environment"]["Variables"]["CONSOLE_ORIGIN"] == {
        "Ref": "ConsoleOrigin"
    }
    responses = iac_rules.resources_of(template, "AWS::ApiGateway::GatewayResponse")
    assert len(responses) >= 10
    for name, response in responses.items():
        origin = (
            response["Properties"]
            .get("ResponseParameters", {})
            .get("gatewayresponse.header.Access-Control-Allow-Origin")
        )
        assert origin == {"Fn::Sub": "'${ConsoleOrigin}'"}, name


def test_config_json_is_never_cached_and_every_request_passes_the_path_function():
    dist = _one("aws_cloudfront_distribution", "this")
    (config,) = dist["ordered_cache_behavior"]
    assert config["path_pattern"] == "/console/config.json"
    assert config["cache_policy_id"] == "${data.aws_cloudfront_cache_policy.disabled.id}"
    association = _block(_block(dist, "default_cache_behavior"), "function_association")
    assert association == {"event_type": "viewer-request", "function_arn": "${aws_cloudfront_function.paths.arn}"}
    function = _one("aws_cloudfront_function", "paths")
    assert function["runtime"] == "cloudfront-js-2.0" and function["publish"] is True
    assert function["code"] == '${file("${path.module}/paths.js")}'


PATHS_JS = TERRAFORM / "modules/console/paths.js"


def _viewer_request(uri: str, querystring: dict | None = None) -> dict:
    """Run paths.js's handler in Node (the same JavaScript CloudFront's runtime runs)."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("GUARDIAN_REQUIRE_INFRA_TOOLS") == "1":
            pytest.fail("node is not on PATH (make console needs it too)")
        pytest.skip("node is not on PATH")
    event = {"request": {"method": "GET", "uri": uri, "querystring": querystring or {}, "headers": {}}}
    script = f"{PATHS_JS.read_text()}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("uri", ["/", "/index.html", "/console"])
def test_the_root_redirects_to_the_console(uri):
    response = _viewer_request(uri)
    assert response["statusCode"] == 301 and response["headers"]["location"] == {"value": "/console/"}


def test_the_console_path_is_its_index_and_the_sign_in_callback_keeps_its_query():
    code = {"code": {"value": "abc"}, "state": {"value": "xyz"}}
    request = _viewer_request("/console/", code)
    assert request["uri"] == "/console/index.html" and request["querystring"] == code
    assert _viewer_request("/console/assets/index-1.js")["uri"] == "/console/assets/index-1.js"
    assert _viewer_request("/console/config.json")["uri"] == "/console/config.json"
