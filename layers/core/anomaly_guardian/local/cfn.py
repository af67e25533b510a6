"""Read `sam/template.yaml` as the one source of truth for the local stack.

A YAML loader that understands CloudFormation short tags (!Ref, !Sub, !GetAtt, !If, ...) and a
resolver for intrinsic functions against local values (resource names/ARNs created in moto,
parameters, pseudo parameters). Unknown references resolve to None with a note rather than
crashing: the local stack is useful even while parts of the template are still being written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
NO_VALUE = object()  # AWS::NoValue: the enclosing key/list item disappears

_TAGS_AS_IS = {"Ref": "Ref", "Condition": "Condition"}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation short-form intrinsic functions."""


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix in _TAGS_AS_IS:
        return {_TAGS_AS_IS[tag_suffix]: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical, _, attr = value.partition(".")
        value = [logical, attr]
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)
# CloudFormation treats timestamps/dates as strings; keep them strings.
CfnLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - CfnLoader derives from SafeLoader
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise ValueError(f"{path}: not a CloudFormation/SAM template (no Resources section)")
    return doc


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")
_SSM_DYNAMIC = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")


@dataclass
class Resolver:
    """Evaluates intrinsic functions against local values.

    `refs`: logical id -> value of `!Ref` (resource physical id or parameter value).
    `attrs`: (logical id, attribute) -> value of `!GetAtt`.
    `ssm`: parameter name -> value for `{{resolve:ssm:...}}` dynamic references.
    """

    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    ssm: dict[str, str] = field(default_factory=dict)
    stack_name: str = "anomaly-guardian-local"
    unresolved: list[str] = field(default_factory=list)
    attr_fallback: Callable[[str, str], Any] | None = None

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        self.unresolved.append(f"Ref {name}")
        return None

    def getatt(self, logical: str, attr: str) -> Any:
        if (logical, attr) in self.attrs:
            return self.attrs[(logical, attr)]
        if self.attr_fallback is not None:
            value = self.attr_fallback(logical, attr)
            if value is not None:
                return value
        self.unresolved.append(f"GetAtt {logical}.{attr}")
        return None

    def condition(self, name: str) -> bool:
        value = self.conditions.get(name)
        if value is None:
            return False
        return bool(self.resolve(value))

    def _sub(self, template: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                value = variables[name]
            elif "." in name:
                logical, _, attr = name.partition(".")
                value = self.getatt(logical, attr)
            else:
                value = self.ref(name)
            return "" if value is None or value is NO_VALUE else str(value)

        out = _SUB_VAR.sub(replace, template)
        return out.replace("${!", "${")

    def _dynamic(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(2).split(":")[0]
            if name in self.ssm:
                return self.ssm[name]
            self.unresolved.append(f"resolve:{match.group(1)}:{name}")
            return ""

        return _SSM_DYNAMIC.sub(replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, str):
            return self._dynamic(node) if "{{resolve:" in node else node
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.getatt(str(self.resolve(parts[0])), str(self.resolve(parts[1])))
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
                else:
                    text, variables = arg, {}
                return self._sub(text, variables)
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(x) for x in self.resolve(items) if x is not None)
            if key == "Fn::Select":
                index, items = self.resolve(arg[0]), self.resolve(arg[1])
                return items[int(index)] if items else None
            if key == "Fn::Split":
                sep, text = arg[0], self.resolve(arg[1])
                return str(text).split(sep) if text is not None else []
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(x) for x in arg[:3])
                try:
                    return self.mappings[m][k1][k2]
                except KeyError:
                    self.unresolved.append(f"FindInMap {m}.{k1}.{k2}")
                    return None
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            if key == "Fn::Base64":
                import base64

                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if key in ("Fn::ImportValue", "Fn::Cidr", "Fn::Transform", "Fn::ToJsonString", "Fn::Length"):
                self.unresolved.append(key)
                return None
        out = {}
        for k, v in node.items():
            value = self.resolve(v)
            if value is not NO_VALUE:
                out[k] = value
        return out


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> Default (SSM-typed parameters keep their SSM path as the value)."""
    return {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}


def ssm_typed_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """Parameters whose type makes CloudFormation read SSM: name -> SSM parameter path (Default)."""
    out = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value") and spec.get("Default"):
            out[name] = str(spec["Default"])
    return out


def resources_of(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") in types}


def function_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return ((template.get("Globals") or {}).get("Function")) or {}
