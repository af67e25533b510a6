"""Only `settings.py` reads the process environment and only `wiring.py` (and the handlers) turn it into
settings: every other runtime module gets its configuration as arguments. The scan is static (`ast`),
over every module of the package except the tooling layers/core/layer_graph.py lists (TOOLING: the local
stack, generators, CLI commands, replay, the API client, training), plus the handlers in functions/.
Each rule is shown failing on a deliberate violation: snippets for the scanner, and a temporary copy
of the package with a read injected."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("layer_graph", ROOT / "layers" / "core" / "layer_graph.py")
layer_graph = importlib.util.module_from_spec(spec)
sys.modules.setdefault("layer_graph", layer_graph)
spec.loader.exec_module(layer_graph)

PACKAGE = "anomaly_guardian"
# The only modules that read os.environ: the settings models (and the process environment) ...
READS_ENVIRONMENT = {f"{PACKAGE}.settings"}
# ... and the only ones that call `<Settings>.from_env()`: wiring, besides the handlers themselves.
BUILDS_SETTINGS = {f"{PACKAGE}.wiring"}
# Tooling, exempt from both rules: what layer_graph keeps out of the Lambda layer, listed there by name.
TOOLING = tuple(layer_graph.TOOLING)
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for each read or write of the process environment: `os.environ`, `os.getenv(...)`
    (under any alias of `os`), `from os import environ/getenv`, `getattr(os, "environ")`."""
    tree = ast.parse(source)
    aliases = {"os"}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [(node.lineno, f"from os import {a.name}") for a in node.names if a.name in ENV_NAMES | {"*"}]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            if isinstance(node.value, ast.Name) and node.value.id in aliases:
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            target, name = [*node.args, None, None][:2]
            named = isinstance(name, ast.Constant) and name.value in ENV_NAMES
            if isinstance(target, ast.Name) and target.id in aliases and named:
                found.append((node.lineno, f"getattr({target.id}, {name.value!r})"))
    return sorted(found)


def settings_built(source: str) -> list[int]:
    """Lines that call `<anything>.from_env(...)`: a settings model read from the environment."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_env"
    )


def is_tooling(name: str) -> bool:
    return any(name == t or name.startswith(f"{t}.") for t in TOOLING)


def runtime_modules(repo: Path) -> dict[str, Path]:
    """Every non-tooling module of the package, imported by a handler or not (a new module is covered
    before anything imports it)."""
    modules = layer_graph.scan(repo / "layers" / "core" / PACKAGE)
    return {name: mod.path for name, mod in modules.items() if not is_tooling(name)}


def violations(repo: Path) -> list[str]:
    problems = []
    for name, path in sorted(runtime_modules(repo).items()):
        source = path.read_text()
        if name not in READS_ENVIRONMENT:
            problems += [f"{name}:{line} reads the environment ({what})" for line, what in environment_reads(source)]
        if name not in BUILDS_SETTINGS | READS_ENVIRONMENT:
            problems += [f"{name}:{line} builds settings (from_env)" for line in settings_built(source)]
    for handler in sorted((repo / "functions").glob("*/*.py")):  # handlers may validate settings, not read env
        problems += [
            f"functions/{handler.parent.name}/{handler.name}:{line} reads the environment ({what})"
            for line, what in environment_reads(handler.read_text())
        ]
    return problems


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the package and the handlers to break on purpose."""
    shutil.copytree(ROOT / "layers/core/anomaly_guardian", tmp_path / "layers/core/anomaly_guardian",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copytree(
        ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__", "node_modules")
    )
    return tmp_path


def append(repo: Path, relative: str, text: str) -> None:
    path = repo / relative
    path.write_text(path.read_text() + text)


def test_no_runtime_module_but_settings_reads_the_environment():
    assert violations(ROOT) == []


def test_the_exemptions_are_real_modules_and_the_scan_covers_the_runtime():
    modules = layer_graph.scan(ROOT / "layers" / "core" / PACKAGE)
    for name in READS_ENVIRONMENT | BUILDS_SETTINGS:
        assert name in modules
    for tooling in TOOLING:
        assert tooling in modules or any(m.startswith(f"{tooling}.") for m in modules), tooling
    covered = runtime_modules(ROOT)
    assert layer_graph.default_layer().reached - set(covered) == set()  # everything the layer ships
    assert f"{PACKAGE}.adapters.dynamodb" in covered and f"{PACKAGE}.local.stack" not in covered
    # settings really is where the reads are: the exemption is not vacuous
    assert environment_reads((ROOT / "layers/core/anomaly_guardian/settings.py").read_text())


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("import os\nx = os.environ['A']", [(2, "os.environ")]),
        ("import os\nx = os.environ.get('A')", [(2, "os.environ")]),
        ("import os\nx = os.getenv('A', 'b')", [(2, "os.getenv")]),
        ("import os as _os\ndef f():\n    return _os.environ.setdefault('A', 'b')", [(3, "_os.environ")]),
        ("from os import environ\nx = environ['A']", [(1, "from os import environ")]),
        ("from os import getenv as g\nx = g('A')", [(1, "from os import getenv")]),
        ("import os\nx = getattr(os, 'environ')", [(2, "getattr(os, 'environ')")]),
        ("import os\nos.putenv('A', 'b')", [(2, "os.putenv")]),
    ],
)
def test_the_scanner_finds_every_spelling_of_an_environment_read(snippet, expected):
    assert environment_reads(snippet) == expected


def test_the_scanner_ignores_what_is_not_an_environment_read():
    clean = (
        '"""Mentions os.environ in a docstring."""\nimport os\nimport os.path\n'
        "x = os.urandom(4)\ny = os.path.join('a', 'b')\nz = 'os.getenv'\nenviron = {}\nw = environ.get('A')\n"
    )
    assert environment_reads(clean) == []
    assert settings_built("s = Settings.from_env()\nt = Settings.from_env({'A': '1'})") == [1, 2]
    assert settings_built("s = Settings.model_validate({})") == []


def test_an_adapter_reading_the_environment_fails_naming_module_and_line(repo):
    append(repo, "layers/core/anomaly_guardian/adapters/queues.py", "\n\ndef _table():\n    return os.environ['X']\n")
    append(repo, "layers/core/anomaly_guardian/adapters/queues.py", "\nimport os\n")
    found = violations(repo)
    assert len(found) == 1 and found[0].startswith("anomaly_guardian.adapters.queues:")
    assert found[0].endswith("reads the environment (os.environ)"), found


def test_a_domain_module_building_its_own_settings_fails(repo):
    append(
        repo,
        "layers/core/anomaly_guardian/response/actions.py",
        "\n\ndef _settings():\n    from anomaly_guardian.settings import ResponseSettings\n\n"
        "    return ResponseSettings.from_env()\n",
    )
    found = violations(repo)
    assert len(found) == 1 and found[0].startswith("anomaly_guardian.response.actions:"), found
    assert found[0].endswith("builds settings (from_env)"), found


def test_a_new_module_nothing_imports_yet_is_covered_and_a_handler_too(repo):
    (repo / "layers/core/anomaly_guardian/detection/new_detector.py").write_text("import os\nX = os.getenv('X')\n")
    append(repo, "functions/detector/app.py", "\nimport os\nDEBUG = os.environ.get('DEBUG')\n")
    found = violations(repo)
    assert any(p.startswith("anomaly_guardian.detection.new_detector:2 reads") for p in found), found
    assert any(p.startswith("functions/detector/app.py:") for p in found), found


def test_tooling_is_exempt_and_settings_may_read(repo):
    append(repo, "layers/core/anomaly_guardian/local/stack.py", "\nimport os\n_X = os.environ.get('X')\n")
    append(repo, "layers/core/anomaly_guardian/commands/token.py", "\nimport os\n_Y = os.getenv('Y')\n")
    append(repo, "layers/core/anomaly_guardian/settings.py", "\n_Z = os.environ.get('Z')\n")
    assert violations(repo) == []
