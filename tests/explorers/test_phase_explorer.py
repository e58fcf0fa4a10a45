"""The phase explorer, driven headless: readouts agree with the theory, the measured stack
agrees with the readout, bad values raise and change nothing, moving any slider compiles
nothing, and a dropped explorer is freed."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from initcourse.explorers.phase import C0, PhaseExplorer, phase_explorer, phase_state
from initcourse.meanfield import edge
from initcourse.meanfield import maps as mf
from initcourse.meanfield.correlation import PairStack


@pytest.fixture(scope="module")
def explorer():
    return PhaseExplorer(canvas="image")


def test_the_default_is_lecun_with_a_small_bias_ordered(explorer):
    explorer.set(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0)
    assert explorer.readout.startswith("ordered · chi1 0.759 · xi_c 3.6 layers")
    assert explorer.state.scales.chi1 == pytest.approx(mf.chi1("tanh", 1.0, 0.05))


def test_each_phase_is_named_with_its_numbers(explorer):
    critical = edge.edge_of_chaos("tanh", 0.05)
    explorer.set(activation="tanh", sigma_w2=critical, sigma_b2=0.05)
    assert explorer.readout.startswith("critical · chi1 1.000 · xi_c ∞ layers")
    explorer.set(sigma_w2=2.5)
    scales = mf.depth_scales("tanh", 2.5, 0.05)
    assert explorer.readout.startswith(f"chaotic · chi1 {scales.chi1:.3f} · xi_c "
                                       f"{scales.xi_c:.1f} layers")
    explorer.set(activation="relu", sigma_w2=2.5, sigma_b2=0.1)
    assert explorer.readout.startswith("exploding · the length q grows without bound")
    assert explorer.state.theory is None and explorer.state.measured.shape == (30,)
    explorer.set(activation="relu", sigma_w2=2.0, sigma_b2=0.0)
    assert explorer.readout.startswith("critical · chi1 1.000 · xi_c ∞ layers")


@pytest.mark.parametrize("sigma_w2", [1.0, 1.76, 2.5])
def test_the_measured_stack_follows_the_theory(explorer, sigma_w2):
    explorer.set(activation="tanh", sigma_w2=sigma_w2, sigma_b2=0.05, depth=30, seed=0)
    state = explorer.state
    assert np.max(np.abs(state.measured - state.theory)) < 0.06
    # The theory's curve is the correlation map iterated; compare it with the exact maps.
    exact = mf.correlation_by_layer("tanh", sigma_w2, 0.05, 30, c0=C0,
                                    q0=(state.scales.q_star - 0.05) / sigma_w2)
    assert np.max(np.abs(state.theory - exact.c)) < 0.01


def test_depth_changes_only_the_length_of_the_curves(explorer):
    explorer.set(activation="tanh", sigma_w2=1.3, sigma_b2=0.05, depth=40)
    long = explorer.state
    explorer.set(depth=12)
    np.testing.assert_allclose(explorer.state.measured, long.measured[:12], rtol=1e-6)
    np.testing.assert_allclose(explorer.state.theory, long.theory[:12])


@pytest.mark.parametrize("values,error,match", [
    ({"sigma_w2": 7.0}, ValueError, "sigma_w2 must be between 0.5 and 5"),
    ({"sigma_w2": float("nan")}, ValueError, "sigma_w2"),
    ({"sigma_b2": -0.01}, ValueError, "sigma_b2 must be between 0 and 0.5"),
    ({"sigma_w2": "2"}, TypeError, "sigma_w2 must be a real number"),
    ({"sigma_b2": None}, TypeError, "sigma_b2"),
    ({"sigma_b2": 0.1, "depth": 101}, ValueError, "depth must be <= 100"),
    ({"depth": 2.5}, ValueError, "depth must be a whole number"),
    ({"activation": "elu"}, ValueError, "activation must be one of"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"sigma": 1.0}, TypeError, "no control 'sigma'"),
])
def test_bad_values_raise_and_change_nothing(explorer, values, error, match):
    explorer.set(activation="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=20, seed=0)
    before, readout = explorer.values(), explorer.readout
    with pytest.raises(error, match=match):
        explorer.set(**{"depth": 25, **values})
    assert explorer.values() == before and explorer.readout == readout


def test_constructor_checks_before_building():
    with pytest.raises(ValueError, match="sigma_b2 must be between 0 and 0.5; received 0.9"):
        PhaseExplorer(sigma_b2=0.9, canvas="image")
    with pytest.raises(ValueError, match="depth"):
        phase_explorer(depth=0, canvas="image")


def test_moving_the_sliders_compiles_nothing(explorer, compiles):
    explorer.set(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0)
    with compiles() as seen:
        for step in [{"sigma_w2": 2.2}, {"sigma_b2": 0.2}, {"depth": 77}, {"depth": 3},
                     {"activation": "relu", "sigma_w2": 1.9}, {"activation": "sigmoid"},
                     {"sigma_w2": 4.9, "sigma_b2": 0.0}, {"activation": "tanh", "depth": 100}]:
            explorer.set(**step)
    assert seen.names == []


def test_phase_state_is_the_pure_computation():
    stack = PairStack(64, seed=1, pairs=4, max_depth=10)
    state = phase_state("tanh", 3.0, 0.05, 10, stack=stack)
    assert state.phase == "chaotic"
    assert state.scales.c_star == pytest.approx(mf.depth_scales("tanh", 3.0, 0.05).c_star)
    assert state.theory.shape == state.measured.shape == (10,)
    assert state.c_map[-1] == pytest.approx(1.0)


def test_repr_and_still_picture(explorer):
    explorer.set(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0)
    bundle, metadata = explorer._repr_mimebundle_()
    assert "phases of tanh" in metadata["image/png"]["alt"]
    assert bundle["text/plain"].startswith(
        "PhaseExplorer(activation='tanh', sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0): ordered")
    assert bundle["image/png"]


def test_a_dropped_explorer_is_freed():
    refs = []
    for seed in range(4):
        refs.append(weakref.ref(PhaseExplorer(seed=seed, depth=5, canvas="image")))
    gc.collect()
    assert [r() for r in refs] == [None] * 4


def test_close_releases_the_stack():
    ex = PhaseExplorer(depth=5, canvas="image")
    stack = weakref.ref(ex.stack)
    ex.close()
    gc.collect()
    assert stack() is None and ex.closed
    assert "ordered" in repr(ex)
    with pytest.raises(RuntimeError, match="closed"):
        ex.set(sigma_w2=2.0)
