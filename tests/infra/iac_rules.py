"""Security and contract rules over the parsed IaC, as plain functions returning violations.

The tests assert the real files have none and that a deliberately broken copy has some, so each rule
is shown to be able to fail. Parsing: PyYAML with CloudFormation tag constructors (template) and
python-hcl2 (Terraform).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import hcl2
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "sam" / "template.yaml"
TERRAFORM = ROOT / "terraform"

# ----------------------------------------------------------------------------- CloudFormation YAML


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns short-form intrinsics (!Ref, !Sub, ...) into their long form."""


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "Condition",
    "Ref",
):
    _long = _short if _short in ("Ref", "Condition") else f"Fn::{_short}"
    CfnLoader.add_constructor(f"!{_short}", _tag(_long))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return load_template_text(path.read_text())


def load_template_text(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=CfnLoader)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return copy.deepcopy(override)


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function's properties with Globals.Function merged in (SAM semantics for maps)."""
    glob = (template.get("Globals") or {}).get("Function") or {}
    return {
        name: _merge(glob, res.get("Properties") or {})
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def resources_of(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == rtype}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every inline IAM statement: function/state machine policies, roles, queue policies."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, res in template["Resources"].items():
        props = res.get("Properties") or {}
        if res["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for pol in _as_list(props.get("Policies") or []):
                if isinstance(pol, dict) and "Statement" in pol:
                    out += [(name, s) for s in _as_list(pol["Statement"])]
        elif res["Type"] == "AWS::IAM::Role":
            for pol in props.get("Policies") or []:
                out += [(name, s) for s in _as_list(pol["PolicyDocument"]["Statement"])]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            out += [(name, s) for s in _as_list(props["PolicyDocument"]["Statement"])]
    return out


def _wildcard_action(action: Any) -> bool:
    return isinstance(action, str) and (action == "*" or action.endswith(":*"))


def template_violations(template: dict[str, Any]) -> list[str]:
    """Security properties the template must keep (issue 5): one message per broken property."""
    v: list[str] = []
    for name, fn in functions(template).items():
        if fn.get("Runtime") != "python3.13":
            v.append(f"{name}: runtime {fn.get('Runtime')!r} is not python3.13")
        if fn.get("Architectures") != ["arm64"]:
            v.append(f"{name}: architectures {fn.get('Architectures')!r} are not [arm64]")
        if fn.get("Tracing") != "Active":
            v.append(f"{name}: X-Ray tracing is not Active")
        if not fn.get("KmsKeyArn"):
            v.append(f"{name}: environment variables are not encrypted with the CMK (KmsKeyArn)")
        if not (fn.get("VpcConfig") or {}).get("SubnetIds"):
            v.append(f"{name}: not in the VPC")
        if "ReservedConcurrentExecutions" not in fn:
            v.append(f"{name}: no reserved concurrency (blast radius)")
        if "POWERTOOLS_SERVICE_NAME" not in ((fn.get("Environment") or {}).get("Variables") or {}):
            v.append(f"{name}: POWERTOOLS_SERVICE_NAME not set")
    for name, res in resources_of(template, "AWS::DynamoDB::Table").items():
        p = res["Properties"]
        if not (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"):
            v.append(f"{name}: point-in-time recovery is off")
        sse = p.get("SSESpecification") or {}
        if not (sse.get("SSEEnabled") and sse.get("SSEType") == "KMS" and sse.get("KMSMasterKeyId")):
            v.append(f"{name}: not encrypted with a customer managed KMS key")
        billing = p.get("BillingMode")
        if billing != "PAY_PER_REQUEST" and not (name == "StateTable" and isinstance(billing, dict)):
            v.append(f"{name}: not on-demand (only the State table may switch to provisioned)")
    for name, res in resources_of(template, "AWS::SQS::Queue").items():
        if not res["Properties"].get("KmsMasterKeyId"):
            v.append(f"{name}: queue not KMS-encrypted")
    for name, res in resources_of(template, "AWS::SNS::Topic").items():
        if not res["Properties"].get("KmsMasterKeyId"):
            v.append(f"{name}: topic not KMS-encrypted")
    for name, res in resources_of(template, "AWS::Logs::LogGroup").items():
        if not res["Properties"].get("KmsKeyId"):
            v.append(f"{name}: log group not KMS-encrypted")
        if not res["Properties"].get("RetentionInDays"):
            v.append(f"{name}: log group keeps logs forever")
    for name, res in resources_of(template, "AWS::Serverless::StateMachine").items():
        p = res["Properties"]
        if not (p.get("Tracing") or {}).get("Enabled"):
            v.append(f"{name}: state machine tracing off")
        if not (p.get("Logging") or {}).get("Destinations"):
            v.append(f"{name}: state machine logging off")
        if "DefinitionUri" not in p:
            v.append(f"{name}: definition not in statemachines/ (DefinitionUri)")
    for owner, st in iam_statements(template):
        if st.get("Effect", "Allow") != "Allow":
            continue
        actions = _as_list(st.get("Action", []))
        resources = _as_list(st.get("Resource", []))
        if any(_wildcard_action(a) for a in actions) and "*" in resources:
            v.append(f"{owner}: statement {st.get('Sid', '?')} allows wildcard actions on '*'")
        if any(a == "*" for a in actions):
            v.append(f"{owner}: statement {st.get('Sid', '?')} allows every action")
    apis = resources_of(template, "AWS::Serverless::Api")
    for name, res in apis.items():
        p = res["Properties"]
        if not p.get("TracingEnabled"):
            v.append(f"{name}: API tracing off")
        if not (p.get("AccessLogSetting") or {}).get("DestinationArn"):
            v.append(f"{name}: API access logs off")
        if not (p.get("Auth") or {}).get("DefaultAuthorizer"):
            v.append(f"{name}: API has no default authorizer")
    if apis and not resources_of(template, "AWS::WAFv2::WebACLAssociation"):
        v.append("API stage has no WAF web ACL association")
    return v


# ----------------------------------------------------------------------------- Terraform (HCL)


def _deep_unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted ('"x"'); strip them from keys and values."""
    if isinstance(value, dict):
        return {_unquote(k): _deep_unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_deep_unquote(v) for v in value]
    return _unquote(value)


def load_hcl_dir(path: Path) -> dict[str, list[Any]]:
    """All blocks of the *.tf files in one directory, concatenated per block type, literals unquoted."""
    merged: dict[str, list[Any]] = {}
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as fh:
            for key, blocks in hcl2.load(fh).items():
                merged.setdefault(key, []).extend(_deep_unquote(blocks))
    return merged


def _unquote(s: Any) -> Any:
    if isinstance(s, str) and len(s) >= 2 and s[0] == s[-1] == '"':
        return s[1:-1]
    return s


def tf_resources(doc: dict[str, list[Any]], rtype: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get("resource", []):
        for t, named in block.items():
            if _unquote(t) == rtype:
                out.update({_unquote(n): body for n, body in named.items()})
    return out


def tf_data(doc: dict[str, list[Any]], dtype: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get("data", []):
        for t, named in block.items():
            if _unquote(t) == dtype:
                out.update({_unquote(n): body for n, body in named.items()})
    return out


def tf_variables(doc: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    return {_unquote(n): body for block in doc.get("variable", []) for n, body in block.items()}


def tf_outputs(doc: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    return {_unquote(n): body for block in doc.get("output", []) for n, body in block.items()}


def tf_modules(doc: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    return {_unquote(n): body for block in doc.get("module", []) for n, body in block.items()}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _truthy(value: Any) -> bool:
    return value is True or _unquote(value) in ("true", "${true}")


def module_violations(module_dir: Path) -> list[str]:
    """Rules every terraform module (and root) follows: layout, typed/described variables, described outputs."""
    v: list[str] = []
    name = module_dir.relative_to(TERRAFORM).as_posix()
    required = ["main.tf", "variables.tf", "outputs.tf", "versions.tf"]
    if name.startswith("modules/"):
        required.append("README.md")
    for f in required:
        if not (module_dir / f).is_file():
            v.append(f"{name}: missing {f}")
    doc = load_hcl_dir(module_dir)
    for var, body in tf_variables(doc).items():
        if "type" not in body:
            v.append(f"{name}: variable {var} has no type")
        if not _unquote(body.get("description", "")):
            v.append(f"{name}: variable {var} has no description")
    for out, body in tf_outputs(doc).items():
        if not _unquote(body.get("description", "")):
            v.append(f"{name}: output {out} has no description")
    for mod, body in tf_modules(doc).items():
        src = _unquote(body.get("source", ""))
        if not src.startswith("."):
            version = _unquote(body.get("version", ""))
            if not re.fullmatch(r"\d+\.\d+\.\d+", version or ""):
                v.append(f"{name}: registry module {mod} is not pinned to an exact version ({version!r})")
    v += terraform_security_violations(doc, name)
    return v


def _statements(doc_body: dict[str, Any]) -> list[dict[str, Any]]:
    return doc_body.get("statement", []) or []


def terraform_security_violations(doc: dict[str, list[Any]], name: str) -> list[str]:
    v: list[str] = []
    for key, body in tf_resources(doc, "aws_kms_key").items():
        if not _truthy(body.get("enable_key_rotation")):
            v.append(f"{name}: aws_kms_key.{key} has no key rotation")
        if "policy" not in body:
            v.append(f"{name}: aws_kms_key.{key} uses the default key policy")
    for key, body in tf_resources(doc, "aws_kinesis_stream").items():
        if _unquote(body.get("encryption_type")) != "KMS" or "kms_key_id" not in body:
            v.append(f"{name}: aws_kinesis_stream.{key} is not KMS-encrypted")
    for key, body in tf_resources(doc, "aws_opensearch_domain").items():
        if "vpc_options" not in body:
            v.append(f"{name}: OpenSearch {key} is not in a VPC")
        if not _truthy(_first(body.get("encrypt_at_rest", [{}])).get("enabled")):
            v.append(f"{name}: OpenSearch {key} has no encryption at rest")
        if not _truthy(_first(body.get("node_to_node_encryption", [{}])).get("enabled")):
            v.append(f"{name}: OpenSearch {key} has no node-to-node encryption")
        endpoint = _first(body.get("domain_endpoint_options", [{}]))
        if not _truthy(endpoint.get("enforce_https")):
            v.append(f"{name}: OpenSearch {key} does not enforce HTTPS")
        if "tls_security_policy" not in endpoint:
            v.append(f"{name}: OpenSearch {key} has no TLS policy")
        if not _truthy(_first(body.get("advanced_security_options", [{}])).get("enabled")):
            v.append(f"{name}: OpenSearch {key} has no fine-grained access control")
        logs = {_unquote(x.get("log_type")) for x in body.get("log_publishing_options", [])}
        if "AUDIT_LOGS" not in logs:
            v.append(f"{name}: OpenSearch {key} does not publish audit logs")
        if _unquote(_first(body.get("auto_tune_options", [{}])).get("desired_state")) != "ENABLED":
            v.append(f"{name}: OpenSearch {key} has Auto-Tune off")
    for key, body in tf_variables(doc).items():
        if key == "tls_security_policy" and _unquote(body.get("default")) not in (
            "Policy-Min-TLS-1-2-2019-07",
            "Policy-Min-TLS-1-2-PFS-2023-10",
        ):
            v.append(f"{name}: default TLS policy {body.get('default')!r} is below TLS 1.2")
    for key, body in tf_resources(doc, "aws_cloudwatch_log_group").items():
        if "kms_key_id" not in body:
            v.append(f"{name}: log group {key} is not KMS-encrypted")
    for key, body in tf_resources(doc, "aws_s3_bucket_public_access_block").items():
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            if not _truthy(body.get(flag)):
                v.append(f"{name}: public access block {key} leaves {flag} off")
    buckets = tf_resources(doc, "aws_s3_bucket")
    if buckets:
        enc = tf_resources(doc, "aws_s3_bucket_server_side_encryption_configuration")
        ver = tf_resources(doc, "aws_s3_bucket_versioning")
        pab = tf_resources(doc, "aws_s3_bucket_public_access_block")
        pol = tf_resources(doc, "aws_s3_bucket_policy")
        for key in buckets:
            for kind, coll in (("encryption", enc), ("versioning", ver), ("public access block", pab), ("policy", pol)):
                if key not in coll:
                    v.append(f"{name}: bucket {key} has no {kind} resource")
        for key, body in ver.items():
            status = _unquote(_first(body.get("versioning_configuration", [{}])).get("status"))
            if status != "Enabled":
                v.append(f"{name}: bucket versioning {key} is {status!r}")
    for dkey, body in tf_data(doc, "aws_iam_policy_document").items():
        for st in _statements(body):
            if _unquote(st.get("effect", "Allow")) == "Deny":
                continue
            actions = [_unquote(a) for a in st.get("actions", [])]
            resources = [_unquote(r) for r in st.get("resources", [])]
            if "*" in actions:
                v.append(f"{name}: policy {dkey} statement {st.get('sid', '?')} allows every action")
            if any(a.endswith(":*") for a in actions) and "*" in resources:
                v.append(f"{name}: policy {dkey} statement {st.get('sid', '?')} allows service:* on '*'")
    return v


def terraform_dirs() -> list[Path]:
    dirs = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
    dirs += sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
    dirs.append(TERRAFORM / "bootstrap")
    return dirs
