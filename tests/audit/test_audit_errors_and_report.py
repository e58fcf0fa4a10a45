"""What audit refuses (with the argument named and the value shown) and how its report
renders."""

from __future__ import annotations

import flax.linen as nn
import jax
import pytest
from flax import nnx

from initcourse.audit import AuditReport, audit


def test_not_a_flax_module():
    with pytest.raises(TypeError, match=r"model must be a Flax module.*received <function"):
        audit(lambda x: x, jax.numpy.ones((2, 2)))
    with pytest.raises(TypeError, match="a class: pass an instance"):
        audit(nn.Dense, jax.numpy.ones((2, 2)))


def test_inputs_of_the_wrong_shape():
    model = nnx.Linear(16, 4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"inputs: Linear's forward pass failed on inputs "
                                         r"float32\[8, 3\]"):
        audit(model, jax.numpy.ones((8, 3)))


def test_inputs_that_are_not_arrays():
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a JAX or NumPy array; received "
                                        r"\[1, 2\]"):
        audit(nn.Dense(3), [1, 2])
    with pytest.raises(TypeError, match="at least one input"):
        audit(nn.Dense(3))


def test_memory_bound():
    with pytest.raises(MemoryError, match=r"max_memory_mb: .* needs about \d+ MB .* above "
                                          r"max_memory_mb=1"):
        audit(nn.Dense(1024), jax.numpy.ones((1024, 1024)), max_memory_mb=1)


def test_seed_is_checked():
    with pytest.raises(ValueError, match=r"seed must be a whole number.*received 1.5"):
        audit(nn.Dense(3), jax.numpy.ones((2, 2)), seed=1.5)


def test_report_renders_as_text_and_html():
    report = audit(nnx.Einsum("nta,hab->nthb", (8, 64, 64), rngs=nnx.Rngs(0)),
                   jax.random.normal(jax.random.key(0), (2, 8, 64)))
    assert isinstance(report, AuditReport) and not report.passed
    text = str(report)
    assert "fan-in-mismatch" in text and "Fix:" in text and "512" in text
    page = report._repr_html_()
    assert page.count("<tr") == 2 and "<code>fan-in-mismatch</code>" in page
    assert report.to_dict()["findings"][0]["path"] == "kernel"


def test_the_room_is_callable_as_the_function():
    """``initcourse.audit`` is the subpackage once imported: calling it still audits."""
    import initcourse.audit as room

    report = room(nn.Dense(4), jax.numpy.ones((8, 4)))
    assert isinstance(report, AuditReport) and report.layers[0].kind == "Dense"


def test_empty_or_non_finite_inputs_are_refused():
    import jax.numpy as jnp

    model = nn.Dense(4)
    with pytest.raises(ValueError, match=r"inputs\[0\] must not be empty.*shape \(0, 8\)"):
        audit(model, jnp.ones((0, 8)))
    for bad in (jnp.nan, jnp.inf):
        with pytest.raises(ValueError, match=r"inputs\[0\] must hold finite numbers.*32 of 32"):
            audit(model, jnp.full((4, 8), bad))


def test_an_exploding_model_reads_inf_never_nan():
    """60 Dense layers drawn with std 10 overflow float32: the measured columns say inf."""
    import math

    import jax.numpy as jnp

    class Boom(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(60):
                x = nn.Dense(16, kernel_init=nn.initializers.normal(10.0))(x)
            return x

    report = audit(Boom(), jnp.ones((4, 16)))
    values = [v for layer in report.layers for v in (layer.output_std, layer.grad_std,
                                                      layer.output_grad_std) if v is not None]
    assert not any(math.isnan(v) for v in values)
    assert math.isinf(report.layers[-1].output_std) and "exploding" in report.codes
