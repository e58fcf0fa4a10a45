"""The explorers, driven from Python as a test (or a notebook cell) would drive them."""

from __future__ import annotations

import os
import re

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from initcourse import (  # noqa: E402
    ACTIVATIONS,
    INITIALIZERS,
    DepthExplorer,
    FanInExplorer,
    depth_explorer,
    expected_std,
    fan_in_explorer,
    layer_stats,
    predicted_stats,
    sample_kernel,
)
from initcourse.explorers.depth import DEPTH_BATCH, MAX_DEPTH  # noqa: E402
from initcourse.explorers.fan_in import KernelDraws  # noqa: E402
from initcourse.initializers import resolve  # noqa: E402
from initcourse.propagation.engine import KernelStack  # noqa: E402
from initcourse.propagation.regimes import classify_regime  # noqa: E402


@pytest.fixture(scope="module")
def fan():
    return FanInExplorer()


@pytest.fixture(scope="module")
def deep():
    return DepthExplorer(width=64)


def _theory_in(readout: str) -> float:
    return float(re.search(r"theory (\d+\.\d+) =", readout).group(1))


def _measured_in(readout: str) -> float:
    return float(re.search(r"std measured (\d+\.\d+)", readout).group(1))


# -- fan-in ----------------------------------------------------------------------------------


def test_fan_in_defaults_read_lecun_at_64():
    ex = fan_in_explorer()
    assert ex.values() == {"fan_in": 64, "fan_out": 64, "initializer": "lecun_normal", "seed": 0}
    assert "theory 0.1250 = 1/√64" in ex.readout
    assert abs(_measured_in(ex.readout) - 0.125) < 0.01


def test_fan_in_256_lecun_reads_theory_0_0625(fan):
    fan.set(initializer="lecun_normal", fan_out=64, seed=0)
    fan.fan_in.value = 256
    assert "theory 0.0625 = 1/√256" in fan.readout
    assert "Var(y)" in fan.readout and "(theory 1.000)" in fan.readout


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_fan_in_sweep_matches_expected_std(fan, name):
    fan.set(initializer=name, fan_out=32, seed=1)
    for fan_in in (1, 2, 7, 64, 100, 1024, 4096):
        fan.fan_in.value = fan_in
        theory = expected_std(name, fan_in, 32)
        assert _theory_in(fan.readout) == pytest.approx(round(theory, 4), abs=1e-12)
        kernel = fan.kernel()
        assert kernel.shape == (fan_in, 32)
        assert fan.stats.measured_std == pytest.approx(np.std(kernel, dtype=np.float64),
                                                      rel=1e-4, abs=1e-9)
        var_y = fan_in * np.mean(kernel.astype(np.float64) ** 2)
        assert fan.stats.var_y == pytest.approx(var_y, rel=1e-4)
        if fan_in * 32 >= 4096 and name not in ("zeros", "ones"):
            # enough weights for the sample std to sit near the theory
            assert fan.stats.measured_std == pytest.approx(theory, rel=0.1)


@pytest.mark.parametrize("name", ["lecun_normal", "he_uniform", "glorot_normal", "normal",
                                  "orthogonal", "ones"])
@pytest.mark.parametrize("shape", [(64, 64), (300, 7), (5, 1000)])
def test_kernel_is_the_flax_initializers_draw(name, shape):
    seed = 3
    ours = KernelDraws().kernel(name, *shape, seed)
    flax = sample_kernel(name, *shape, seed=seed)
    scale = max(float(np.abs(flax).max()), 1e-12)
    np.testing.assert_allclose(ours, flax, rtol=0, atol=2e-6 * scale)


def test_var_y_is_the_output_variance_for_unit_input():
    draws = KernelDraws()
    stats = draws.stats("he_normal", 128, 64, 2)
    kernel = draws.kernel("he_normal", 128, 64, 2)
    x = np.random.default_rng(0).standard_normal((20_000, 128))
    assert np.var(x @ kernel) == pytest.approx(stats.var_y, rel=0.03)
    assert stats.var_y_theory == pytest.approx(2.0)


def test_fan_out_and_seed_across_their_range(fan):
    fan.set(initializer="glorot_uniform", fan_in=64)
    readouts = set()
    for fan_out in (1, 3, 64, 1000, 1024):
        fan.fan_out.value = fan_out
        assert _theory_in(fan.readout) == round(expected_std("glorot_uniform", 64, fan_out), 4)
        assert f"√(2/(64+{fan_out}))" in fan.readout
    for seed in (0, 1, 2**32 - 1):
        fan.seed.value = seed
        readouts.add(fan.readout)
        assert fan.stats.seed == seed
    assert len(readouts) == 3  # a new seed draws a new kernel


def test_constant_initializers_read_zero_std(fan):
    fan.set(initializer="ones", fan_in=256, fan_out=64)
    assert fan.readout.startswith("std measured 0.0000 · theory 0.0000")
    assert "Var(y) 256" in fan.readout  # every output sums 256 unit inputs
    fan.set(initializer="zeros")
    assert "Var(y) 0 (theory 0)" in fan.readout


def test_fan_in_slider_steps_through_the_ladder(fan):
    fan.set(initializer="lecun_normal", fan_in=64, fan_out=64)
    # what the arrow keys do in the browser: move the index by one
    fan.fan_in.index += 1
    assert fan.fan_in.value == 80 and "1/√80" in fan.readout
    fan.fan_in.index -= 2
    assert fan.fan_in.value == 56 and "1/√56" in fan.readout
    # a value off the ladder is accepted and shown on the slider
    fan.fan_in.value = 100
    assert fan.fan_in.options[fan.fan_in.index] == 100
    assert fan.fan_in.label == "100"
    assert "1/√100" in fan.readout
    assert fan.fan_in.options[0] == 1 and fan.fan_in.options[-1] == 4096


@pytest.mark.parametrize(
    ("control", "value", "error", "shown"),
    [
        ("fan_in", 5000, ValueError, "5000"),
        ("fan_in", 0, ValueError, "0"),
        ("fan_in", 3.5, ValueError, "3.5"),
        ("fan_in", "64", TypeError, "'64'"),
        ("fan_in", True, TypeError, "True"),
        ("fan_out", 2000, ValueError, "2000"),
        ("seed", -1, ValueError, "-1"),
        ("seed", 1.5, ValueError, "1.5"),
        ("initializer", "xavier", ValueError, "'xavier'"),
        ("initializer", 3, ValueError, "3"),
        ("fan_in", None, TypeError, "None"),
        ("fan_out", None, TypeError, "None"),
        ("seed", None, TypeError, "None"),
        ("initializer", None, ValueError, "None"),
    ],
)
def test_fan_in_bad_values_raise_naming_the_control(fan, control, value, error, shown):
    fan.set(initializer="lecun_normal", fan_in=64, fan_out=64, seed=0)
    before = fan.readout
    with pytest.raises(error, match=re.escape(control)) as info:
        getattr(fan, control).value = value
    assert shown in str(info.value)
    with pytest.raises(error, match=re.escape(control)):
        fan.set(**{control: value})
    assert fan.readout == before
    assert fan.values()["fan_in"] == 64


def test_set_checks_everything_before_changing_anything(fan):
    fan.set(initializer="lecun_normal", fan_in=64, seed=0)
    with pytest.raises(ValueError, match="fan_in"):
        fan.set(seed=5, fan_in=5000)
    assert fan.values()["seed"] == 0
    with pytest.raises(TypeError, match="no control 'depth'"):
        fan.set(depth=3)


def test_updates_reuse_the_figure(fan):
    figure, axes = fan.figure, list(fan.figure.axes)
    lines = [len(ax.lines) for ax in axes]
    image = fan.widget.children[2].value
    fan.set(initializer="he_normal", fan_in=512)
    fan.set(initializer="orthogonal", fan_in=8)
    assert fan.figure is figure and fan.figure.axes == axes
    assert [len(ax.lines) for ax in axes] == lines
    assert matplotlib.pyplot.get_fignums() == []  # nothing registered with pyplot
    new_image = fan.widget.children[2].value
    assert new_image != image and new_image[:2] == b"\xff\xd8"  # a fresh JPEG


def test_display_is_deterministic_and_finds_its_css_classes():
    ex = FanInExplorer(fan_in=64, fan_out=64, initializer="lecun_normal", seed=0)
    data, metadata = ex._repr_mimebundle_()
    text = data["text/plain"]
    # The still picture's text alternative: the figure's data, then the readout.
    assert metadata["image/png"]["alt"].endswith(f"Readout: {ex.readout}")
    assert "std measured" in metadata["image/png"]["alt"]
    assert text.startswith(
        "FanInExplorer(fan_in=64, fan_out=64, initializer='lecun_normal', seed=0): "
        "std measured "
    )
    assert text == FanInExplorer()._repr_mimebundle_()[0]["text/plain"]
    assert not re.search(r"0x[0-9a-f]{6,}", text)
    assert "initcourse-fan-in-explorer" in ex.widget._dom_classes
    readouts = [w for w in ex.widget.children if "initcourse-readout" in w._dom_classes]
    assert len(readouts) == 1 and "std measured" in readouts[0].value


# -- depth -----------------------------------------------------------------------------------


def test_relu_he_depth_50_is_stable():
    ex = depth_explorer()
    assert ex.values() == {"activation": "relu", "initializer": "he_normal", "depth": 50,
                           "width": 256, "seed": 0}
    assert ex.regime == "stable" and ex.readout.startswith("stable")
    ratio = ex.stats.forward_std[-1] / ex.stats.forward_std[0]
    assert f"layer 50 / layer 1 = {ratio:.3g}" in ex.readout
    assert "DepthExplorer(activation='relu'" in ex._repr_mimebundle_()[0]["text/plain"]
    assert "initcourse-depth-explorer" in ex.widget._dom_classes


def test_normal_001_at_width_64_vanishes(deep):
    deep.set(activation="relu", initializer="normal", depth=50, width=64, seed=0)
    assert deep.regime == "vanishing" and deep.readout.startswith("vanishing")


@pytest.mark.parametrize(("activation", "initializer"), [("relu", "ones"), ("linear", "he_normal")])
def test_large_inits_explode(deep, activation, initializer):
    deep.set(activation=activation, initializer=initializer, depth=50, width=64)
    assert deep.regime == "exploding"


def test_sigmoid_holds_activations_but_loses_gradients(deep):
    deep.set(activation="sigmoid", initializer="lecun_normal", depth=30, width=64)
    assert "(stable)" in deep.readout.split("·")[1]
    assert deep.regime == "vanishing"


def test_every_control_across_its_range(deep):
    deep.set(initializer="lecun_normal", width=64, seed=0)
    for activation in ACTIVATIONS:
        for depth in (1, 2, 37, 100):
            deep.set(activation=activation, depth=depth)
            stats = deep.stats
            assert stats.forward_std.shape == stats.backward_std.shape == (depth,)
            assert deep.regime in ("vanishing", "stable", "exploding")
            theory = predicted_stats("lecun_normal", activation, depth, 64)
            np.testing.assert_allclose(deep._forward_theory.get_ydata(), theory[0])
    deep.set(activation="relu", initializer="he_normal", depth=5)
    for width in (16, 1024):
        deep.width.value = width
        assert deep.stats.width == width and deep.regime == "stable"
    for initializer in INITIALIZERS:
        deep.set(initializer=initializer, width=64)
        visible = predicted_stats(initializer, "relu", 5, 64) is not None
        assert deep._forward_theory.get_visible() == visible
    for seed in (0, 7):
        deep.seed.value = seed
        assert deep.stats.seed == seed


@pytest.mark.parametrize(
    ("initializer", "activation", "depth", "width"),
    [("he_normal", "relu", 50, 64), ("lecun_uniform", "tanh", 7, 64),
     ("orthogonal", "gelu", 3, 16)],
)
def test_depth_stats_are_layer_stats(initializer, activation, depth, width):
    forward, backward = KernelStack(MAX_DEPTH, width).propagate(
        resolve(initializer), activation, depth, batch=DEPTH_BATCH, seed=3)
    reference = layer_stats(initializer, activation, depth, width, seed=3, batch=DEPTH_BATCH)
    np.testing.assert_allclose(forward, reference.forward_std, rtol=1e-5)
    np.testing.assert_allclose(backward, reference.backward_std, rtol=1e-5)


def test_moving_depth_compiles_nothing(deep, compiles):
    deep.set(activation="relu", initializer="he_normal", depth=100, width=64, seed=0)
    with compiles() as seen:
        for depth in (1, 13, 50, 99):
            deep.depth.value = depth
        deep.set(activation="tanh", initializer="lecun_normal")
    assert seen.names == []


@pytest.mark.parametrize(
    ("control", "value", "error", "shown"),
    [
        ("depth", 0, ValueError, "0"),
        ("depth", 101, ValueError, "101"),
        ("depth", 2.5, ValueError, "2.5"),
        ("width", 8, ValueError, "8"),
        ("width", 2048, ValueError, "2048"),
        ("width", 100, ValueError, "width must be one of 16, 32, 64, 128, 256, 512, 1024"),
        ("activation", "swish", ValueError, "'swish'"),
        ("seed", "0", TypeError, "'0'"),
        ("depth", None, TypeError, "None"),
        ("width", None, TypeError, "None"),
        ("activation", None, ValueError, "None"),
        ("initializer", None, ValueError, "None"),
    ],
)
def test_depth_bad_values_raise_naming_the_control(deep, control, value, error, shown):
    deep.set(depth=10, width=64)
    before = deep.readout
    with pytest.raises(error, match=re.escape(control)) as info:
        getattr(deep, control).value = value
    assert shown in str(info.value)
    with pytest.raises(error, match=re.escape(control)):
        deep.set(**{control: value})
    assert deep.readout == before


def test_depth_updates_reuse_the_figure(deep):
    figure, lines = deep.figure, list(deep.figure.axes[0].lines)
    deep.set(depth=20, activation="tanh")
    deep.set(depth=3, initializer="zeros")
    assert deep.figure is figure and list(deep.figure.axes[0].lines) == lines


# -- the regime rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "regime"),
    [
        ([1.0], "stable"),
        ([1.0, 0.8, 0.5, 0.2], "stable"),
        ([0.5, 4.9], "stable"),
        ([1.0, 0.5, 0.09], "vanishing"),
        ([1.0, 11.0], "exploding"),
        ([0.0, 0.0], "vanishing"),
        ([1.0, 0.0], "vanishing"),
        ([1.0, np.inf], "exploding"),
        ([1.0, np.nan], "exploding"),
    ],
)
def test_classify_regime(series, regime):
    assert classify_regime(np.array(series)) == regime


def test_classify_regime_threshold_is_checked():
    assert classify_regime([1.0, 0.3], threshold=3.0) == "vanishing"
    with pytest.raises(ValueError, match="threshold"):
        classify_regime([1.0, 2.0], threshold=1.0)


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "message"),
    [
        (FanInExplorer, dict(seed=-1), ValueError, "seed must be >= 0; received -1"),
        (FanInExplorer, dict(seed="3"), TypeError, "seed must be a real number; received '3'"),
        (FanInExplorer, dict(fan_in=0), ValueError, "fan_in must be >= 1"),
        (FanInExplorer, dict(initializer="xavier"), ValueError, "initializer must be one of"),
        (DepthExplorer, dict(depth=0), ValueError, "depth must be >= 1; received 0"),
        (DepthExplorer, dict(depth=101), ValueError, "depth must be <= 100"),
        (DepthExplorer, dict(seed=-3), ValueError, "seed must be >= 0; received -3"),
        (DepthExplorer, dict(width=2048), ValueError, "width must be <= 1024"),
    ],
)
def test_constructors_refuse_what_the_controls_would_clamp(make, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make(canvas="image", **kwargs)


def test_the_demo_page_tells_he_normal_s_depth_story_as_the_explorer_shows_it(deep):
    """The demo's sentence: he_normal keeps a wide ReLU stack stable at every depth the
    slider offers, and a narrow one (width 16, depth 100) can still vanish."""
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "demo.ipynb")
    text = "\n".join(c.source for c in nbformat.read(demo, as_version=4).cells)
    assert "can still vanish" in text and "stable at any depth" not in text
    regimes = []
    for seed in range(4):
        deep.set(initializer="he_normal", activation="relu", depth=100, width=16, seed=seed)
        regimes.append(deep.regime)
    assert "vanishing" in regimes, regimes
    for seed in range(3):
        deep.set(width=256, seed=seed)
        assert deep.regime == "stable"
