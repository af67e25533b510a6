"""The three environment roots share their variables, outputs, versions and module call: staging and prod
are generated from dev (terraform/sync_envs.py) and this test fails when one drifts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("sync_envs", ROOT / "terraform" / "sync_envs.py")
sync_envs = importlib.util.module_from_spec(spec)
sys.modules["sync_envs"] = sync_envs
spec.loader.exec_module(sync_envs)


def test_the_env_roots_are_in_sync_with_dev():
    assert sync_envs.out_of_sync() == [], "run: python terraform/sync_envs.py"


def test_a_drifted_variable_default_is_reported(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "terraform" / "envs", tmp_path / "envs")
    monkeypatch.setattr(sync_envs, "ENVS", tmp_path / "envs")
    prod = tmp_path / "envs" / "prod" / "variables.tf"
    prod.write_text(prod.read_text().replace("default", "default ", 1))
    assert sync_envs.out_of_sync() == [prod]


def test_main_differs_only_by_the_environment_name():
    for env in sync_envs.TARGETS:
        text = (ROOT / "terraform" / "envs" / env / "main.tf").read_text()
        assert text.count(f'"{env}"') == 2 and '"dev"' not in text  # the default tag and the module input
