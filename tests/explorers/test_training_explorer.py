"""The training explorer, headless: it trains what train_runs trains, Train runs in a
thread that Stop stops, controls refuse bad values, nothing recompiles for a new
initializer, seed or learning rate, and a dropped explorer is freed."""

from __future__ import annotations

import gc
import time
import weakref

import numpy as np
import pytest

import initcourse
from initcourse.explorers.training import TrainingExplorer

SMALL = dict(depth=3, width=16)


def explorer(**kwargs) -> TrainingExplorer:
    return initcourse.training_explorer(**{**SMALL, "steps": 100, "canvas": "image", **kwargs})


def test_it_trains_what_train_runs_trains():
    ex = explorer(initializers=("he_normal", "normal(0.2)"), learning_rate=0.03, seed=4)
    assert "press Train" in ex.readout
    found = ex.train()
    direct = initcourse.train_runs([{"initializer": "he_normal"},
                                    {"initializer": "normal", "stddev": 0.2}],
                                   **SMALL, steps=100, learning_rate=0.03, seed=4)
    for a, b in zip(found, direct, strict=True):
        np.testing.assert_array_equal(a.loss, b.loss)
    assert ex.readout.startswith("finished · he_normal: loss ")
    assert f"test accuracy {found[0].test_accuracy:.3f}" in ex.readout
    assert f"loss {found[0].initial_loss:.3f} -> {found[0].final_loss:.3f}" in ex.readout
    assert ex.progress.value == 100 == ex.progress.max
    assert not ex.train_button.disabled and ex.stop_button.disabled
    # The curves are drawn: the loss line holds every step.
    assert ex._loss_lines[0].get_xdata().size == 100  # noqa: SLF001 - the drawn artist itself


def test_a_diverging_run_is_named_in_the_readout():
    ex = explorer(initializers=("he_normal",), activation="linear", learning_rate=10.0)
    (history,) = ex.train()
    assert history.diverged_at is not None
    assert f"diverged at step {history.diverged_at}" in ex.readout


def test_train_button_runs_in_a_thread_that_stop_stops():
    ex = explorer(steps=2000, initializers=("he_normal", "glorot_normal", "lsuv"))
    ex.train()  # warm-up: compilations out of the way
    ex.set(seed=1)
    start = time.perf_counter()
    ex.train_button.click()
    returned = time.perf_counter() - start
    assert ex.running, "Train returns at once and trains in the background"
    assert ex.train_button.disabled and not ex.stop_button.disabled
    assert all(getattr(ex, name).disabled for name in ex.controls)
    with pytest.raises(RuntimeError, match="training is running"):
        ex.set(depth=4)
    deadline = time.monotonic() + 120
    while ex.progress.value == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # this thread stays free while the training thread works
    assert ex.progress.value > 0, "the progress bar moves while training runs"
    ex.stop_button.click()
    assert ex.wait(timeout=120), "Stop ends the training thread"
    done = ex.histories[0].steps_run
    assert 0 < done < 2000
    assert ex.status == f"stopped at step {done}" and ex.readout.startswith(f"stopped at step {done}")
    assert ex.progress.value == done
    assert not ex.train_button.disabled and not ex.depth.disabled
    assert returned < 5.0, f"the click returned after {returned:.1f} s"


@pytest.mark.parametrize("values, error, words", [
    ({"initializer_1": "none"}, ValueError, ["initializer 1", "'none'"]),
    ({"initializer_2": "he"}, ValueError, ["initializer 2", "'he'"]),
    ({"depth": 0}, ValueError, ["depth", "0"]),
    ({"depth": 51}, ValueError, ["depth", "<= 50"]),
    ({"width": 48}, ValueError, ["width", "16, 32, 64, 128, 256", "48"]),
    ({"learning_rate": 0}, ValueError, ["learning_rate", "0"]),
    ({"learning_rate": 100.0}, ValueError, ["learning_rate", "100.0"]),
    ({"learning_rate": "0.1"}, TypeError, ["learning_rate", "'0.1'"]),
    ({"steps": 0}, ValueError, ["steps", "0"]),
    ({"seed": -1}, ValueError, ["seed", "-1"]),
    ({"seed": 2**32}, ValueError, ["seed", "<= 4294967295", "4294967296"]),
    ({"optimizer": "rmsprop"}, ValueError, ["optimizer", "'rmsprop'"]),
    ({"batch": 64}, TypeError, ["no control 'batch'"]),
])
def test_controls_refuse_bad_values(values, error, words):
    ex = explorer()
    before = ex.values()
    with pytest.raises(error) as info:
        ex.set(**values)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"
    assert ex.values() == before


@pytest.mark.parametrize("kwargs, error, word", [
    ({"initializers": "he_normal"}, TypeError, "initializers"),
    ({"initializers": ()}, TypeError, "one to three"),
    ({"initializers": ("he_normal",) * 4}, TypeError, "one to three"),
    ({"initializers": ("he",)}, ValueError, "'he'"),
    ({"width": 100}, ValueError, "width"),
    ({"canvas": "svg"}, ValueError, "canvas"),
])
def test_constructor_refuses_bad_values(kwargs, error, word):
    with pytest.raises(error, match=word):
        explorer(**kwargs)


def test_the_seed_range_is_the_course_s():
    ex = explorer(seed=2**32 - 1)
    assert ex.values()["seed"] == 2**32 - 1 and ex.seed.max == 2**32 - 1


def test_an_off_ladder_learning_rate_is_kept():
    ex = explorer()
    ex.set(learning_rate=0.02)
    assert ex.learning_rate.value == 0.02
    assert ex.values()["learning_rate"] == 0.02


def test_no_recompilation_for_a_new_initializer_seed_or_learning_rate(compiles):
    ex = explorer(initializers=("he_normal", "glorot_normal"), steps=20)
    ex.train()
    ex.set(initializer_1="lecun_normal", initializer_2="he_normal")
    ex.train()  # these draw with the same truncated normal: warm
    with compiles() as seen:
        for values in ({"initializer_1": "glorot_normal"}, {"seed": 7}, {"learning_rate": 0.3},
                       {"initializer_2": "he_normal", "seed": 2, "learning_rate": 1e-3},
                       {"steps": 40}):
            ex.set(**values)
            ex.train()
    assert seen.names == [], f"recompiled: {seen.names}"


def test_a_dropped_explorer_is_freed_and_close_stops_training():
    ex = explorer(steps=2000)
    ref = weakref.ref(ex)
    button = ex.train_button
    del ex
    gc.collect()
    assert ref() is None, "nothing holds a dropped explorer"
    assert button.comm is None, "its widgets are closed"
    ex = explorer(steps=2000)
    ex.train_button.click()
    thread = ex._thread  # noqa: SLF001 - the thread the click started
    ex.close()
    assert not thread.is_alive(), "closing the explorer stops its training"
    assert ex.closed and "closed" in repr(ex)
    with pytest.raises(RuntimeError, match="closed"):
        ex.train()
