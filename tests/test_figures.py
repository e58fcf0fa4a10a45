"""The shared figures: labelled, titled, with legends, and no change to matplotlib's settings;
and the per-layer samples behind the Glorot & Bengio histograms."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from flax import linen as nn

import initcourse
from initcourse import figures

DEPTH, WIDTH, BATCH = 4, 32, 8


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rc_unchanged():
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"global rcParams changed: {changed}"


def _legend_labels(ax):
    legend = ax.get_legend()
    assert legend is not None, f"no legend on axes {ax.get_title()!r}"
    return [t.get_text() for t in legend.get_texts()]


def _assert_labelled(ax):
    assert ax.get_xlabel(), "x axis has no label"
    assert ax.get_ylabel(), "y axis has no label"
    assert ax.get_title(), "axes have no title"


# -- layer_samples ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("initializer", "activation", "stddev"),
    [("he_normal", "relu", None), ("normal", "tanh", 0.3), ("glorot_uniform", "tanh", None)],
)
def test_layer_samples_match_layer_stats(initializer, activation, stddev):
    # layer_stats draws unit-variance kernels and scales them inside one jitted scan;
    # layer_samples calls the Flax initializer per layer: two routes to the same numbers.
    samples = figures.layer_samples(initializer, activation, DEPTH, WIDTH, batch=BATCH, seed=3,
                                    stddev=stddev)
    stats = initcourse.layer_stats(initializer, activation, DEPTH, WIDTH, batch=BATCH, seed=3,
                                   stddev=stddev)
    assert samples.activations.shape == (DEPTH, BATCH * WIDTH)
    assert samples.gradients.shape == (DEPTH, BATCH * WIDTH)
    np.testing.assert_allclose(samples.activations.std(axis=1), stats.forward_std, rtol=1e-4)
    np.testing.assert_allclose(samples.gradients.std(axis=1), stats.backward_std, rtol=1e-4)


def test_layer_samples_accepts_a_flax_initializer():
    standard = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")
    samples = figures.layer_samples(standard, "tanh", DEPTH, WIDTH, batch=BATCH, seed=0)
    stats = initcourse.layer_stats(standard, "tanh", DEPTH, WIDTH, batch=BATCH, seed=0)
    np.testing.assert_allclose(samples.activations.std(axis=1), stats.forward_std, rtol=1e-4)
    # tanh keeps every activation inside (-1, 1).
    assert np.max(np.abs(samples.activations)) < 1.0


def test_layer_samples_are_seeded():
    a = figures.layer_samples("lecun_normal", "linear", 2, 8, batch=4, seed=1)
    b = figures.layer_samples("lecun_normal", "linear", 2, 8, batch=4, seed=1)
    c = figures.layer_samples("lecun_normal", "linear", 2, 8, batch=4, seed=2)
    np.testing.assert_array_equal(a.activations, b.activations)
    assert not np.allclose(a.activations, c.activations)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "softmax"}, "activation"),
        ({"depth": 0}, "depth"),
        ({"width": 2.5}, "width"),
        ({"batch": 1}, "batch"),
        ({"seed": "0"}, "seed"),
        ({"initializer": "kaiming"}, "kaiming"),
        ({"initializer": 3}, "initializer"),
        ({"depth": 100, "width": 1000, "batch": 256}, "depth \\* batch \\* width"),
    ],
)
def test_layer_samples_bad_input_names_the_argument(kwargs, match):
    args = {"initializer": "lecun_normal", "activation": "tanh", "depth": 2, "width": 4,
            "batch": 4, "seed": 0, **kwargs}
    with pytest.raises((TypeError, ValueError), match=match):
        figures.layer_samples(args.pop("initializer"), args.pop("activation"), args.pop("depth"),
                              args.pop("width"), **args)


def test_layer_samples_stddev_only_for_normal():
    with pytest.raises(ValueError, match="stddev"):
        figures.layer_samples(nn.initializers.lecun_normal(), "tanh", 2, 4, batch=4, stddev=0.1)


# -- figures ---------------------------------------------------------------------------------

def test_std_by_layer_draws_both_directions(rc_unchanged):
    forward = {"small": np.geomspace(1, 1e-6, 10), "good": np.ones(10)}
    backward = {"small": np.geomspace(1e-6, 1, 10), "good": np.ones(10)}
    theory = {"good": (np.ones(10), np.ones(10))}
    fig = figures.std_by_layer(forward, backward, theory=theory, title="depth 10")
    axes = fig.get_axes()
    assert len(axes) == 2
    for ax in axes:
        _assert_labelled(ax)
        assert ax.get_yscale() == "log"
    assert _legend_labels(axes[0]) == ["small", "good", "theory"]
    # one solid curve per label in each panel, plus the dashed theory curve.
    assert len(axes[1].get_lines()) == 3
    assert fig.get_suptitle() == "depth 10"


def test_std_by_layer_forward_only_and_zero_values(rc_unchanged):
    fig = figures.std_by_layer({"vanished": np.array([1e-3, 1e-30, 0.0])})
    (ax,) = fig.get_axes()
    _assert_labelled(ax)
    ydata = ax.get_lines()[0].get_ydata()
    # An underflowed std of exactly 0 cannot sit on a log axis: it becomes a gap.
    assert np.isnan(ydata[2]) and ydata[1] == pytest.approx(1e-30)


@pytest.mark.parametrize(
    ("forward", "backward", "match"),
    [
        ({}, None, "forward"),
        ({"a": np.ones((2, 2))}, None, "forward"),
        ({"a": np.ones(3)}, {"b": np.ones(3)}, "backward"),
    ],
)
def test_std_by_layer_bad_input(forward, backward, match):
    with pytest.raises((TypeError, ValueError), match=match):
        figures.std_by_layer(forward, backward)


def test_layer_histograms_one_curve_per_layer(rc_unchanged):
    rng = np.random.default_rng(0)
    panels = {"standard": rng.normal(size=(5, 400)) * np.arange(1, 6)[:, None],
              "normalized": rng.normal(size=(5, 400))}
    fig = figures.layer_histograms(panels, xlabel="activation value", title="tanh",
                                   layers=[1, 3, 5])
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["standard", "normalized"]
    assert axes[-1].get_xlabel() == "activation value"
    assert all(ax.get_ylabel() for ax in axes)
    assert _legend_labels(axes[0]) == ["layer 1", "layer 3", "layer 5"]
    for ax in axes:
        lines = ax.get_lines()
        assert len(lines) == 3
        # each curve is a histogram normalised to the fraction of values in range.
        assert 0.9 < float(np.sum(lines[0].get_ydata())) <= 1.0


@pytest.mark.parametrize(
    ("panels", "kwargs", "match"),
    [
        ({"a": np.ones(10)}, {}, "shape"),
        ({}, {}, "panels"),
        ({"a": np.ones((3, 10))}, {"layers": [4]}, "layers"),
        ({"a": np.ones((3, 10))}, {"limit": -1.0}, "limit"),
    ],
)
def test_layer_histograms_bad_input(panels, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        figures.layer_histograms(panels, xlabel="x", **kwargs)


def test_weight_histograms_bounds_and_reference(rc_unchanged):
    rng = np.random.default_rng(1)
    samples = {"uniform": rng.uniform(-1.7, 1.7, 1000), "normal": rng.normal(size=1000)}
    fig = figures.weight_histograms(samples, xlabel="w * sqrt(fan_in)", title="equal variance",
                                    bounds={"uniform": 3**0.5}, normal_std=1.0)
    (ax,) = fig.get_axes()
    _assert_labelled(ax)
    labels = _legend_labels(ax)
    assert labels[:2] == ["uniform", "normal"] and "density" in labels[2]
    vertical = [ln for ln in ax.get_lines() if np.ptp(ln.get_xdata()) == 0]
    assert sorted(round(float(ln.get_xdata()[0]), 3) for ln in vertical) == [-1.732, 1.732]


def test_figures_module_does_not_touch_rcparams_on_import():
    import importlib

    before = dict(matplotlib.rcParams)
    importlib.reload(figures)
    assert dict(matplotlib.rcParams) == before


def test_show_displays_the_png_alone_and_closes_the_figure(monkeypatch):
    import base64

    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, raw=False, metadata=None: shown.append((obj, raw)))
    fig = figures.std_by_layer({"a": np.ones(3)})
    figures.show(fig)
    ((bundle, raw),) = shown
    assert raw is True and list(bundle) == ["image/png"]
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)


def test_show_rejects_a_non_figure():
    with pytest.raises(TypeError, match="fig"):
        figures.show("not a figure")


def test_alt_text_reads_the_figures_own_data():
    import matplotlib.pyplot as plt

    from initcourse.figures import alt_text

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.5, 0.04, 0.003], label="lecun_normal")
    ax.plot([1, 2, 3], [1.0, 1.2, 0.9], linestyle="--")
    ax.axhline(2.3, label="ln 10")
    ax.set(yscale="log", xlabel="layer l (1 = nearest the input)", ylabel="std of h_l",
           title="forward")
    text = alt_text(fig)
    plt.close(fig)
    assert text.startswith("forward: std of h_l (log scale) against layer l;")
    assert "lecun_normal: from 0.5 at layer l = 1 to 0.003 at layer l = 3" in text
    assert "a dashed line: from 1 at layer l = 1 to 0.9 at layer l = 3 (between 0.9 and 1.2)" in text
    assert "ln 10: a reference line at 2.3" in text


def test_show_stores_the_alt_text_in_the_outputs_metadata(monkeypatch):
    import matplotlib.pyplot as plt
    from IPython import display as ipd

    from initcourse import figures

    shown = []
    monkeypatch.setattr(ipd, "display", lambda *a, **k: shown.append((a, k)))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [3, 4], label="a")
    figures.show(fig, alt="Two points.")
    (args, kwargs), = shown
    alt = kwargs["metadata"]["image/png"]["alt"]
    assert alt == "Two points. value against x; a: from 3 at x = 0 to 4 at x = 1."
    with pytest.raises(TypeError, match="alt must be a sentence"):
        figures.show(plt.figure(), alt=3)


def test_show_tells_lines_apart_without_colour(monkeypatch):
    """Three labelled lines that differ only by colour leave show() differing by line style
    or marker too; lines that already differ, and unlabelled ones, are left as drawn."""
    import matplotlib.pyplot as plt

    from initcourse import figures

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(k))
    fig, (ax, other) = plt.subplots(1, 2)
    lines = [ax.plot([1, 2, 3], [i, i + 1, i + 2], label=f"run {i}")[0] for i in range(3)]
    ax.legend()
    kept = [other.plot([1, 2], [1, 2], "--", label="a")[0], other.plot([1, 2], [2, 1], label="b")[0],
            other.plot([1, 2], [0, 0], label="_ref")[0]]
    figures.show(fig)
    kinds = {(line.get_linestyle(), str(line.get_marker())) for line in lines}
    assert len(kinds) == 3, kinds
    assert [(k.get_linestyle(), str(k.get_marker())) for k in kept] == [
        ("--", "None"), ("-", "None"), ("-", "None")]
    assert shown and "run 0" in shown[0]["metadata"]["image/png"]["alt"]
    legend = {t.get_text(): (h.get_linestyle(), str(h.get_marker()))
              for h, t in zip(ax.get_legend().legend_handles, ax.get_legend().get_texts(), strict=True)}
    assert legend == {line.get_label(): (line.get_linestyle(), str(line.get_marker())) for line in lines}
