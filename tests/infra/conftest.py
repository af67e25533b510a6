"""Fixtures for the IaC tests; helpers live in infra_tools.py and the rules in iac_rules.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import iac_rules


@pytest.fixture(scope="session")
def template() -> dict:
    return iac_rules.load_template()
