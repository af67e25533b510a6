"""The Lambda layer holds exactly what the handlers import (layers/core/layer_graph.py), never tooling,
and imports nothing it does not contain. Each rule is shown failing on a deliberate violation injected
into a temporary copy of the package."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("layer_graph", ROOT / "layers" / "core" / "layer_graph.py")
layer_graph = importlib.util.module_from_spec(spec)
sys.modules["layer_graph"] = layer_graph
spec.loader.exec_module(layer_graph)

LAYER_IMPORTS = layer_graph.import_names_of(layer_graph.requirement_names(ROOT / "layers/core/requirements.txt"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the package and the handlers to break on purpose."""
    shutil.copytree(ROOT / "layers/core/anomaly_guardian", tmp_path / "layers/core/anomaly_guardian",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def problems(repo: Path) -> list[str]:
    return layer_graph.violations(layer_graph.default_layer(repo), LAYER_IMPORTS)


def inject(repo: Path, module: str, line: str, *, in_function: bool = False) -> None:
    path = repo / "layers/core" / (module.replace(".", "/") + ".py")
    text = path.read_text()
    if in_function:  # a function-local import, the kind that hides from a top-of-file scan
        text += f"\n\ndef _injected():\n    {line}\n"
    else:
        text += f"\n{line}\n"
    path.write_text(text)


def test_the_layer_has_no_tooling_and_every_import_is_satisfied():
    layer = layer_graph.default_layer()
    assert problems(ROOT) == []
    assert "anomaly_guardian.detection.batch" in layer.reached and "anomaly_guardian.api.rules" in layer.reached
    for tooling in ("local", "scenario", "commands", "cli", "replay", "ml.training", "api.client"):
        assert f"anomaly_guardian.{tooling}" not in layer.reached


def test_a_tooling_module_reaching_the_layer_fails_with_the_import_chain(repo):
    assert problems(repo) == []
    inject(repo, "anomaly_guardian.ingest.service", "from anomaly_guardian.local import stack", in_function=True)
    found = problems(repo)
    assert any(
        p.startswith("tooling module in the layer: anomaly_guardian.local")
        and "anomaly_guardian.ingest.service" in p
        and " <- functions." in p
        for p in found
    ), found


def test_a_third_party_import_the_layer_does_not_contain_fails(repo):
    inject(repo, "anomaly_guardian.detection.value", "import requests", in_function=True)
    found = problems(repo)
    assert any("anomaly_guardian.detection.value imports 'requests'" in p for p in found), found


def test_an_import_of_a_module_that_is_not_copied_fails(repo):
    inject(repo, "anomaly_guardian.response.actions", "from anomaly_guardian.nowhere import thing")
    found = problems(repo)
    assert any("imports anomaly_guardian.nowhere, which the layer does not contain" in p for p in found), found


def test_an_undeclared_dynamic_import_fails(repo):
    inject(repo, "anomaly_guardian.models.event", "import importlib\n_m = importlib.import_module('json')")
    found = problems(repo)
    assert any("anomaly_guardian.models.event imports dynamically" in p for p in found), found


def test_type_checking_imports_and_guarded_optional_imports_are_not_shipped(repo):
    inject(repo, "anomaly_guardian.models.event", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
           "    from anomaly_guardian.local import stack\n    import requests")  # fmt: skip
    inject(repo, "anomaly_guardian.models.anomaly", "try:\n    import sklearn\nexcept ImportError:\n    sklearn = None")
    assert problems(repo) == []


def test_the_routers_mounted_dynamically_are_in_the_layer():
    layer = layer_graph.default_layer()
    routers = layer_graph.dynamic_imports(layer.modules)["anomaly_guardian.api.app"]
    assert routers and routers <= layer.reached


def test_copy_writes_exactly_the_reached_modules_and_their_data(tmp_path):
    layer = layer_graph.default_layer()
    layer_graph.copy(layer, tmp_path)
    copied = {
        str(p.relative_to(tmp_path).with_suffix("")).replace("/__init__", "").replace("/", ".")
        for p in tmp_path.rglob("*.py")
    }
    assert copied == layer.reached
    assert (tmp_path / "anomaly_guardian/geo/locations.json").is_file()
    assert not (tmp_path / "anomaly_guardian/local").exists() and not (tmp_path / "anomaly_guardian/cli.py").exists()


def test_every_handler_imports_from_the_copied_layer_alone(tmp_path):
    """The copy, first on sys.path, is what the handlers get: a module the graph missed fails here."""
    layer_graph.copy(layer_graph.default_layer(), tmp_path / "python")
    script = (
        "import importlib.util, pathlib, sys\n"
        "import anomaly_guardian\n"
        "from anomaly_guardian.settings import SettingsError\n"
        f"assert anomaly_guardian.__file__.startswith({str(tmp_path)!r}), anomaly_guardian.__file__\n"
        f"for app in sorted(pathlib.Path({str(ROOT / 'functions')!r}).glob('*/app.py')):\n"
        "    spec = importlib.util.spec_from_file_location('fn_' + app.parent.name, app)\n"
        "    try:\n"
        "        spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "    except SettingsError:\n"  # an environment this test does not fill in; its imports already ran
        "        pass\n"
        "mods = [m for m in sys.modules if m.startswith('anomaly_guardian')]\n"
        "print(len(mods))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARDIAN_"))},
        "PYTHONPATH": str(tmp_path / "python"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "ENVIRONMENT": "test",
        "USAGE_TENANT_ID": "acme",
        "EVENTS_STREAM_NAME": "events",
        "OPENSEARCH_ENDPOINT": "https://search.example",
        "MODEL_BUCKET": "models",
        "MODEL_KEY": "model.npz",
        "REPORTS_BUCKET": "reports",
        **{
            n: n.lower()
            for n in (
                "STATE_TABLE",
                "ANOMALIES_TABLE",
                "CONFIG_TABLE",
                "INCIDENTS_TABLE",
                "AUDIT_TABLE",
                "BLOCKLIST_TABLE",
                "IDEMPOTENCY_TABLE",
            )
        },
    }
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_layer_build_copies_by_import_graph_in_source():
    makefile = (ROOT / "layers/core/Makefile").read_text()
    assert 'layer_graph.py" copy' in makefile and "cp -R" not in makefile
    assert "BuildInSource: true" in (ROOT / "sam/template.yaml").read_text().split("CoreLayer:")[1].split("\n\n")[0]


def test_the_layer_build_ships_bytecode_for_the_runtime_python_when_one_is_there():
    # Lambda's /opt is read-only: without .pyc every cold start compiles the layer (issue 16, 481 -> 200 ms).
    makefile = (ROOT / "layers/core/Makefile").read_text()
    recipe = makefile.split("build-CoreLayer:")[1]
    assert recipe.index('-name "__pycache__"') < recipe.index("compileall")  # host bytecode removed first
    assert '"$(PYTHON313)" -m compileall' in recipe and "--invalidation-mode unchecked-hash" in recipe
    assert "sys.version_info[:2] != (3, 13)" in makefile  # each candidate interpreter is run, shims included
    found = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/core"), "-f", "Makefile", "-f", "-", "show-python313"],
        input="show-python313:\n\t@echo $(PYTHON313)\n",
        capture_output=True,
        text=True,
    )
    interpreter = found.stdout.strip()
    if interpreter:  # this machine has one: it really is 3.13
        version = subprocess.run([interpreter, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        assert version.stdout.decode().strip() == "(3, 13)"


def test_the_runtime_package_declares_every_layer_requirement():
    import tomllib

    project = tomllib.loads((ROOT / "layers/core/pyproject.toml").read_text())["project"]
    declared = {
        d.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in project["dependencies"]
    }
    direct = {
        line.split("==")[0].split("[")[0].strip().lower()
        for line in (ROOT / "layers/core/requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert direct <= declared, direct - declared
    assert not declared & {"scikit-learn", "sagemaker", "moto", "requests"}, "tooling stays out of the runtime"
