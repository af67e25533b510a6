"""What the Lambda layer ships: the modules of `anomaly_guardian` reachable by import from the handlers.

The layer build (`make build-CoreLayer`, run by `sam build`) copies exactly these modules (plus the data
files of the packages they live in), not the whole package: the local stack, the generators, the CLI,
replay and the training code stay out of production. The import graph is static (`ast`): every
`import`/`from ... import` anywhere in a module, including inside functions, except those under
`if TYPE_CHECKING:`. Dynamic imports are refused unless declared in DYNAMIC_IMPORTS below, so the
graph cannot silently miss a module.

    python layers/core/layer_graph.py list             # the modules the layer holds
    python layers/core/layer_graph.py files            # their source files (what `make lint` type-checks)
    python layers/core/layer_graph.py copy DEST        # copy them (and package data) under DEST
    python layers/core/layer_graph.py check            # the rules tests/unit/test_layer_contents.py enforces

Standard library only: it runs on the build host before any dependency is installed.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "anomaly_guardian"
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Tooling: never in the layer (installed by `make install` for the CLI, the local stack and training).
TOOLING = (
    f"{PACKAGE}.local",
    f"{PACKAGE}.scenario",
    f"{PACKAGE}.commands",
    f"{PACKAGE}.cli",
    f"{PACKAGE}.replay",
    f"{PACKAGE}.replay_workers",
    f"{PACKAGE}.api.client",
    f"{PACKAGE}.ml.training",
    f"{PACKAGE}.ml.synth",
    f"{PACKAGE}.ml.compare",
    f"{PACKAGE}.ml.jobs",
)
# Provided by the Lambda Python runtime itself (not in layers/core/requirements.txt).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    internal: set[str] = field(default_factory=set)  # anomaly_guardian modules it imports
    external: set[str] = field(default_factory=set)  # top-level names of other imports
    optional_external: set[str] = field(default_factory=set)  # inside try/except ImportError
    dynamic: list[int] = field(default_factory=list)  # line numbers of importlib.import_module calls
    from_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # handlers: `from X import a, b`


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for name in names:
            if isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError"):
                return True
    return False


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, tuple[str, ...], bool]] = []  # (module, imported names, optional)
        self.dynamic: list[int] = []
        self._optional = 0

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        optional = _catches_import_error(node)
        self._optional += optional
        for child in node.body:
            self.visit(child)
        self._optional -= optional
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, (), self._optional > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parent = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{parent}.{base}" if base else parent
        self.found.append((base, tuple(a.name for a in node.names), self._optional > 0))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__"):
            self.dynamic.append(node.lineno)
        self.generic_visit(node)


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def scan(package_dir: Path) -> dict[str, Module]:
    """Every module of the package with what it imports."""
    root = package_dir.parent
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name, is_package = _module_name(root, path)
        modules[name] = Module(name, path, is_package)
    for mod in modules.values():
        visitor = _Imports(mod.name, mod.is_package)
        visitor.visit(ast.parse(mod.path.read_text(), str(mod.path)))
        mod.dynamic = visitor.dynamic
        for target, names, optional in visitor.found:
            top = target.split(".")[0]
            if top != PACKAGE:
                (mod.optional_external if optional else mod.external).add(top)
                continue
            mod.internal.add(target)  # `check` reports it if no such module exists
            for name in names:  # `from pkg import submodule`
                if f"{target}.{name}" in modules:
                    mod.internal.add(f"{target}.{name}")
    return modules


def _resolve(modules: dict[str, Module], target: str) -> str | None:
    return target if target in modules else None


def entry_imports(function_dirs: Iterable[Path]) -> dict[str, Module]:
    """The handlers (functions/<name>/app.py and any sibling module) as graph roots."""
    out: dict[str, Module] = {}
    for fn in function_dirs:
        for path in sorted(fn.glob("*.py")):
            name = f"functions.{fn.name}.{path.stem}"
            mod = Module(name, path, False)
            visitor = _Imports(name, False)
            visitor.visit(ast.parse(path.read_text(), str(path)))
            mod.dynamic = visitor.dynamic
            for target, names, optional in visitor.found:
                top = target.split(".")[0]
                if top == PACKAGE:
                    mod.internal.add(target)
                    mod.from_names[target] = names
                elif top not in {p.stem for p in fn.glob("*.py")}:
                    (mod.optional_external if optional else mod.external).add(top)
            out[name] = mod
    return out


def dynamic_imports(modules: dict[str, Module]) -> dict[str, set[str]]:
    """The dynamic imports the package declares: api/app.py mounts every router in api.ROUTER_MODULES."""
    out: dict[str, set[str]] = {}
    api_init = modules.get(f"{PACKAGE}.api")
    if api_init is not None:
        tree = ast.parse(api_init.path.read_text())
        for node in ast.walk(tree):
            target = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "ROUTER_MODULES":
                names = ast.literal_eval(node.value)  # type: ignore[union-attr, arg-type]
                out[f"{PACKAGE}.api.app"] = {f"{PACKAGE}.api.{n}" for n in names}
    return out


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@dataclass
class Layer:
    modules: dict[str, Module]  # the whole package
    entries: dict[str, Module]
    reached: set[str]  # package modules in the layer
    via: dict[str, str]  # module -> the module that first imported it (for messages)
    missing: dict[str, str]  # imported package module that does not exist -> importer


def reachable(package_dir: Path, function_dirs: Iterable[Path]) -> Layer:
    modules = scan(package_dir)
    entries = entry_imports(function_dirs)
    dynamic = dynamic_imports(modules)
    reached: set[str] = set()
    via: dict[str, str] = {}
    missing: dict[str, str] = {}
    todo: list[tuple[str, str]] = []
    for entry in entries.values():
        for target in sorted(entry.internal):
            todo.append((target, entry.name))
            todo.extend(
                (f"{target}.{n}", entry.name) for n in entry.from_names.get(target, ()) if f"{target}.{n}" in modules
            )
    while todo:
        target, importer = todo.pop()
        resolved = _resolve(modules, target)
        if resolved is None:
            missing.setdefault(target, importer)
            continue
        for name in _with_parents(resolved):  # importing a.b.c runs a/__init__ and a/b/__init__
            if name in reached:
                continue
            reached.add(name)
            via[name] = importer
            mod = modules[name]
            todo.extend((t, name) for t in sorted(mod.internal | dynamic.get(name, set())))
    return Layer(modules, entries, reached, via, missing)


def chain(layer: Layer, name: str) -> str:
    """`functions.api.app -> anomaly_guardian.api.deps -> ...`: how a module got into the layer."""
    out = [name]
    while out[-1] in layer.via and len(out) < 50:
        out.append(layer.via[out[-1]])
    return " <- ".join(out)


def requirement_names(requirements: Path) -> set[str]:
    """Distribution names pinned in a requirements file (`name==version`, comments ignored)."""
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = line.split(";")[0].split("==")[0].split("[")[0].strip()
            names.add(name.lower().replace("_", "-"))
    return names


def import_names_of(distributions: set[str]) -> set[str]:
    """Top-level import names of installed distributions (needs them installed: the dev venv)."""
    from importlib.metadata import packages_distributions

    out = set()
    for top, dists in packages_distributions().items():
        if any(d.lower().replace("_", "-") in distributions for d in dists):
            out.add(top)
    return out


def violations(layer: Layer, layer_imports: set[str]) -> list[str]:
    """Everything wrong with the layer: tooling reached, a missing module, an import it cannot satisfy,
    an undeclared dynamic import. `layer_imports`: top-level names the layer's requirements provide."""
    problems = []
    allowed = layer_imports | RUNTIME_PROVIDED | set(sys.stdlib_module_names) | {PACKAGE, "__future__"}
    for name in sorted(layer.reached):
        if any(name == t or name.startswith(t + ".") for t in TOOLING):
            problems.append(f"tooling module in the layer: {chain(layer, name)}")
    for name, importer in sorted(layer.missing.items()):
        problems.append(f"{importer} imports {name}, which the layer does not contain")
    declared = dynamic_imports(layer.modules)
    for mod in [*layer.entries.values(), *(layer.modules[n] for n in sorted(layer.reached))]:
        for top in sorted(mod.external - allowed):
            problems.append(
                f"{mod.name} imports {top!r}, which the layer does not contain "
                f"(not in layers/core/requirements.txt, the Lambda runtime or the standard library)"
            )
        if mod.dynamic and mod.name not in declared:
            problems.append(f"{mod.name} imports dynamically (line {mod.dynamic[0]}): declare it in DYNAMIC_IMPORTS")
    return problems


def default_layer(repo: Path = REPO) -> Layer:
    return reachable(
        repo / "layers" / "core" / PACKAGE, sorted(p for p in (repo / "functions").iterdir() if p.is_dir())
    )


def copy(layer: Layer, dest: Path) -> list[Path]:
    """Copy the reached modules and the data files (non-.py) of the packages they are in."""
    written = []
    root = next(iter(layer.modules.values())).path.parents[0]
    while root.name != PACKAGE:
        root = root.parent
    base = root.parent
    packages = {n for n in layer.reached if layer.modules[n].is_package}
    for name in sorted(layer.reached):
        src = layer.modules[name].path
        target = dest / src.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        written.append(target)
    for name in sorted(packages):
        pkg_dir = layer.modules[name].path.parent
        for data in sorted(pkg_dir.iterdir()):
            if data.is_file() and data.suffix in (".json", ".html", ".npz"):
                target = dest / data.relative_to(base)
                shutil.copy2(data, target)
                written.append(target)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("list", "files", "copy", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    layer = default_layer()
    if argv[0] == "list":
        print("\n".join(sorted(layer.reached)))
        return 0
    if argv[0] == "files":
        print("\n".join(str(layer.modules[n].path.relative_to(REPO)) for n in sorted(layer.reached)))
        return 0
    if argv[0] == "copy":
        if len(argv) != 2:
            print("usage: layer_graph.py copy DEST", file=sys.stderr)
            return 2
        files = copy(layer, Path(argv[1]))
        print(f"layer: {len(layer.reached)} of {len(layer.modules)} modules, {len(files)} files")
        return 0
    names = import_names_of(requirement_names(HERE / "requirements.txt"))
    problems = violations(layer, names)
    print("\n".join(problems) or f"layer ok: {len(layer.reached)} of {len(layer.modules)} modules")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
