"""The exercise notebook as a learner meets it: untouched, solved, and with a cell skipped.

Each test runs a temporary copy in a fresh kernel; the committed notebook is never written.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import initcourse
from initcourse.cases import CASES

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_exercise.ipynb"


_CHECK = 'initcourse.check(globals().get("solve"))'
_NNX_CHECK = 'initcourse.check(globals().get("solve_with_nnx"), api="nnx")'


def _committed():
    return nbformat.read(NOTEBOOK, as_version=4)


def _cell(nb, marker: str) -> int:
    """Index of the one code cell whose source contains ``marker``."""
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, f"expected one code cell with {marker!r}, found {len(found)}"
    return found[0]


def _execute(nb, tmp_path):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _text(cell) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.extend(output.get("data", {}).get(m, "") for m in ("text/plain", "text/html"))
    return "\n".join(parts)


def _assert_no_errors(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert all(o.output_type != "error" for o in cell.outputs), cell.source
            assert "Traceback" not in _text(cell), cell.source


def test_committed_notebook_is_the_learners_version():
    nb = _committed()
    starter = nb.cells[_cell(nb, "def solve(seed, x, features):")].source
    assert starter.count('raise NotImplementedError("your code here")') == 2
    assert "# Your code here" in starter
    check = nb.cells[_cell(nb, _CHECK)]
    assert check.source.strip() == _CHECK
    assert "Not solved yet" in _text(check)
    # The optional NNX variant: its own starter and check, not graded.
    nnx = nb.cells[_cell(nb, _NNX_CHECK)]
    assert nnx.source.strip() == _NNX_CHECK and "Not solved yet" in _text(nnx)
    assert "solve (nnx)" in _text(nnx)
    # The answer key is there on demand, folded, not printed in the learner's face.
    solution = nb.cells[_cell(nb, "initcourse.show_solution()")]
    html = solution.outputs[0]["data"]["text/html"]
    assert html.startswith("<details><summary>")
    assert "<details open" not in html
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "## Summary", "## Check yourself", "## The problem",
                    "Flax NNX"):
        assert heading in text
    # Five questions, each with an answer a learner opens on demand.
    questions = text.split("## Check yourself")[1]
    assert questions.count("<details><summary>Answer</summary>") == 5


@pytest.mark.slow
def test_untouched_notebook_says_not_solved_yet(tmp_path):
    nb = _execute(_committed(), tmp_path)
    _assert_no_errors(nb)
    report = _text(nb.cells[_cell(nb, _CHECK)])
    assert "Not solved yet" in report and "not-solved" in report
    assert "Check of solve: not passed" in report


@pytest.mark.slow
def test_reference_solution_in_the_starter_cell_passes(tmp_path):
    nb = _committed()
    nb.cells[_cell(nb, "def solve(seed, x, features):")].source = str(initcourse.show_solution())
    nb = _execute(nb, tmp_path)
    _assert_no_errors(nb)
    report = _text(nb.cells[_cell(nb, _CHECK)])
    assert "Check of solve: passed" in report
    assert f"matches the reference on all {len(CASES)} hidden cases" in report


@pytest.mark.slow
def test_nnx_answer_key_in_the_nnx_starter_cell_passes_its_check(tmp_path):
    nb = _committed()
    source = str(initcourse.show_solution(api="nnx")).replace("def solve_nnx(", "def solve_with_nnx(")
    nb.cells[_cell(nb, "def solve_with_nnx(seed, x, features):")].source = source
    nb = _execute(nb, tmp_path)
    _assert_no_errors(nb)
    report = _text(nb.cells[_cell(nb, _NNX_CHECK)])
    assert "Check of solve (nnx): passed" in report


@pytest.mark.slow
def test_skipped_starter_cell_gives_a_friendly_message(tmp_path):
    nb = _committed()
    del nb.cells[_cell(nb, "def solve(seed, x, features):")]
    nb = _execute(nb, tmp_path)
    _assert_no_errors(nb)
    report = _text(nb.cells[_cell(nb, _CHECK)])
    assert "`solve` is not defined yet" in report and "Run the starter cell above" in report
