"""Notebooks are executed so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["retrieval_quality.ipynb"])
def test_notebook_runs(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CASEWISE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASEWISE_EVAL_SET", raising=False)
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert "casewise" in outputs and "bm25" in outputs
