"""Expand sam/template.yaml with the SAM translator (run by .tools/sam/bin/python, where it is installed)
and print, as JSON, every IAM role's inline statements and managed policies, so tests can check the
policies SAM generates (policy templates, event sources), not just what the template spells out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

MANAGED = {  # names SAM may attach -> ARNs (the translator asks a loader; no AWS call here)
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in (
        ("AWSLambdaBasicExecutionRole", "service-role/"),
        ("AWSLambdaVPCAccessExecutionRole", "service-role/"),
        ("AWSLambdaKinesisExecutionRole", "service-role/"),
        ("AWSLambdaSQSQueueExecutionRole", "service-role/"),
        ("AWSXrayWriteOnlyAccess", ""),
        ("AWSXRayDaemonWriteAccess", ""),
    )
}


class _Loader:
    def load(self) -> dict[str, str]:
        return MANAGED


def main(path: str) -> None:
    template = yaml_parse(Path(path).read_text())
    for res in template["Resources"].values():  # local paths are packaged by `sam build`; stub them
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://bucket/key"
        if "DefinitionUri" in props:
            props.pop("DefinitionUri")
            props["Definition"] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    out = transform(template, {}, _Loader())
    roles = {
        name: {
            "statements": [
                st for pol in res["Properties"].get("Policies", []) for st in pol["PolicyDocument"]["Statement"]
            ],
            "managed": res["Properties"].get("ManagedPolicyArns", []),
            "tags": {t["Key"]: t["Value"] for t in res["Properties"].get("Tags", []) if isinstance(t["Value"], str)},
        }
        for name, res in out["Resources"].items()
        if res["Type"] == "AWS::IAM::Role"
    }
    json.dump(roles, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
