"""check_block (exercise 3): right blocks in several styles pass; each wrong attempt of the
corpus gets exactly its mistake codes; the report names what it measured."""

from __future__ import annotations

import pytest
from solutions import load, timeout

from initcourse import check_block
from initcourse.exercises.block.feedback import CODES, HINTS, MISTAKES

CORRECT = load("block_correct")
WRONG = load("block_wrong")


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_right_blocks_pass(name):
    report = check_block(CORRECT[name], timeout=60)
    assert report.passed, report.message
    assert [row.ok for row in report.rows] == [True] * 5


@pytest.mark.parametrize("name", sorted(WRONG))
def test_each_mistake_is_named(name):
    fn = WRONG[name]
    report = check_block(fn, timeout=timeout(fn))
    assert report.mistakes == fn.expected, report.message
    assert not report.passed


def test_every_code_of_the_feedback_table_is_exercised_or_generic():
    exercised = {code for fn in WRONG.values() for code in fn.expected}
    generic = {"not-defined", "wrong-signature", "non-finite"}
    assert set(CODES) - exercised == generic


def test_messages_say_what_was_measured():
    report = check_block(WRONG["sqrt_n_layer"])
    assert "0.02 / sqrt(n_layer)" in report.message and "0.02 / sqrt(2 * 12)" in report.message
    hard = check_block(WRONG["hard_coded_twelve"])
    assert "n_layer = 1, 6, 12, 24, 48 alike" in hard.message, hard.message
    only = check_block(WRONG["only_mlp_scaled"])
    assert "attn/c_proj/kernel" in only.message and "mlp/c_proj is right" in only.message
    lecun = check_block(WRONG["flax_defaults"])
    assert "lecun_normal()" in lecun.message
    cut = check_block(WRONG["truncated"])
    assert "truncated_normal(0.02)" in cut.message
    uniform = check_block(WRONG["uniform_same_std"])
    assert "uniform" in uniform.message
    html = uniform._repr_html_()
    assert "<code>distribution</code>" in html and "<table" in html


def test_not_callable_and_signature():
    assert check_block(None).mistakes == ("not-defined",)
    assert check_block(3).mistakes == ("not-defined",)
    assert check_block(lambda seed, d_model: None).mistakes == ("wrong-signature",)


def test_drawn_cases_are_deterministic_and_pass_the_answer_key():
    a, b = check_block(CORRECT["answer_key"], seed=7), check_block(CORRECT["answer_key"], seed=7)
    assert a.passed and [r.cells() for r in a.rows] == [r.cells() for r in b.rows]
    assert [r.cells() for r in a.rows] != [r.cells() for r in check_block(
        CORRECT["answer_key"]).rows]
    assert check_block(WRONG["hard_coded_twelve"], seed=7).mistakes == ("residual-scale",)


def test_hints_and_table():
    assert len(HINTS) == 3 and all(MISTAKES[c].fix for c in CODES)
