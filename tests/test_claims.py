"""initcourse.claim: the check behind each sentence a notebook states."""

import jax.numpy as jnp
import numpy as np
import pytest

import initcourse
from initcourse.claims import CHECK_MARK, ClaimError, claim


def test_a_true_claim_prints_its_sentence_with_a_check_mark(capsys):
    claim(2 > 1, "two is more than one")
    assert capsys.readouterr().out == f"{CHECK_MARK} two is more than one\n"


@pytest.mark.parametrize("condition", [np.bool_(True), jnp.array(3.0) > 2, np.array(True)])
def test_numpy_and_jax_booleans_are_accepted(condition, capsys):
    claim(condition, "holds")
    assert capsys.readouterr().out.startswith(CHECK_MARK)


def test_a_false_claim_fails_with_the_sentence_and_what_was_measured(capsys):
    with pytest.raises(ClaimError, match=r"claim failed: the ratio is near 1 \(measured: ratio 3\.00\)"):
        claim(3.0 < 1.1, "the ratio is near 1", measured="ratio 3.00")
    assert capsys.readouterr().out == ""  # nothing claims success
    assert issubclass(ClaimError, AssertionError)  # a failing claim is a failing assertion


@pytest.mark.parametrize(
    "condition, match",
    [
        (np.array([True, False]), r"not an array of shape \(2,\).*\.all\(\) or \.any\(\)"),
        (1, "received the number 1"),
        (0.5, "received the number 0.5"),
        ("yes", "received 'yes'"),
        (None, "received None"),
        (jnp.array(1.0), "dtype float32"),
        ([True], r"received \[True\]"),
    ],
)
def test_a_condition_that_is_not_one_bool_is_refused(condition, match):
    # a number or an array would be truthy by accident: a claim must state a comparison
    with pytest.raises(TypeError, match=match):
        claim(condition, "the claim")


@pytest.mark.parametrize("statement", ["", "   ", None, 3])
def test_the_statement_must_be_words(statement):
    with pytest.raises(TypeError, match="statement must be a non-empty str"):
        claim(True, statement)


def test_measured_must_be_text():
    with pytest.raises(TypeError, match="measured must be a str or None; received 3.0"):
        claim(True, "holds", measured=3.0)


def test_claim_is_exported():
    assert initcourse.claim is claim
    assert initcourse.ClaimError is ClaimError
