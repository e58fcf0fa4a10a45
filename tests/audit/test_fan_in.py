"""Fan-in arithmetic against jax's own variance_scaling and the layers' structure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from initcourse.audit.fan_in import (
    Structure,
    einsum_axes,
    fixing_axes,
    implied_fan_in,
    structural_fan_in,
    variance_scaling_fans,
)


@pytest.mark.parametrize("shape", [(64, 32), (3, 3, 16, 32), (8, 64, 64), (3, 3, 1, 32)])
def test_variance_scaling_fans_match_jax_sampling(shape):
    kernel = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")(
        jax.random.key(0), shape, jnp.float32)
    fan_in, _ = variance_scaling_fans(shape)
    assert float(kernel.std()) == pytest.approx(fan_in ** -0.5, rel=0.15)


def test_einsum_head_axis_is_not_summed():
    structure = Structure("einsum", (8, 64, 64), equation="nta,hab->nthb")
    assert einsum_axes("nta,hab->nthb", (8, 64, 64)) == {
        "contracted": (1,), "shared": (), "out": (0, 2)}
    assert implied_fan_in(structure) == 512
    assert structural_fan_in(structure) == 64
    axes = fixing_axes(structure)
    assert axes == "in_axis=1, out_axis=(0, 2)"
    fixed = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal", in_axis=1,
                                                 out_axis=(0, 2))(jax.random.key(0), (8, 64, 64))
    assert float(fixed.std()) == pytest.approx(1 / 8, rel=0.05)


def test_general_batch_axes_count_into_the_implied_fan_in_only():
    structure = Structure("general", (8, 64, 64), n_batch=1, n_in=1)
    assert (implied_fan_in(structure), structural_fan_in(structure)) == (512, 64)


def test_convolutions():
    assert structural_fan_in(Structure("conv", (3, 3, 16, 32), in_features=16)) == 144
    assert implied_fan_in(Structure("conv", (3, 3, 16, 32))) == 144
    assert structural_fan_in(Structure("conv", (3, 3, 1, 32), in_features=32)) == 9
    transpose = Structure("conv_transpose", (3, 3, 16, 32), in_features=16, dilation=4)
    assert structural_fan_in(transpose) == 36 and implied_fan_in(transpose) == 144
    assert structural_fan_in(Structure("embed", (100, 16))) == 1
