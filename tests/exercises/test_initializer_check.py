"""Exercise 2's check against a corpus of learners' initializers (tests/solutions/init_*.py).

Every wrong initializer must be reported with exactly its mistake codes, and every correct
variant must pass with none: no false alarms.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from solutions import load, timeout

import initcourse
from initcourse.exercises.initializer.feedback import CODES, HINTS, MISTAKES, ULP_LIMIT
from initcourse.exercises.initializer.grader import CASES, draw_cases
from initcourse.exercises.initializer.probes import ulp_distance
from tests import notebook_runs as nbr

CORRECT = load("init_correct")
WRONG = load("init_wrong")


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_variant_passes_with_no_mistakes(name):
    report = initcourse.check_initializer(CORRECT[name], timeout=timeout(CORRECT[name]))
    assert report.mistakes == (), report.message
    assert report.passed and all(row.ok for row in report.rows)
    assert len(report.rows) == len(CASES)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_initializer_is_reported_with_its_codes(name):
    fn = WRONG[name]
    report = initcourse.check_initializer(fn, timeout=timeout(fn))
    assert not report.passed
    assert report.mistakes == fn.expected, report.message
    for code in fn.expected:
        assert f"[{code}]" in report.message and MISTAKES[code].fix in report.message
    assert "Traceback" not in str(report)


def test_corpus_size_and_coverage():
    assert len(WRONG) >= 25 and len(CORRECT) >= 8
    covered = {code for fn in WRONG.values() for code in fn.expected}
    # `not-defined` is about the name (tested below); `wrong-values` is the fallback no known
    # mistake reaches.
    assert covered == set(CODES) - {"not-defined", "wrong-values"}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dims=st.lists(st.integers(1, 9), min_size=2, max_size=4),
       dtype=st.sampled_from(["float32", "bfloat16", "float16"]), typed=st.booleans())
def test_the_answer_key_equals_flax_bit_for_bit(seed, dims, dtype, typed):
    key = (jax.random.key if typed else jax.random.PRNGKey)(seed)
    ours = initcourse.lecun_normal_init(key, tuple(dims), jnp.dtype(dtype))
    flax = nn.initializers.lecun_normal()(key, tuple(dims), jnp.dtype(dtype))
    assert ours.dtype == flax.dtype and ours.shape == flax.shape
    np.testing.assert_array_equal(np.asarray(ours).view(np.uint8), np.asarray(flax).view(np.uint8))


def test_the_answer_key_uses_jax_random_only():
    source = Path(importlib.import_module("initcourse.solver").__file__).read_text()
    body = source[source.index("def lecun_normal_init"):].split('"""')[2]  # after the docstring
    assert "initializers" not in body and "nn." not in body
    assert "jax.random.truncated_normal" in body


@pytest.mark.parametrize(("args", "message"), [
    ((jax.random.PRNGKey(0), (3,)), "at least 2 axes"),
    ((jax.random.PRNGKey(0), (3, 0)), "shape's entries must be >= 1"),
    ((jax.random.PRNGKey(0), (3, 4), jnp.int32), "dtype must be a float dtype"),
    ((0, (3, 4)), "key must be a JAX key"),
    ((jax.random.PRNGKey(0), (2**20, 2**20)), "at most"),
    ((jax.random.PRNGKey(0), (10**400, 2)), "shape's entries must be"),
])
def test_the_answer_key_refuses_bad_arguments_clearly(args, message):
    with pytest.raises((TypeError, ValueError), match=message):
        initcourse.lecun_normal_init(*args)


def test_within_the_ulp_rule_passes_and_says_so():
    report = initcourse.check_initializer(CORRECT["python_float_scale"], timeout=60)
    assert report.passed
    assert "ulp" in report.message and "To match Flax to the last bit" in report.message
    exact = initcourse.check_initializer(CORRECT["textbook"], timeout=60)
    assert "Every weight equals Flax's to the last bit." in exact.message


def test_the_ulp_rule_is_what_reorderings_need_and_no_mistake_fits_in_it():
    """Five orders of the same computation land 0-3 ulps from Flax; the smallest mistake,
    the missing rescale, lands far outside the rule even in bfloat16."""
    worst = 0
    for case in CASES:
        want = np.asarray(initcourse.lecun_normal_init(*case.args()))
        for name in ("python_float_scale", "two_divisions", "rsqrt"):
            got = np.asarray(CORRECT[name](*case.args()))
            worst = max(worst, int(ulp_distance(got, want).max()))
        missed = np.asarray(WRONG["not_rescaled"](*case.args()))
        assert np.median(ulp_distance(missed, want)) > 4 * ULP_LIMIT, case
    assert 0 < worst <= ULP_LIMIT


def test_seeded_cases_are_drawn_recorded_and_reproducible():
    assert draw_cases(3) == draw_cases(3) and draw_cases(3) != draw_cases(4)
    assert {c.key_seed for c in draw_cases(3)}.isdisjoint({c.key_seed for c in CASES})
    report = initcourse.check_initializer(CORRECT["textbook"], seed=3, timeout=60)
    assert report.passed and report.seed == 3
    wrong = initcourse.check_initializer(WRONG["not_rescaled"], seed=3, timeout=60)
    assert wrong.mistakes == ("missing-rescale",)
    summary = json.loads(json.dumps(wrong.to_dict()))
    assert summary == {"exercise": "lecun_normal_init", "passed": False,
                       "mistakes": ["missing-rescale"], "message": wrong.message, "seed": 3}


@pytest.mark.parametrize("value", [None, 3, "lecun_normal_init"])
def test_missing_function_gives_a_friendly_report(value):
    report = initcourse.check_initializer(value)
    assert report.mistakes == ("not-defined",) and "Run the starter cell" in report.message


def test_report_renders_the_same_blocks_as_text_and_html():
    report = initcourse.check_initializer(WRONG["he_truncated"], timeout=60)
    text, page = str(report), report._repr_html_()
    assert "[wrong-scale]" in text and "<code>wrong-scale</code>" in page
    assert "<table>" in page and text.count("wrong values") >= 1
    assert repr(report) == text


def test_a_proxy_that_times_out_is_a_timeout():
    def proxy(key, shape, dtype=jnp.float32):
        raise TimeoutError("the sandboxed process ran past its limit")

    assert initcourse.check_initializer(proxy).mistakes == ("timeout",)


def test_hints_and_folded_solution_of_exercise_2():
    first = initcourse.hint(1, exercise=2)
    assert "Hint 1 of 3" in str(first) and "truncated_normal" in str(first)
    assert len(HINTS) == 3
    third = initcourse.hint(3, exercise=2)
    assert "show_solution(exercise=2)" in str(third)
    solution = initcourse.show_solution(exercise=2)
    assert solution._repr_html_().startswith("<details>")
    namespace: dict = {}
    exec(compile(str(solution), "<solution>", "exec"), namespace)  # noqa: S102 - our source
    assert initcourse.check_initializer(namespace["lecun_normal_init"], timeout=60).passed


def test_a_rounded_constant_is_named_with_its_factor_and_q5_says_so():
    """Notebook 10's question 5: 0.8796 in place of 0.87962566... is named as such, with the
    factor and the constant it amounts to (it was `rng-stream`, "no split or fold_in",
    though the key is used exactly right), and the notebook's answer says what the check does."""
    report = initcourse.check_initializer(WRONG["four_digit_constant"], timeout=60)
    assert report.mistakes == ("rounded-constant",)
    assert "times 1.0000292" in report.message and "were 0.8796" in report.message
    assert sum(row.ok for row in report.rows) == 2  # the bfloat16 cases: under one ulp there
    cells = nbr.committed("10_exercise_initializer.ipynb").cells
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    answer = text.split("5. Your scale is")[1].split("</details>")[0]
    assert "rounded-constant" in answer and "Yes:" not in answer
