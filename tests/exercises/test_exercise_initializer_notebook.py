"""Exercise 2's notebook as a learner meets it: untouched, solved, and with a cell skipped.

Each test runs a temporary copy in a fresh kernel; the committed notebook is never written.
"""

from __future__ import annotations

import pytest

import initcourse
from initcourse.exercises.initializer.grader import CASES
from tests import notebook_runs as nbr

_STARTER = "def lecun_normal_init(key, shape, dtype=jnp.float32):"
_CHECK = 'initcourse.check_initializer(globals().get("lecun_normal_init"))'


def test_committed_notebook_is_the_learners_version():
    nb = nbr.committed("10_exercise_initializer.ipynb")
    starter = nb.cells[nbr.cell(nb, _STARTER)].source
    assert starter.count('raise NotImplementedError("your code here")') == 1
    check = nb.cells[nbr.cell(nb, _CHECK)]
    assert check.source.strip() == _CHECK
    assert "Not solved yet" in nbr.text(check) and "not-solved" in nbr.text(check)
    solution = nb.cells[nbr.cell(nb, "initcourse.show_solution(exercise=2)")]
    html = solution.outputs[0]["data"]["text/html"]
    assert html.startswith("<details><summary>") and "<details open" not in html
    hint = nb.cells[nbr.cell(nb, "initcourse.hint(exercise=2)")]
    assert "Hint 1 of 3" in nbr.text(hint)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "## The problem", "## Summary", "## Check yourself"):
        assert heading in text
    questions = text.split("## Check yourself")[1]
    assert questions.count("<details><summary>Answer</summary>") == 5
    # Every code the check can report is in the notebook's table of mistakes.
    table = text.split("## What the check recognises")[1]
    from initcourse.exercises.initializer.feedback import CODES
    missing = [c for c in CODES if f"`{c}`" not in table
               and c not in ("not-defined", "not-solved", "wrong-values")]
    assert not missing


@pytest.mark.slow
def test_untouched_notebook_says_not_solved_yet(tmp_path):
    nb = nbr.execute(nbr.committed("10_exercise_initializer.ipynb"), tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Not solved yet" in report and "Check of lecun_normal_init: not passed" in report


@pytest.mark.slow
def test_answer_key_in_the_starter_cell_passes(tmp_path):
    nb = nbr.committed("10_exercise_initializer.ipynb")
    nb.cells[nbr.cell(nb, _STARTER)].source = str(initcourse.show_solution(exercise=2))
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "Check of lecun_normal_init: passed" in report
    assert f"on all {len(CASES)} hidden cases" in report


@pytest.mark.slow
def test_skipped_starter_cell_gives_a_friendly_message(tmp_path):
    nb = nbr.committed("10_exercise_initializer.ipynb")
    del nb.cells[nbr.cell(nb, _STARTER)]
    nb = nbr.execute(nb, tmp_path)
    nbr.assert_no_errors(nb)
    report = nbr.text(nb.cells[nbr.cell(nb, _CHECK)])
    assert "`lecun_normal_init` is not defined yet" in report
