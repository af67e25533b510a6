"""The job image installs the same pins the package is tested with, on a Python the package supports."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s#]+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(3)
    return pins


def test_container_pins_match_the_tested_ones_and_python_is_new_enough():
    image = _pins(ROOT / "ml" / "container" / "requirements.txt")
    dev = _pins(ROOT / "requirements" / "dev.in")
    assert set(image) == {"numpy", "scikit-learn", "joblib", "pydantic"}
    assert {k: dev[k] for k in image} == image
    base = re.search(r"^FROM \S+python:(\d+)\.(\d+)", (ROOT / "ml" / "container" / "Dockerfile").read_text(), re.M)
    assert base and (int(base.group(1)), int(base.group(2))) >= (3, 11)
