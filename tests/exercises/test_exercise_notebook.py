"""The exercise notebook as a learner meets it: untouched, solved, and with a cell skipped.

Each test runs a temporary copy in a fresh kernel; the committed notebook is never written.
"""

from __future__ import annotations

import pytest

import initcourse
from initcourse.exercises.dense.cases import CASES
from tests import notebook_runs as nbr

_CHECK = 'initcourse.check(globals().get("solve"))'
_NNX_CHECK = 'initcourse.check(globals().get("solve_with_nnx"), api="nnx")'


def test_committed_notebook_is_the_learners_version():
    nb = nbr.committed("09_exercise.ipynb")
    starter = nb.cells[nbr.cell(nb, "def solve(seed, x, features):")].source
    assert starter.count('raise NotImplementedError("your code here")') == 2
    assert "# Your code here" in starter
    check = nb.cells[nbr.cell(nb, _CHECK)]
    assert check.source.strip() == _CHECK
    assert "Not solved yet" in nbr.text(check)
    # The optional NNX variant: its own starter and check, not graded.
    nnx = nb.cells[nbr.cell(nb, _NNX_CHECK)]
    assert nnx.source.strip() == _NNX_CHECK and "Not solved yet" in nbr.text(nnx)
    assert "solve (nnx)" in nbr.text(nnx)
    # The answer key is there on demand, folded, not printed in the learner's face.
    solution = nb.cells[nbr.cell(nb, "initcourse.show_solution()")]
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
    nb = nbr.execute(nbr.committed("09_exercise.ipynb"), tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Not solved yet" in report and "not-solved" in report
    assert "Check of solve: not passed" in report


@pytest.mark.slow
def test_reference_solution_in_the_starter_cell_passes(tmp_path):
    nb = nbr.committed("09_exercise.ipynb")
    nb.cells[nbr.cell(nb, "def solve(seed, x, features):")].source = str(initcourse.show_solution())
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Check of solve: passed" in report
    assert f"matches the reference on all {len(CASES)} hidden cases" in report


@pytest.mark.slow
def test_nnx_answer_key_in_the_nnx_starter_cell_passes_its_check(tmp_path):
    nb = nbr.committed("09_exercise.ipynb")
    source = str(initcourse.show_solution(api="nnx")).replace("def solve_nnx(", "def solve_with_nnx(")
    nb.cells[nbr.cell(nb, "def solve_with_nnx(seed, x, features):")].source = source
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _NNX_CHECK)])
    assert "Check of solve (nnx): passed" in report


@pytest.mark.slow
def test_skipped_starter_cell_gives_a_friendly_message(tmp_path):
    nb = nbr.committed("09_exercise.ipynb")
    del nb.cells[nbr.cell(nb, "def solve(seed, x, features):")]
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "`solve` is not defined yet" in report and "Run the starter cell above" in report
