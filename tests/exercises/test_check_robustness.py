"""The exercise check cannot be confused (issue 16, items 6-12 and 15) and keeps the interface
the grading process builds on (a black-box callable, seeds, JSON-safe reports, an answer key
that is loaded only when a check runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from solutions import load, timeout

import initcourse
from initcourse.exercises.caller import Caller, Outcome
from initcourse.exercises.dense import cases

CORRECT, WRONG = load("correct"), load("wrong")

ROOT = Path(__file__).resolve().parents[2]


def _check(solve, **kwargs):
    kwargs.setdefault("timeout", timeout(solve))
    return initcourse.check(solve, **kwargs)


def test_the_signature_is_checked_before_any_call():
    def solve(seed, x):
        raise AssertionError("never called")

    report = _check(solve)
    assert report.mistakes == ("wrong-signature",)
    assert "solve(seed, x, features)" in report.message and report.rows == ()


def test_a_mutating_solve_is_named_and_spoils_nothing_after_it():
    before = cases.PROBES.x.copy()
    report = _check(WRONG["scales_input_in_place"])
    assert report.mistakes == ("mutates-input",), report.message
    assert "`x`" in report.message
    np.testing.assert_array_equal(cases.PROBES.x, before)
    assert not cases.PROBES.x.flags.writeable
    # The diagnosis of the next solve is as it would be in a fresh session.
    assert _check(WRONG["relu_applied"]).mistakes == ("activation-applied",)


def test_the_caller_gives_each_call_its_own_copy():
    seen = []

    def solve(seed, x, features):
        seen.append(x)
        x[:] = 7.0
        return x

    call = Caller(solve, 5.0, "solve", ("seed", "x", "features"))
    original = np.zeros(3, np.float32)
    outcome = call(0, original, 3, size=3)
    assert outcome.mutated == ("x",)
    assert np.all(original == 0) and seen[0] is not original


def _runaway_threads():
    return {t for t in threading.enumerate() if t.name.startswith("initcourse-") and t.is_alive()}


def test_a_runaway_solve_is_stopped_not_left_running():
    def spins(seed, x, features):
        while True:
            pass

    before = _runaway_threads()  # a `time.sleep(3600)` of an earlier test may still wait
    report = initcourse.check(spins, timeout=0.5)
    assert report.mistakes == ("timeout",)
    assert "the call was stopped" in report.message
    deadline = time.monotonic() + 5
    while _runaway_threads() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _runaway_threads() - before == set()


def _thread_cpu(threads) -> float:
    """CPU seconds the ``threads`` have used (Linux /proc)."""
    total = 0.0
    for thread in threads:
        try:
            fields = open(f"/proc/self/task/{thread.native_id}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _swallows(seed, x, features):
    while True:
        try:
            for _ in range(10**6):
                pass
        except BaseException:  # noqa: BLE001, S110 - the learner's mistake under test
            pass


def _bare_except(seed, x, features):
    while True:
        try:
            sum(range(10**5))
        except:  # noqa: E722 - the learner's mistake under test
            continue


def _finally_continue(seed, x, features):
    while True:
        try:
            for _ in range(10**5):
                pass
        finally:
            continue  # noqa: B012 - the learner's mistake under test


@pytest.mark.parametrize("solve", [_swallows, _bare_except, _finally_continue],
                         ids=lambda f: f.__name__)
def test_a_loop_that_swallows_the_stop_is_stopped_for_good(solve):
    """A solve whose loop catches every exception (or `continue`s out of a `finally`) is
    stopped all the same: the stop is raised again from inside the block that caught it. Its
    thread ends; nothing keeps a core busy after the check returns."""
    before = _runaway_threads()
    report = initcourse.check(solve, timeout=0.5)
    assert report.mistakes == ("timeout",)
    assert "the call was stopped" in report.message, report.message
    deadline = time.monotonic() + 5
    while _runaway_threads() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _runaway_threads() - before == set()


def test_nested_loops_that_swallow_the_stop_are_parked_using_no_cpu():
    """Two levels of `while True: try: ... except BaseException: pass` re-enter the inner
    loop faster than the stop unwinds them: the thread is parked, the report says so and how
    to free it, and it uses no CPU afterwards (also under check_initializer and
    check_block, which call through the same caller)."""
    def nested(*args):
        while True:
            try:
                while True:
                    try:
                        for _ in range(10**5):
                            pass
                    except BaseException:  # noqa: BLE001, S110
                        pass
            except BaseException:  # noqa: BLE001, S110
                pass

    def nested_solve(seed, x, features):
        nested()

    before = _runaway_threads()
    reports = [initcourse.check(nested_solve, timeout=0.5),
               initcourse.check_initializer(lambda key, shape, dtype=jnp.float32: nested(), timeout=0.5),
               initcourse.check_block(lambda seed, d_model, n_head, n_layer: nested(), timeout=0.5)]
    for report in reports:
        assert "timeout" in report.mistakes, report.message
        assert "parked it: it waits, using no CPU" in report.message, report.message
        assert "Restart Kernel" in report.message
    parked = _runaway_threads() - before
    cpu = _thread_cpu(parked)
    time.sleep(1.0)
    assert _thread_cpu(parked) - cpu < 0.05, "a parked thread still uses the CPU"


def test_a_thread_stuck_in_compiled_code_does_not_hang_the_next_checks():
    """A solve sleeping in C cannot be stopped; the checks after it (including the profiled
    call that catches `calls-reference`) still run at normal speed."""
    def sleeps(seed, x, features):
        time.sleep(3600)

    report = initcourse.check(sleeps, timeout=0.5)
    assert report.mistakes == ("timeout",) and "could not stop it" in report.message
    assert "waiting inside compiled code" in report.message
    assert _check(WRONG["calls_answer_key"]).mistakes == ("calls-reference",)
    assert _check(CORRECT["textbook"]).passed


def test_alternating_outputs_report_the_real_difference():
    message = _check(WRONG["alternating_seed"]).message
    assert "differ by up to 0 " not in message and "differ by up to 0)" not in message
    assert "differ by up to" in message


def test_an_oversized_output_is_refused_before_conversion():
    def huge(seed, x, features):
        return np.broadcast_to(np.float32(0.0), (10**8,))  # 400 MB if it were materialised

    tracemalloc.start()
    try:
        report = _check(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.mistakes == ("wrong-shape",)
    assert "(100000000,)" in report.message
    assert peak < 50 * 2**20, peak


def test_outcome_counts_a_nested_list_without_converting_it():
    outcome = Outcome.of([[0.0] * 10] * 10, size=3)
    assert outcome.values is None and outcome.shape == (10, 10)  # its shape, not the count
    assert Outcome.of([[[0.0] * 2] * 3] * 4, size=5).shape == (4, 3, 2)
    assert Outcome.of([0.0] * 7, size=5).shape == (7,)


def test_a_huge_nested_list_is_reported_with_its_shape():
    rows = [[0.0] * 1000] * 10_000  # 10 million numbers, one inner list: cheap to return
    report = initcourse.check(lambda seed, x, features: rows)
    assert report.mistakes == ("wrong-shape",)
    assert "(10000, 1000)" in report.message and "(4,)" not in report.message


@pytest.mark.parametrize(("args", "message"), [
    ((0, jnp.ones(3), 1e20), "features must be"),
    ((0, jnp.ones(3), 10**12), "features must be"),
    ((0, jnp.ones(3), 10**400), "features must be"),
    ((0, jnp.ones(100_000), 60_000), r"len\(x\) \* features must be"),
    ((10**400, jnp.ones(3), 2), "seed must be"),
    ((0, np.array([1e300, 1.0]), 2), "x must fit in float32"),
])
def test_solve_refuses_what_it_cannot_compute_clearly(args, message):
    for key in (initcourse.solve, initcourse.solve_nnx):
        with pytest.raises(ValueError, match=message) as info:
            key(*args)
        assert "received" in str(info.value)


def test_solve_accepts_bfloat16_and_never_wraps_int64():
    x16 = jnp.array([0.5, -1.0, 2.0], jnp.bfloat16)
    y = initcourse.solve(0, x16, 4)
    np.testing.assert_array_equal(y, initcourse.solve(0, x16.astype(jnp.float32), 4))
    big = np.array([2**40, 1, 2, 3, 4], np.int64)
    wrapped = np.array([0, 1, 2, 3, 4], np.int64)
    assert not np.allclose(initcourse.solve(0, big, 2), initcourse.solve(0, wrapped, 2))
    np.testing.assert_array_equal(initcourse.solve(0, big, 2),
                                  initcourse.solve(0, big.astype(np.float32), 2))


@pytest.mark.parametrize("value", [1e300, 10**400, float("inf"), 0, -1, "5", True])
def test_check_timeout_has_a_range(value):
    with pytest.raises((TypeError, ValueError), match="timeout"):
        initcourse.check(CORRECT["textbook"], timeout=value)


def test_check_timeout_takes_a_0d_array():
    assert initcourse.check(CORRECT["textbook"], timeout=np.array(60.0)).passed


def test_a_black_box_proxy_is_checked_like_the_function():
    class Proxy:
        """Forwards each call, as the grading process's sandbox proxy does."""

        def __init__(self, fn):
            self.fn, self.calls = fn, 0

        def __call__(self, *args):
            self.calls += 1
            return np.asarray(self.fn(*args))

    good, bad = Proxy(CORRECT["textbook"]), Proxy(WRONG["glorot_normal"])
    assert _check(good).passed and good.calls >= len(cases.CASES)
    assert _check(bad).mistakes == ("kernel:glorot",)


def test_a_proxy_timeout_is_a_timeout():
    def proxy(*args):
        raise TimeoutError("sandboxed call ran past 5 s")

    assert initcourse.check(proxy).mistakes == ("timeout",)


def test_a_seed_draws_new_cases_and_the_report_records_it():
    drawn, probes = cases.draw_cases(11)
    assert cases.draw_cases(11)[0] == drawn and cases.draw_cases(12)[0] != drawn
    assert drawn != cases.CASES and len(drawn) == len(cases.CASES)
    assert probes.x.shape == (cases.PROBE_FAN_IN,) and not probes.x.flags.writeable
    report = _check(CORRECT["textbook"], seed=11)
    assert report.passed and report.seed == 11 and "seed 11" in str(report)
    assert {row.seed for row in report.rows} == {c.seed for c in drawn}
    for name in ("glorot_normal", "caches_params_by_features", "caches_params_by_seed",
                 "float_seed", "split_key"):
        assert _check(WRONG[name], seed=11).mistakes == WRONG[name].expected, name


def test_report_to_dict_is_json_safe():
    report = _check(WRONG["he_normal"])
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary == {"exercise": "solve", "passed": False, "mistakes": ["kernel:he"],
                       "message": report.message, "seed": None}


_STUB = """
import sys, types
stub = types.ModuleType("initcourse.solver")
def _unavailable(*args, **kwargs):
    raise RuntimeError("not available while grading")
for name in ("LecunDense", "solve", "solve_nnx", "lecun_normal_init"):
    setattr(stub, name, _unavailable)
stub.__file__ = "/nonexistent/solver.py"
sys.modules["initcourse.solver"] = stub
"""


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_package_and_the_checks_never_loads_the_answer_key():
    out = _run("""
        import sys
        import initcourse, initcourse.exercises.dense.grader, initcourse.exercises.initializer.grader
        initcourse.hint(); initcourse.hint(exercise=2)
        print("initcourse.solver" in sys.modules)
    """)
    assert out.strip() == "False"


def test_everything_a_notebook_uses_works_with_a_stubbed_answer_key():
    out = _run(_STUB + """
import initcourse, initcourse.exercises.dense.grader, initcourse.exercises.initializer.grader
print(initcourse.hint(1).level, initcourse.hint(1, exercise=2).level)
try:
    initcourse.solve(0, [1.0], 2)
except RuntimeError as exc:
    print(exc)
""")
    assert out.splitlines() == ["1 1", "not available while grading"]
