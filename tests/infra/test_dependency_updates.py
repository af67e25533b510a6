"""Dependabot watches every dependency manifest the repository holds: pip (requirements*.txt), npm
(package.json), Terraform (*.tf roots and modules) and the GitHub Actions workflows. A new manifest in a
directory the config does not list fails here (shown on a deliberate one)."""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[2]

CONFIG = ROOT / ".github" / "dependabot.yml"
MANIFESTS = {
    "pip": lambda name: name.startswith("requirements") and name.endswith(".txt"),
    "npm": lambda name: name == "package.json",
    "terraform": lambda name: name.endswith(".tf"),
    "github-actions": lambda name: False,  # the workflows directory, checked below
}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def watched(config: dict) -> dict[str, list[str]]:
    dirs: dict[str, list[str]] = {}
    for update in config["updates"]:
        listed = update.get("directories") or [update["directory"]]
        dirs.setdefault(update["package-ecosystem"], []).extend(listed)
    return dirs


def unwatched(config: dict, files: list[str]) -> list[str]:
    """`ecosystem: /dir` for every directory with a manifest that no `directories` entry (glob) covers."""
    dirs = watched(config)
    missing = []
    for ecosystem, is_manifest in MANIFESTS.items():
        found = {"/" + str(PurePosixPath(f).parent) for f in files if is_manifest(PurePosixPath(f).name)}
        found = {d.replace("/.", "/").rstrip("/") or "/" for d in found}
        for directory in sorted(found):
            if not any(fnmatch.fnmatch(directory, pattern.rstrip("/") or "/") for pattern in dirs.get(ecosystem, [])):
                missing.append(f"{ecosystem}: {directory}")
    if any(f.startswith(".github/workflows/") for f in files) and "/" not in dirs.get("github-actions", []):
        missing.append("github-actions: /")
    return missing


def test_every_manifest_directory_is_watched():
    assert unwatched(yaml.safe_load(CONFIG.read_text()), tracked_files()) == []


def test_each_ecosystem_the_issue_names_is_configured_weekly():
    config = yaml.safe_load(CONFIG.read_text())
    assert set(watched(config)) >= {"pip", "npm", "github-actions", "terraform"}
    assert all(u["schedule"]["interval"] == "weekly" for u in config["updates"])


def test_a_new_manifest_outside_the_watched_directories_is_reported():
    config = yaml.safe_load(CONFIG.read_text())
    files = [*tracked_files(), "tools/newtool/package.json", "ml/serving/requirements.txt", "terraform/envs/qa/main.tf"]
    assert unwatched(config, files) == ["pip: /ml/serving", "npm: /tools/newtool", "terraform: /terraform/envs/qa"]
    assert unwatched(config, [*tracked_files(), "terraform/modules/newmodule/main.tf"]) == []  # modules/* glob
    dropped = {"updates": [u for u in config["updates"] if u["package-ecosystem"] != "github-actions"]}
    assert unwatched(dropped, tracked_files()) == ["github-actions: /"]
