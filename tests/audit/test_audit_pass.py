"""The audit's one pass: its statistics against a hand-written forward and backward pass,
one trace and few reductions in the compiled program, the Linen init and its fallback."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from initcourse.audit import audit, record
from initcourse.audit.record import draw_response, response


class Stack(nn.Module):
    depth: int = 3

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(32, bias_init=nn.initializers.constant(0.1))(x))
        return x


def test_statistics_match_a_hand_written_pass():
    """Every column against NumPy on Flax's own init and jax.grad of sum(y * r)."""
    model, x, seed = Stack(), jax.random.normal(jax.random.key(1), (16, 32)), 4
    params = model.init(jax.random.key(seed), x)["params"]
    (r,) = draw_response([(16, 32)], seed)
    names = [f"Dense_{i}" for i in range(3)]

    def forward(params, taps):
        h, ins, outs = x, [], []
        for name, t in zip(names, taps, strict=True):
            ins.append(h)
            y = h @ params[name]["kernel"] + params[name]["bias"] + t
            outs.append(y)
            h = jax.nn.relu(y)
        return jnp.sum(h * r), (ins, outs)

    taps = [jnp.zeros((16, 32))] * 3
    (_, (ins, outs)), (grads, tap_grads) = jax.value_and_grad(
        forward, argnums=(0, 1), has_aux=True)(params, taps)
    report = audit(model, x, seed=seed)
    for layer, name, h, y, g in zip(report.layers, names, ins, outs, tap_grads, strict=True):
        kernel, bias = np.float64(params[name]["kernel"]), np.float64(params[name]["bias"])
        assert layer.input_second_moment == pytest.approx(np.mean(np.float64(h) ** 2), rel=1e-5)
        assert layer.output_std == pytest.approx(np.std(np.float64(y)), rel=1e-5)
        assert layer.kernel_std == pytest.approx(np.std(kernel), rel=1e-6)
        assert layer.grad_std == pytest.approx(np.std(np.float64(grads[name]["kernel"])),
                                               rel=1e-4)
        assert layer.output_grad_std == pytest.approx(np.sqrt(np.mean(np.float64(g) ** 2)),
                                                      rel=1e-4)
        linear = np.mean((np.float64(y) - bias) ** 2)
        assert layer.fan_in_measured == pytest.approx(
            linear / (np.mean(kernel ** 2) * np.mean(np.float64(h) ** 2)), rel=1e-4)
    dead = np.mean(np.all(np.float64(ins[1]) == 0, axis=0))
    assert report.layers[1].dead_fraction == pytest.approx(dead)
    assert report.layers[1].input_min == 0.0 and report.layers[0].dead_fraction is None


def test_the_response_is_the_seeded_host_draw_or_drawn_inside():
    y = jnp.arange(6.0).reshape(2, 3)
    noise = draw_response([(2, 3)], 7)
    assert noise[0].dtype == np.float32
    assert np.array_equal(noise[0], draw_response([(2, 3)], 7)[0])
    assert not np.array_equal(noise[0], draw_response([(2, 3)], 8)[0])
    assert float(response(y, noise, jax.random.key(0))) == pytest.approx(
        float(np.sum(np.arange(6.0).reshape(2, 3) * noise[0])), rel=1e-6)
    # shapes that are not the output's: r is drawn in the pass, still a unit normal
    big = jnp.ones((4096,))
    drawn = jax.grad(lambda v: response(v, noise, jax.random.key(0)))(big)
    assert float(jnp.std(drawn)) == pytest.approx(1, abs=0.05)


def _traces_and_program(monkeypatch, model, x):
    traces, texts = [], []
    init = record.Recorder.__init__
    compile_ = jax.stages.Lowered.compile

    def counted(self, *args, **kwargs):
        traces.append(1)
        init(self, *args, **kwargs)

    def kept(self, *args, **kwargs):
        texts.append(self.as_text())
        return compile_(self, *args, **kwargs)

    monkeypatch.setattr(record.Recorder, "__init__", counted)
    monkeypatch.setattr(jax.stages.Lowered, "compile", kept)
    report = audit(model, x)
    return report, len(traces), texts[-1]


def test_a_deep_stack_is_traced_once_with_a_reduction_per_layer(monkeypatch):
    """100 layers need a probe vector of 128 (the init counts them); the statistics are
    taken on the host, so the program holds the taps' reductions and little else."""
    report, traces, program = _traces_and_program(monkeypatch, Stack(depth=100),
                                                  jnp.ones((8, 32)))
    assert traces == 1 and len(report.layers) == 100
    assert all(r.output_grad_std is not None for r in report.layers)
    assert program.count("stablehlo.reduce") <= 2 * len(report.layers)


def test_a_layer_called_more_often_than_the_graph_holds_is_retraced(monkeypatch):
    """NNX: one Linear applied 70 times is one module in the graph; the probe vector
    grows once the first trace has counted the calls."""

    class Loop(nnx.Module):
        def __init__(self, rngs):
            self.layer = nnx.Linear(16, 16, rngs=rngs)

        def __call__(self, x):
            for _ in range(70):
                x = jnp.tanh(self.layer(x))
            return x

    report, traces, _ = _traces_and_program(monkeypatch, Loop(nnx.Rngs(0)),
                                            jnp.ones((8, 16)))
    assert traces == 2 and len(report.layers) == 70
    assert all(r.output_grad_std is not None and r.output_grad_std > 0 for r in report.layers)


def test_an_init_that_reads_the_inputs_values_runs_on_them():
    """lazy_init sees shapes only; a kernel scaled by the data's std needs the values."""

    class DataScaled(nn.Module):
        @nn.compact
        def __call__(self, x):
            scale = jnp.std(x)
            kernel = self.param("kernel", lambda k, s: scale * jax.random.normal(k, s),
                                (x.shape[-1], 8))
            return x @ kernel

    x = 5.0 * jax.random.normal(jax.random.key(2), (16, 32))
    with pytest.raises(Exception):  # noqa: B017 (what lazy_init raises is Flax's business)
        DataScaled().lazy_init(jax.random.key(0), jax.ShapeDtypeStruct(x.shape, x.dtype))
    kernel = DataScaled().init(jax.random.key(0), x)["params"]["kernel"]
    report = audit(DataScaled(), x)
    assert report.layers[0].kernel_std == pytest.approx(float(jnp.std(kernel)), rel=1e-6)
    assert report.layers[0].kernel_std == pytest.approx(5.0, rel=0.15)


def test_the_linen_init_is_model_init_exactly():
    model, x = Stack(), jax.random.normal(jax.random.key(1), (16, 32))
    params = model.init(jax.random.key(3), x)["params"]
    report = audit(model, x, seed=3)
    for layer in report.layers:
        kernel = np.float64(params[layer.path]["kernel"])
        assert layer.kernel_second_moment == np.mean(kernel ** 2)
