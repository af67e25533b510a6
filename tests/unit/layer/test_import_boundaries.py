"""Import boundaries as tests: the import-linter contracts in pyproject.toml ([tool.importlinter]) hold on
the package (only adapters/ imports boto3/botocore; the domain loads neither adapters nor the SDK; the
layers, hence no package cycle), and each contract is shown failing on a violation injected into a
temporary copy of the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(repo: Path) -> subprocess.CompletedProcess:
    """Run the contracts against the package under `repo` (first on sys.path, so that copy is analysed)."""
    env = {**os.environ, "PYTHONPATH": str(repo / "layers" / "core")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(repo / "pyproject.toml")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "layers/core/anomaly_guardian",
        tmp_path / "layers/core/anomaly_guardian",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def inject(repo: Path, module: str, line: str) -> None:
    path = repo / "layers/core" / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n\ndef _injected():\n    {line}\n")  # function-local, as they hide


def test_the_contracts_hold_on_the_package():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "3 kept, 0 broken" in result.stdout


def test_the_copy_is_what_gets_analysed(repo):
    result = lint_imports(repo)
    assert result.returncode == 0, result.stdout[-4000:]


def test_boto3_outside_adapters_breaks_the_sdk_contract(repo):
    inject(repo, "anomaly_guardian.response.planning", "import boto3")
    result = lint_imports(repo)
    assert result.returncode == 1
    assert "Only adapters/ imports boto3/botocore" in result.stdout and "BROKEN" in result.stdout
    assert "anomaly_guardian.response.planning -> boto3" in result.stdout


def test_the_domain_reaching_an_adapter_breaks_the_domain_and_layer_contracts(repo):
    inject(repo, "anomaly_guardian.detection.velocity", "from anomaly_guardian.adapters.queues import Queue")
    result = lint_imports(repo)
    assert result.returncode == 1
    out = result.stdout
    assert "The domain loads neither adapters nor the AWS SDK, not even indirectly BROKEN" in out
    assert "Layers: no package imports one above it, so the runtime has no package cycle BROKEN" in out
    assert "anomaly_guardian.detection.velocity -> anomaly_guardian.adapters.queues" in out


def test_a_package_cycle_breaks_the_layers_contract(repo):
    # response importing detection closes the cycle detection -> response -> detection
    inject(repo, "anomaly_guardian.response.notify", "from anomaly_guardian.detection import registry")
    result = lint_imports(repo)
    assert result.returncode == 1
    assert "Layers: no package imports one above it, so the runtime has no package cycle BROKEN" in result.stdout


def test_the_runtime_has_no_package_cycle():
    """Independent of the contracts' layer list: among the modules the Lambda layer ships, no two
    top-level packages of anomaly_guardian import each other, directly or through others."""
    import grimp

    sys.path.insert(0, str(ROOT / "layers" / "core"))
    try:
        import layer_graph
    finally:
        sys.path.remove(str(ROOT / "layers" / "core"))
    import fnmatch
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["id"] == "layers"]
    ignored = [tuple(p.replace("**", "*").split(" -> ")) for p in layers["ignore_imports"]]  # the known exceptions
    runtime = layer_graph.default_layer().reached
    graph = grimp.build_graph("anomaly_guardian", exclude_type_checking_imports=True)
    deps: dict[str, set[str]] = {}
    for module in runtime:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported in runtime and "." in module and "." in imported:
                a, b = module.split(".")[1], imported.split(".")[1]
                skip = any(fnmatch.fnmatch(module, src) and fnmatch.fnmatch(imported, dst) for src, dst in ignored)
                if a != b and not skip:
                    deps.setdefault(a, set()).add(b)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in deps.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted((a, b) for a in deps for b in deps[a] if a in reachable(b))
    assert cycles == [], cycles
