"""The Studio notebook is valid nbformat 4 JSON and its code cells are valid Python."""

from __future__ import annotations

import ast
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[3] / "ml" / "notebooks" / "retrain.ipynb"


def test_notebook_is_nbformat_4_with_compilable_code_cells():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [c["id"] for c in nb["cells"]]
    assert len(ids) == len(set(ids))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 5
    for cell in nb["cells"]:
        assert set(cell) >= {"cell_type", "metadata", "source"}
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            ast.parse("".join(cell["source"]))
    text = "".join("".join(c["source"]) for c in code)
    for used in ("jobs.preprocess", "jobs.train", "jobs.evaluate", "champion_pr_auc", "get_pipeline"):
        assert used in text
