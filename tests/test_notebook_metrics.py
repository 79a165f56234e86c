"""The support-metrics notebook is executed, so it cannot rot: demo history built, metrics computed and plotted."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_support_metrics_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEWISE_DATA_DIR", raising=False)
    notebook = nbformat.read(ROOT / "notebooks" / "support_metrics.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "casewise demo history: 389 tickets" in text
    assert "metrics checked: identical alone and together" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
