"""The exercise check against a corpus of learners' solutions (tests/solutions/).

Every wrong solution must be reported with exactly its mistake codes, and every correct
variant must pass with none: no false alarms.
"""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest
from solutions import load, timeout

import initcourse
from initcourse.exercises.dense import grader
from initcourse.exercises.dense.cases import CASES, PROBE_FAN_IN, PROBE_FEATURES
from initcourse.exercises.dense.feedback import CODES, HINTS, MISTAKES
from initcourse.exercises.dense.probes import classify_kernel

CORRECT = load("correct")
WRONG = load("wrong")


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_variant_passes_with_no_mistakes(name):
    report = initcourse.check(CORRECT[name], timeout=timeout(CORRECT[name]))
    assert report.mistakes == (), report.message
    assert report.passed
    assert all(row.ok for row in report.rows) and len(report.rows) == len(CASES)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_solution_is_reported_with_its_code(name):
    solve = WRONG[name]
    report = initcourse.check(solve, timeout=timeout(solve))
    assert not report.passed
    assert report.mistakes == solve.expected, report.message
    for code in solve.expected:
        assert f"[{code}]" in report.message
        assert MISTAKES[code].fix in report.message
    assert "Traceback" not in str(report)


def test_corpus_covers_every_code():
    expected = {code for solve in WRONG.values() for code in solve.expected}
    assert len(WRONG) >= 15
    assert len(CORRECT) >= 4
    # `not-defined` is about the name, not a function: tested below.
    assert expected == set(CODES) - {"not-defined"}


@pytest.mark.parametrize("value", [None, 42, "solve"])
def test_missing_or_non_callable_solve_gives_a_friendly_report(value):
    report = initcourse.check(value)
    assert not report.passed
    assert report.mistakes == ("not-defined",)
    assert "Run the starter cell above" in report.message
    assert "not-defined" in report._repr_html_()


def test_untouched_starter_says_not_solved_yet_without_a_traceback():
    report = initcourse.check(WRONG["starter"])
    text, page = str(report), report._repr_html_()
    assert "Not solved yet" in text and "Not solved yet" in page
    assert "initcourse.hint()" in text
    assert "Traceback" not in text + page and "NotImplementedError(" in text


def test_an_exception_names_the_call_that_raised_it_and_that_call_reproduces_it():
    solve = WRONG["raises_on_one_feature"]
    message = initcourse.check(solve).message
    call = re.search(r"`(solve\(.*?\))` raised ValueError: features must be at least 2",
                     message)
    assert call, message
    with pytest.raises(ValueError, match="at least 2"):
        eval(call.group(1), {"solve": solve, "jnp": jnp})  # noqa: S307 - our own message


@pytest.mark.parametrize(("name", "words"), [
    ("truncated_normal_not_rescaled", "`truncated_normal(stddev=1/sqrt(fan_in))`"),
    ("sorted_output", "as after a sort"),
    ("missing_return", "solve returned None, not an array: is its `return` missing?"),
])
def test_the_detail_says_what_was_seen(name, words):
    assert words in initcourse.check(WRONG[name]).message


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        initcourse.check(CORRECT["textbook"], timeout=0)


def test_the_learners_prints_stay_out_of_the_report(capsys):
    def chatty(seed, x, features):
        print("debugging", seed)
        return CORRECT["textbook"](seed, x, features)

    assert initcourse.check(chatty).passed
    captured = capsys.readouterr()
    assert "debugging" not in captured.out + captured.err


def test_report_shows_cases_mistake_and_fix_in_text_and_html():
    report = initcourse.check(WRONG["glorot_normal"])
    text, page = str(report), report._repr_html_()
    assert f"0 of {len(CASES)} hidden cases match the reference" in text
    assert text.count("wrong values") == len(CASES)
    assert "<table>" in page and "<code>kernel:glorot</code>" in page
    assert "<code>kernel_init=nn.initializers.lecun_normal()</code>" in page
    # Glorot's std on the 24x256 probe is sqrt(2 / 280) = 0.0845.
    assert re.search(r"std 0\.08[0-9]{2} \(lecun_normal gives 0\.2041\)", text)
    # The same function gives the same report: nothing in it varies run to run.
    assert initcourse.check(WRONG["glorot_normal"])._repr_html_() == page
    assert repr(report) == text


def test_hints_get_stronger_one_call_at_a_time():
    first = initcourse.hint(1)
    assert first.level == 1 and "Hint 1 of 3" in str(first)
    second, third, again = initcourse.hint(), initcourse.hint(), initcourse.hint()
    assert (second.level, third.level, again.level) == (2, 3, 3)
    assert len(HINTS) >= 3
    assert "show_solution()" in str(third) and "show_solution()" not in str(second)
    assert "<details>" in third._repr_html_() and "class MyDense" in third._repr_html_()
    for bad in (0, 4, 1.5):
        with pytest.raises(ValueError, match="level"):
            initcourse.hint(bad)


def test_show_solution_is_runnable_and_passes_the_check():
    solution = initcourse.show_solution()
    source = str(solution)
    assert "class LecunDense" in source and "def solve" in source
    assert "lecun_normal()" in source
    namespace: dict = {}
    exec(compile(source, "<solution>", "exec"), namespace)  # noqa: S102 - our own source
    report = initcourse.check(namespace["solve"])
    assert report.passed, report.message
    page = solution._repr_html_()
    assert page.startswith("<details>") and "LecunDense" in page


# The kernel classifier on kernels drawn by the real Flax initializers, over many seeds.
_KERNELS = {
    "lecun_normal": None,
    "glorot_normal": "kernel:glorot",
    "glorot_uniform": "kernel:glorot",
    "he_normal": "kernel:he",
    "he_uniform": "kernel:he",
    "lecun_uniform": "kernel:uniform",
    "normal": "kernel:normal-0.01",
    "orthogonal": "kernel:unknown-scale",
    "zeros": "kernel:constant",
    "ones": "kernel:constant",
}


@pytest.mark.parametrize("name", sorted(_KERNELS))
def test_classify_kernel_names_the_initializer(name):
    for seed in range(20):
        kernel = initcourse.sample_kernel(name, PROBE_FAN_IN, PROBE_FEATURES, seed=seed)
        finding = classify_kernel(np.asarray(kernel, np.float64))
        assert (finding and finding.code) == _KERNELS[name], (seed, finding)


def test_grader_module_exports_the_public_api():
    assert initcourse.check is grader.check
    assert initcourse.CheckReport is grader.CheckReport
