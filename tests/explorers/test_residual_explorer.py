"""The residual explorer, driven headless: its readout agrees with residual_stats and the
theory, Fixup is its two rules, bad values raise and change nothing, and moving any control
after a warm-up compiles nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initcourse import ResidualExplorer, predicted_residual, residual_stats
from initcourse.explorers.residual import BATCH, WIDTH, branch_settings


@pytest.fixture(scope="module")
def explorer():
    return ResidualExplorer(canvas="image")


def test_the_default_he_stack_explodes_by_three_per_block(explorer):
    explorer.set(initializer="he_normal", activation="relu", depth=20, norm="none", scale="1",
                 branch_end="drawn", seed=0)
    assert explorer.regime == "exploding" and explorer.readout.startswith("exploding · stream std ×")
    want = residual_stats("he_normal", depth=20, width=WIDTH, batch=BATCH, capacity=100)
    np.testing.assert_allclose(explorer.stats.stream_std, want.stream_std, rtol=1e-6)
    growth = explorer.stats.growth ** 2 / predicted_residual("he_normal", depth=20, width=WIDTH)[
        "stream_std"][-1] ** 2
    assert 0.5 < growth < 2  # one narrow draw of 20 blocks against 3**20


@pytest.mark.parametrize(("changes", "regime"), [
    ({"norm": "post-LN"}, "stable"),
    ({"scale": "1/√L"}, "stable"),
    ({"branch_end": "zero"}, "stable"),
    ({"scale": "Fixup"}, "stable"),
    ({"initializer": "lecun_normal", "activation": "tanh"}, "exploding"),
])
def test_each_fix_and_its_regime(explorer, changes, regime):
    explorer.set(initializer="he_normal", activation="relu", depth=60, norm="none", scale="1",
                 branch_end="drawn", seed=0)
    explorer.set(**changes)
    assert explorer.regime == regime, explorer.readout


def test_fixup_is_its_two_rules():
    assert branch_settings("Fixup", "drawn", 16) == (0.25, True)
    assert branch_settings("1/√L", "drawn", 16) == (0.25, False)
    assert branch_settings("1", "zero", 16) == (1.0, True)


def test_pre_ln_grows_linearly_in_the_explorer(explorer):
    explorer.set(initializer="he_normal", activation="relu", depth=40, norm="pre-LN", scale="1",
                 branch_end="drawn", seed=0)
    assert abs(explorer.stats.stream_std[-1] ** 2 / 81 - 1) < 0.25
    assert explorer.state.theory["stream_std"][-1] == pytest.approx(math.sqrt(81), rel=0.02)


def test_bad_values_raise_and_change_nothing(explorer):
    explorer.set(depth=10, norm="none")
    before = explorer.readout
    with pytest.raises(ValueError, match="norm must be one of"):
        explorer.set(norm="group")
    with pytest.raises((ValueError, TypeError), match="depth"):
        explorer.set(depth=101)
    assert explorer.readout == before
    with pytest.raises(ValueError, match="scale must be one of"):
        ResidualExplorer(scale="2")


def test_no_compilation_after_a_warm_up(explorer, compiles):
    moves = ([{"depth": d} for d in (1, 17, 64, 100)]
             + [{"norm": n} for n in ("pre-LN", "post-LN", "none")]
             + [{"scale": s} for s in ("1/√L", "Fixup", "1")]
             + [{"branch_end": "zero"}, {"branch_end": "drawn"}]
             + [{"activation": a} for a in ("tanh", "gelu", "relu")]
             + [{"initializer": "lecun_normal"}, {"initializer": "he_normal"}])
    for move in moves:
        explorer.set(**move)
    with compiles() as c:
        for move in moves:
            explorer.set(**move)
    assert len(c) == 0, c.names
