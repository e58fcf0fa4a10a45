"""Exercise 3's notebook as a learner meets it: untouched, solved, and with a cell skipped.

Each test runs a temporary copy in a fresh kernel; the committed notebook is never written.
"""

from __future__ import annotations

import pytest

import initcourse
from initcourse.exercises.block.feedback import CODES
from initcourse.exercises.block.grader import CASES
from tests import notebook_runs as nbr

NOTEBOOK = "14_exercise_block.ipynb"
_STARTER = "def init_block(seed, d_model, n_head, n_layer):"
_CHECK = 'initcourse.check_block(globals().get("init_block"))'


def test_committed_notebook_is_the_learners_version():
    nb = nbr.committed(NOTEBOOK)
    starter = nb.cells[nbr.cell(nb, _STARTER)].source
    assert starter.count("raise NotImplementedError(") == 3
    check = nb.cells[nbr.cell(nb, _CHECK)]
    assert check.source.strip() == _CHECK
    assert "Not solved yet" in nbr.text(check) and "not-solved" in nbr.text(check)
    solution = nb.cells[nbr.cell(nb, "initcourse.show_solution(exercise=3)")]
    html = solution.outputs[0]["data"]["text/html"]
    assert html.startswith("<details><summary>") and "<details open" not in html
    assert "Hint 1 of 3" in nbr.text(nb.cells[nbr.cell(nb, "initcourse.hint(exercise=3)")])
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "## The problem", "## Summary", "## Check yourself"):
        assert heading in text
    assert text.split("## Check yourself")[1].count("<details><summary>Answer</summary>") == 5
    table = text.split("## What the check recognises")[1]
    missing = [c for c in CODES if f"`{c}`" not in table and c != "not-solved"]
    assert not missing


@pytest.mark.slow
def test_untouched_notebook_says_not_solved_yet(tmp_path):
    nb = nbr.execute(nbr.committed(NOTEBOOK), tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Not solved yet" in report and "Check of init_block: not passed" in report


@pytest.mark.slow
def test_the_hints_answer_in_the_starter_cell_passes(tmp_path):
    """Hint 3's code, pasted over the starter's three stubs, is a whole solution."""
    nb = nbr.committed(NOTEBOOK)
    index = nbr.cell(nb, _STARTER)
    source = nb.cells[index].source
    for name in ("kernel_init", "proj_init", "init_block"):
        start = source.index(f"def {name}(")
        end = source.index("raise NotImplementedError(", start)
        end = source.find("\n", end) + 1 or len(source)
        source = source[:start] + f"# {name}: see below\n" + source[end:]
    nb.cells[index].source = source + "\n\n" + initcourse.hint(3, exercise=3).code
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Check of init_block: passed" in report and f"on all {len(CASES)} hidden cases" in report


@pytest.mark.slow
def test_answer_key_in_the_starter_cell_passes(tmp_path):
    nb = nbr.committed(NOTEBOOK)
    nb.cells[nbr.cell(nb, _STARTER)].source = str(initcourse.show_solution(exercise=3))
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    assert "Check of init_block: passed" in nbr.text(nb.cells[nbr.cell(nb, _CHECK)])


@pytest.mark.slow
def test_skipped_starter_cell_gives_a_friendly_message(tmp_path):
    nb = nbr.committed(NOTEBOOK)
    del nb.cells[nbr.cell(nb, _STARTER)]
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    assert "`init_block` is not defined yet" in nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
