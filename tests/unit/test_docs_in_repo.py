"""The repository carries its own design: no file refers to a document outside it, and the architecture
page names every Lambda function of the template and where its code lives."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("DESIGN" + ".md", "../" + "shared")  # spelled in parts so this file does not match itself


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if line and (ROOT / line).is_file()]


def test_no_file_refers_to_a_design_outside_the_repository():
    hits = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{path.relative_to(ROOT)}: {needle}" for needle in OUTSIDE if needle in text]
    assert hits == [], hits


def test_architecture_names_every_function_and_its_code():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", doc, re.M)}
    assert set(functions) <= rows, sorted(set(functions) - rows)
    for name in functions:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.count("|") >= 6 and "`" in row.split("|")[-2], f"{name}: no code location"
