"""Post-`sam build` check (make iac-build): the layer holds the runtime modules (no tooling) and arm64/CPython
3.13 binaries only, and every built function has its handler. Exit 1 with one line per problem."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

BUILD = Path(__file__).resolve().parents[2] / "sam" / ".aws-sam" / "build"


def problems(build: Path = BUILD) -> list[str]:
    out: list[str] = []
    layer = build / "CoreLayer" / "python"
    if not (layer / "anomaly_guardian" / "__init__.py").is_file():
        out.append(f"{layer}: anomaly_guardian package missing")
    for pkg in ("aws_lambda_powertools", "pydantic", "pydantic_core", "numpy"):
        if not (layer / pkg).is_dir():
            out.append(f"{layer}: {pkg} missing")
    for tooling in ("local", "scenario", "commands", "cli.py", "replay.py", "ml/training.py"):
        if (layer / "anomaly_guardian" / tooling).exists():
            out.append(f"{layer}: tooling anomaly_guardian/{tooling} must not be in the layer (see layer_graph.py)")
    for leaked in ("sklearn", "boto3", "botocore"):
        if (layer / leaked).exists():
            out.append(f"{layer}: {leaked} must not be in the layer")
    extensions = [p for p in layer.rglob("*.so") if ".cpython-" in p.name]
    if not extensions:
        out.append(f"{layer}: no compiled extensions (numpy/pydantic_core should bring some)")
    out += [f"{p}: not a CPython 3.13 aarch64 extension" for p in extensions if "cpython-313-aarch64" not in p.name]
    # Bytecode (issue 16): compiled for the runtime's CPython 3.13 only, never the build host's version.
    out += [f"{p}: bytecode for another Python than the runtime's 3.13" for p in layer.rglob("*.pyc")
            if ".cpython-313" not in p.name]  # fmt: skip
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    if size > 200 * 1024 * 1024:
        out.append(f"{layer}: {size / 1e6:.0f} MB unzipped leaves too little of Lambda's 250 MB for the functions")
    template = yaml.load((build / "template.yaml").read_text(), Loader=yaml.BaseLoader)
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            code = build / res["Properties"]["CodeUri"]
            if not (code / "app.py").is_file():
                out.append(f"{name}: built code {code} has no app.py")
    return out


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or f"build ok: {BUILD}")
    sys.exit(1 if found else 0)
