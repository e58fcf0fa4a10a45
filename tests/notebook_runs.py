"""Running a course notebook as a learner would: a temporary copy in a fresh kernel (the
committed notebook is never written), and reading what its cells showed."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def committed(name: str):
    """The committed notebook ``notebooks/<name>`` as an nbformat v4 node."""
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def cell(nb, marker: str) -> int:
    """Index of the one code cell whose source contains ``marker``."""
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, f"expected one code cell with {marker!r}, found {len(found)}"
    return found[0]


def execute(nb, tmp_path):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def text(cell) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.extend(output.get("data", {}).get(m, "") for m in ("text/plain", "text/html"))
    return "\n".join(parts)


def assert_no_errors(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert all(o.output_type != "error" for o in cell.outputs), cell.source
            assert "Traceback" not in text(cell), cell.source
