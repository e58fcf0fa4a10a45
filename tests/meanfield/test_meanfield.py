"""Mean-field theory (initcourse.meanfield.maps) against independent references.

- Gaussian expectations against ``scipy.integrate`` and closed forms (ReLU's arc-cosine
  kernel, Cho & Saul 2009).
- The fixed point, chi1, the edge of chaos and the depth scales against a from-scratch
  computation with ``scipy.integrate.quad`` and ``scipy.optimize.brentq`` (written here,
  sharing no code with the package), and against published values: ReLU's critical point
  sigma_w2 = 2 at sigma_b2 = 0 (He et al. 2015; Poole et al. 2016), tanh's at 1.
- The maps against Monte Carlo through real Flax stacks (``nn.Dense`` with
  ``normal(sqrt(sigma_w2 / width))`` kernels and ``normal(sqrt(sigma_b2))`` biases),
  written here layer by layer, and through the package's ``PairStack``.
- The measured side (initcourse.meanfield.correlation, initcourse.meanfield.isometry) against the same
  hand-written Flax stacks, and the claims of Saxe et al. and Pennington et al.
"""

from __future__ import annotations

import math
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from scipy import integrate, optimize

from initcourse.meanfield import correlation, edge, isometry
from initcourse.meanfield import maps as mf
from initcourse.meanfield import quadrature as qd

SQRT_2PI = math.sqrt(2 * math.pi)


# -- an independent reference, from scipy -------------------------------------------------------

def _tanh_slope(u):
    return 1.0 / np.cosh(u) ** 2


REF = {
    "tanh": (np.tanh, _tanh_slope),
    "relu": (lambda u: max(u, 0.0), lambda u: float(u > 0)),
    "sigmoid": (lambda u: 1 / (1 + math.exp(-u)) if u > -700 else 0.0,
                lambda u: math.exp(-abs(u)) / (1 + math.exp(-abs(u))) ** 2),
    "gelu": (lambda u: 0.5 * u * (1 + math.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3))),
             None),
}


def ref_expect(g, q):
    """E[g(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature split at the activation's scale."""
    r = math.sqrt(q)
    points = sorted({0.0, *(k / r for k in (-4, -1, -0.25, 0.25, 1, 4) if abs(k / r) < 11)})
    value, _ = integrate.quad(lambda z: g(r * z) * math.exp(-z * z / 2) / SQRT_2PI, -11, 11,
                              points=points, limit=500, epsabs=1e-14, epsrel=1e-12)
    return value


def ref_pair(g, q, c):
    """E[g(u1) g(u2)], (u1, u2) Gaussian with variances q and correlation c (nested quad)."""
    s = math.sqrt(1 - c * c)
    r = math.sqrt(q)

    def inner(z1):
        return integrate.quad(
            lambda z2: g(r * (c * z1 + s * z2)) * math.exp(-z2 * z2 / 2) / SQRT_2PI,
            -10, 10, points=[-c * z1 / s] if abs(c * z1 / s) < 10 else None,
            epsabs=1e-13, epsrel=1e-11, limit=200)[0]

    return integrate.quad(lambda z1: g(r * z1) * inner(z1) * math.exp(-z1 * z1 / 2) / SQRT_2PI,
                          -10, 10, points=[0.0], epsabs=1e-12, epsrel=1e-10, limit=200)[0]


def ref_q_star(phi, sw2, sb2):
    # For a bounded phi (|phi| <= 1) with sb2 > 0 the root lies in [sb2, sw2 + sb2].
    return optimize.brentq(lambda q: sw2 * ref_expect(lambda u: phi(u) ** 2, q) + sb2 - q,
                           sb2, sw2 + sb2 + 1e-9, xtol=1e-14, rtol=1e-13)


def ref_chi1(name, sw2, sb2):
    phi, slope = REF[name]
    q = ref_q_star(phi, sw2, sb2)
    return sw2 * ref_expect(lambda u: slope(u) ** 2, q)


def ref_edge(name, sb2):
    return optimize.brentq(lambda sw2: ref_chi1(name, sw2, sb2) - 1.0, 1.0001, 20.0,
                           xtol=1e-12, rtol=1e-12)


def arccos_pair(q, c):
    """ReLU: E[relu(u1) relu(u2)] and E[relu'(u1) relu'(u2)] in closed form."""
    theta = math.acos(c)
    return (q * (math.sin(theta) + (math.pi - theta) * c) / (2 * math.pi),
            (math.pi - theta) / (2 * math.pi))


# -- Gaussian expectations --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "gelu"])
@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 4.0, 30.0, 300.0])
def test_gaussian_expectation_matches_scipy(name, q):
    from initcourse.activations import FUNCTIONS

    act = FUNCTIONS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow in sigmoid's tail
        got = qd.gaussian_expectation(lambda u: act.numpy(u) ** 2, q)
        got_slope = qd.gaussian_expectation(lambda u: act.slope(u) ** 2, q)
    want = ref_expect(lambda u: REF[name][0](u) ** 2, q)
    want_slope = ref_expect(lambda u: float(act.slope(np.array(u))) ** 2, q)
    assert got == pytest.approx(want, rel=1e-8)
    assert got_slope == pytest.approx(want_slope, rel=1e-8)


@pytest.mark.parametrize("q", [0.5, 3.0, 50.0])
@pytest.mark.parametrize("c", [-0.7, 0.0, 0.4, 0.9, 0.999, 1.0])
def test_pair_expectation_of_relu_is_the_arccos_kernel(q, c):
    relu = lambda u: np.maximum(u, 0.0)  # noqa: E731
    step = lambda u: (u > 0).astype(float)  # noqa: E731
    want, want_slope = arccos_pair(q, c)
    assert qd.gaussian_expectation(relu, q, c) == pytest.approx(want, rel=1e-7)
    assert qd.gaussian_expectation(step, q, c) == pytest.approx(want_slope, rel=1e-6)


@pytest.mark.parametrize("q,c", [(0.5, 0.3), (2.0, 0.8), (8.0, -0.5), (1.0, 0.99)])
def test_pair_expectation_of_tanh_matches_nested_quad(q, c):
    assert qd.gaussian_expectation(np.tanh, q, c) == pytest.approx(
        ref_pair(math.tanh, q, c), rel=1e-7, abs=1e-12)


# -- fixed point, chi1, edge of chaos ---------------------------------------------------------

@pytest.mark.parametrize("sw2,sb2", [(0.5, 0.1), (1.0, 0.05), (2.0, 0.3), (4.0, 0.01)])
def test_tanh_fixed_point_and_chi1_match_scipy(sw2, sb2):
    q = mf.fixed_point("tanh", sw2, sb2)
    assert q == pytest.approx(ref_q_star(np.tanh, sw2, sb2), rel=1e-8)
    assert mf.chi1("tanh", sw2, sb2) == pytest.approx(ref_chi1("tanh", sw2, sb2), rel=1e-8)
    assert mf.length_map("tanh", sw2, sb2, q) == pytest.approx(q, rel=1e-10)


def test_chi1_of_tanh_at_lecun_with_a_small_bias_is_tooling_s_0_759():
    assert round(mf.chi1("tanh", 1.0, 0.05), 3) == 0.759


def test_relu_fixed_point_in_closed_form():
    # q = sw2 q / 2 + sb2  =>  q* = sb2 / (1 - sw2 / 2) for sw2 < 2; chi1 = sw2 / 2.
    for sw2, sb2 in [(1.0, 0.1), (1.8, 0.05), (0.5, 2.0)]:
        assert mf.fixed_point("relu", sw2, sb2) == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-9)
        assert mf.chi1("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-12)
    # He's point keeps every length: the starting one is the fixed point.
    assert mf.fixed_point("relu", 2.0, 0.0, q0=3.5) == pytest.approx(3.5)
    assert mf.fixed_point("relu", 1.0, 0.0) == 0.0
    assert mf.fixed_point("tanh", 0.9, 0.0) == 0.0


@pytest.mark.parametrize("sb2", [0.01, 0.05, 0.1, 0.3])
def test_tanh_edge_of_chaos_matches_scipy(sb2):
    assert edge.edge_of_chaos("tanh", sb2) == pytest.approx(ref_edge("tanh", sb2), rel=1e-7)


def test_published_critical_points():
    # Poole et al. 2016: tanh's critical line starts at sigma_w2 = 1 for sigma_b2 = 0; He et
    # al. 2015 / Poole et al.: ReLU's only critical point is sigma_w2 = 2, sigma_b2 = 0.
    assert edge.edge_of_chaos("tanh", 0.0) == pytest.approx(1.0, abs=1e-9)
    assert edge.edge_of_chaos("relu", 0.0) == pytest.approx(2.0, abs=1e-9)
    assert mf.chi1("relu", 2.0, 0.0) == pytest.approx(1.0)
    # Schoenholz et al. 2017 (Fig. 2): sigma_b2 = 0.05 puts tanh's critical point near 1.76.
    assert edge.edge_of_chaos("tanh", 0.05) == pytest.approx(1.76, abs=0.005)


def test_the_critical_line_rises_with_the_bias_and_chi1_is_one_on_it():
    sb2 = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.5])
    line = edge.critical_line("tanh", sb2)
    assert np.all(np.diff(line) > 0)
    for s, w in zip(sb2, line, strict=True):
        assert mf.chi1("tanh", w, s) == pytest.approx(1.0, abs=1e-7)
        assert mf.phase("tanh", w, s) == "critical"
        assert mf.phase("tanh", w * 0.9, s) == "ordered"
        # At sigma_b2 = 0 chi1 creeps above 1 (q* grows from 0): 1.1 is still "critical".
        assert mf.phase("tanh", w * (1.5 if s == 0 else 1.1), s) == "chaotic"
    relu = edge.critical_line("relu", np.array([0.0, 0.1]))
    assert relu[0] == pytest.approx(2.0) and np.isnan(relu[1])


def test_phases_of_relu():
    assert mf.phase("relu", 1.0, 0.1) == "ordered"
    assert mf.phase("relu", 2.0, 0.0) == "critical"
    assert mf.phase("relu", 2.5, 0.0) == "exploding"
    assert mf.phase("relu", 2.0, 0.1) == "exploding"


# -- correlation map and depth scales ----------------------------------------------------------

def ref_depth_scales(sw2, sb2):
    """xi_q, xi_c, c* for tanh from scipy alone."""
    q = ref_q_star(np.tanh, sw2, sb2)
    h = 1e-4 * q

    def length(v):
        return sw2 * ref_expect(lambda u: math.tanh(u) ** 2, v) + sb2

    chi_q = (length(q + h) - length(q - h)) / (2 * h)
    chi1 = sw2 * ref_expect(lambda u: _tanh_slope(u) ** 2, q)
    if chi1 < 1:
        c_star, chi_c = 1.0, chi1
    else:
        def gap(c):
            return (sw2 * ref_pair(math.tanh, q, c) + sb2) / q - c

        c_star = optimize.brentq(gap, 0.0, 0.999, xtol=1e-10)
        chi_c = sw2 * ref_pair(_tanh_slope, q, c_star)
    return -1 / math.log(chi_q), -1 / math.log(chi_c), c_star


@pytest.mark.parametrize("sw2", [1.3, 2.5])
def test_depth_scales_at_sigma_b2_0_05_match_scipy(sw2):
    xi_q, xi_c, c_star = ref_depth_scales(sw2, 0.05)
    got = mf.depth_scales("tanh", sw2, 0.05)
    assert got.xi_q == pytest.approx(xi_q, rel=1e-5)
    assert got.xi_c == pytest.approx(xi_c, rel=1e-6)
    assert got.c_star == pytest.approx(c_star, abs=1e-8)


def test_xi_c_diverges_at_the_edge_of_chaos():
    critical = edge.edge_of_chaos("tanh", 0.05)
    assert mf.depth_scales("tanh", critical, 0.05).xi_c == math.inf
    near = [mf.depth_scales("tanh", critical * f, 0.05).xi_c for f in (0.9, 0.99, 1.01, 1.1)]
    assert near[1] > 5 * near[0] and near[2] > 5 * near[3]
    assert mf.depth_scales("relu", 2.0, 0.0).xi_c == math.inf


def test_correlation_map_fixes_one_and_its_slope_there_is_chi1():
    sw2, sb2 = 1.5, 0.05
    assert mf.correlation_map("tanh", sw2, sb2, 1.0) == pytest.approx(1.0, abs=1e-12)
    eps = 1e-4
    slope = (1.0 - mf.correlation_map("tanh", sw2, sb2, 1 - eps)) / eps
    assert slope == pytest.approx(mf.chi1("tanh", sw2, sb2), rel=2e-3)
    values = mf.correlation_map("tanh", sw2, sb2, np.array([0.0, 0.5, 1.0]))
    assert values.shape == (3,) and np.all(np.diff(values) > 0)


# -- Monte Carlo through real Flax stacks -------------------------------------------------------

def flax_stack(activation, sw2, sb2, depth, width, *, c0, pairs, seed):
    """Mean square of the pre-activations and mean pair correlation per layer, nn.Dense by hand."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((pairs, width))
    b = rng.standard_normal((pairs, width))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b -= np.sum(a * b, axis=1, keepdims=True) * a
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    x = np.concatenate([a, c0 * a + math.sqrt(1 - c0**2) * b]) * math.sqrt(width)
    h = jnp.asarray(x, jnp.float32)
    phi = {"tanh": jnp.tanh, "relu": jax.nn.relu}[activation]
    qs, cs = [], []
    for key in jax.random.split(jax.random.PRNGKey(seed), depth):
        dense = nn.Dense(width, kernel_init=nn.initializers.normal(math.sqrt(sw2 / width)),
                         bias_init=nn.initializers.normal(math.sqrt(sb2)))
        z = np.asarray(dense.apply(dense.init(key, h), h), np.float64)
        qs.append(np.mean(z**2))
        za, zb = z[:pairs], z[pairs:]
        cs.append(np.mean(np.sum(za * zb, 1) / np.linalg.norm(za, axis=1)
                          / np.linalg.norm(zb, axis=1)))
        h = phi(jnp.asarray(z, jnp.float32))
    return np.array(qs), np.array(cs)


def flax_stacks(activation, sw2, sb2, depth, width, *, c0, networks):
    """:func:`flax_stack` averaged over independently drawn networks (seeds 0, 1, ...)."""
    runs = [flax_stack(activation, sw2, sb2, depth, width, c0=c0, pairs=4, seed=seed)
            for seed in range(networks)]
    return np.mean([r[0] for r in runs], axis=0), np.mean([r[1] for r in runs], axis=0)


CASES = [("tanh", 1.0, 0.05), ("tanh", "edge", 0.05), ("tanh", 3.0, 0.05), ("relu", 1.5, 0.1),
         ("relu", 2.0, 0.0)]


@pytest.mark.slow
@pytest.mark.parametrize("activation,sw2,sb2", CASES)
def test_maps_predict_real_flax_stacks(activation, sw2, sb2):
    if sw2 == "edge":
        sw2 = edge.edge_of_chaos(activation, sb2)
    depth = 15
    q, c = flax_stacks(activation, sw2, sb2, depth, 512, c0=0.5, networks=12)
    theory = mf.correlation_by_layer(activation, sw2, sb2, depth, c0=0.5)
    # Finite width: correlations scatter by about 0.01; lengths are log-normal around the
    # theory (Hanin & Rolnick 2018), so a dozen networks average within about 10%.
    assert np.max(np.abs(c - theory.c)) < 0.03, (c, theory.c)
    assert np.max(np.abs(q / theory.q - 1)) < 0.15, (q, theory.q)
    # ... and the theory is not trivially close: the correlations moved.
    assert np.max(np.abs(theory.c - theory.c[0])) > 0.1


def test_chi1_is_the_measured_stretch_of_a_layer():
    """||D_l W_l||_F^2 / width, averaged over layers at q*, is chi1 (Monte Carlo)."""
    width, depth = 512, 12
    for sw2, sb2 in [(1.0, 0.05), (2.5, 0.05)]:
        q_star = mf.fixed_point("tanh", sw2, sb2)
        h = jax.random.normal(jax.random.PRNGKey(5), (width,))
        h = h / jnp.sqrt(jnp.mean(h**2)) * math.sqrt(max(q_star - sb2, 0) / sw2)
        stretch = []
        for key in jax.random.split(jax.random.PRNGKey(6), depth):
            dense = nn.Dense(width, kernel_init=nn.initializers.normal(math.sqrt(sw2 / width)),
                             bias_init=nn.initializers.normal(math.sqrt(sb2)))
            params = dense.init(key, h)
            z = dense.apply(params, h)
            w = np.asarray(params["params"]["kernel"], np.float64)
            slope = 1 - np.tanh(np.asarray(z, np.float64)) ** 2
            stretch.append(np.sum((w * slope[None, :]) ** 2) / width)
            h = jnp.tanh(z)
        assert np.mean(stretch) == pytest.approx(mf.chi1("tanh", sw2, sb2), rel=0.05)


def test_pair_stack_draws_what_flax_dense_draws_and_measures_the_same():
    stack = correlation.PairStack(64, seed=3, pairs=4, max_depth=5)
    keys = jax.random.split(jax.random.split(jax.random.PRNGKey(3))[0], 5)
    sw2, sb2 = 1.7, 0.2
    dense = nn.Dense(64, kernel_init=nn.initializers.normal(math.sqrt(sw2 / 64)),
                     bias_init=nn.initializers.normal(math.sqrt(sb2)))
    for layer, key in enumerate(keys):
        want = dense.init(key, jnp.zeros((1, 64)))["params"]
        scale_w = jnp.float32(math.sqrt(sw2 / 64))
        np.testing.assert_array_equal(stack.params["kernel"][layer] * scale_w, want["kernel"])
        np.testing.assert_array_equal(stack.params["bias"][layer] * jnp.float32(math.sqrt(sb2)),
                                      want["bias"])
    # The masked depth gives the first layers of the full stack, unchanged.
    full = stack.measure("tanh", sw2, sb2, 5, c0=0.3)
    part = stack.measure("tanh", sw2, sb2, 3, c0=0.3)
    np.testing.assert_allclose(part.c, full.c[:3], rtol=1e-6)
    assert full.c.shape == (5,) and part.q.shape == (3,)


def test_pair_stack_agrees_with_theory():
    stack = correlation.PairStack(512, seed=0, pairs=16, max_depth=30)
    for sw2 in (1.0, 3.0):
        m = stack.measure("tanh", sw2, 0.05, 30, c0=0.5)
        t = mf.correlation_by_layer("tanh", sw2, 0.05, 30, c0=0.5)
        assert np.max(np.abs(m.c - t.c)) < 0.05


def test_pair_inputs_have_the_requested_correlation_and_length():
    x = np.asarray(correlation.pair_inputs(jax.random.PRNGKey(0), 300, -0.4, 5), np.float64)
    assert x.shape == (5, 2, 300)
    np.testing.assert_allclose(np.mean(x**2, axis=-1), 1.0, rtol=1e-5)
    cos = np.sum(x[:, 0] * x[:, 1], -1) / np.linalg.norm(x[:, 0], axis=-1) / np.linalg.norm(
        x[:, 1], axis=-1)
    np.testing.assert_allclose(cos, -0.4, atol=1e-5)


# -- dynamical isometry ----------------------------------------------------------------------

def test_products_of_orthogonal_matrices_keep_every_singular_value_at_one():
    orth = isometry.product_singular_values("orthogonal", n=100, count=30, seed=0)
    gauss = isometry.product_singular_values("gaussian", n=100, count=30, seed=0)
    assert np.max(np.abs(orth - 1)) < 1e-5
    assert gauss.max() / gauss.min() > 1e10


def test_layers_are_flax_s_draws():
    layers = isometry.draw_layers("orthogonal", 1.5, 0.1, 3, 16, seed=4)
    kernel = np.asarray(layers["kernel"][1], np.float64)
    np.testing.assert_allclose(kernel @ kernel.T, 1.5 * np.eye(16), atol=1e-5)
    deeper = isometry.draw_layers("orthogonal", 1.5, 0.1, 5, 16, seed=4)
    np.testing.assert_array_equal(deeper["kernel"][:3], layers["kernel"])
    np.testing.assert_array_equal(deeper["bias"][:3], layers["bias"])
    gauss = isometry.draw_layers("gaussian", 2.0, 0.0, 40, 64, seed=0)
    assert float(jnp.std(gauss["kernel"])) == pytest.approx(math.sqrt(2.0 / 64), rel=0.01)
    assert float(jnp.max(jnp.abs(gauss["bias"]))) == 0.0


def test_jacobian_is_the_product_of_the_layers():
    """jax.jacfwd through nn.Dense.apply equals prod_l diag(phi'(z_l)) W_l^T built by hand."""
    width, depth, sw2, sb2 = 16, 4, 1.5, 0.1
    s = isometry.jacobian_singular_values("tanh", sw2, sb2, depth, width, seed=2)
    layers = isometry.draw_layers("gaussian", sw2, sb2, depth, width, seed=2)
    q0 = (mf.fixed_point("tanh", sw2, sb2) - sb2) / sw2
    x = jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(2), 2**31), (width,))
    x = x / jnp.sqrt(jnp.mean(x * x)) * jnp.float32(math.sqrt(q0))
    h, jac = np.asarray(x, np.float64), np.eye(width)
    for layer in range(depth):
        w = np.asarray(layers["kernel"][layer], np.float64)
        z = h @ w + np.asarray(layers["bias"][layer], np.float64)
        jac = (w * (1 - np.tanh(z) ** 2)[None, :]).T @ jac
        h = np.tanh(z)
    np.testing.assert_allclose(s, np.linalg.svd(jac, compute_uv=False), rtol=1e-4, atol=1e-6)


def test_orthogonal_weights_concentrate_the_tanh_jacobian_at_the_edge():
    sb2 = 1e-4
    sw2 = edge.edge_of_chaos("tanh", sb2)
    kw = dict(width=128, seed=0)
    orth = isometry.jacobian_singular_values("tanh", sw2, sb2, 16, weights="orthogonal", **kw)
    gauss = isometry.jacobian_singular_values("tanh", sw2, sb2, 16, weights="gaussian", **kw)
    near = lambda s: np.mean((s > 1 / 3) & (s < 3))  # noqa: E731
    assert near(orth) > 0.9 and near(gauss) < 0.6
    relu = isometry.jacobian_singular_values("relu", 2.0, 0.0, 16, weights="orthogonal", **kw)
    assert near(relu) < 0.6


# -- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: mf.chi1("tanh", -1.0, 0.05), "sigma_w2"),
    (lambda: mf.chi1("tanh", 1.0, -0.05), "sigma_b2"),
    (lambda: mf.chi1("elu", 1.0, 0.05), "activation"),
    (lambda: mf.fixed_point("tanh", float("nan"), 0.05), "sigma_w2"),
    (lambda: mf.fixed_point("tanh", 1.0, float("inf")), "sigma_b2"),
    (lambda: mf.fixed_point("tanh", 10**400, 0.0), "sigma_w2"),
    (lambda: mf.fixed_point("tanh", 1.0, 0.0, q0=-1), "q0"),
    (lambda: mf.depth_scales("tanh", 0.0, 0.05), "sigma_w2"),
    (lambda: mf.depth_scales("tanh", 1e6, 0.05), "sigma_w2"),
    (lambda: edge.edge_of_chaos("relu", 0.05), "sigma_b2=0.05"),
    (lambda: edge.edge_of_chaos("linear", 0.1), "no critical point"),
    (lambda: edge.edge_of_chaos("tanh", -0.1), "sigma_b2"),
    (lambda: mf.chi1("relu", 2.5, 0.1), "grows without bound"),
    (lambda: mf.correlation_map("tanh", 1.0, 0.05, 1.5), "c"),
    (lambda: mf.correlation_map("tanh", 1.0, 0.05, np.array([0.2, 1.2])), "c must lie"),
    (lambda: mf.correlation_by_layer("tanh", 1.0, 0.05, 0, c0=0.5), "depth"),
    (lambda: qd.gaussian_expectation(np.tanh, -1.0), "q"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_gets_a_clear_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("value", ["1.0", True, None, [1.0], np.ones(2)])
def test_non_numbers_are_refused(value):
    with pytest.raises(TypeError, match="sigma_w2"):
        mf.chi1("tanh", value, 0.05)


def test_zero_d_arrays_are_numbers():
    assert mf.chi1("tanh", np.float32(1.0), np.array(0.05)) == pytest.approx(0.759, abs=1e-3)
    assert mf.chi1("tanh", jnp.float32(1.0), 0.05) == pytest.approx(0.759, abs=1e-3)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"c0": "0.5"}, TypeError, "c0 must be a real number; received '0.5'"),
    ({"c0": True}, TypeError, "c0 must be a number, not a bool"),
    ({"c0": None}, TypeError, "c0 must be a real number; received None"),
    ({"c0": [0.5]}, TypeError, "c0 must be a real number"),
    ({"c0": 1.5}, ValueError, "c0 must be between -1 and 1; received 1.5"),
    ({"q0": 1e308}, ValueError, "q0 must be a finite number in \\(0, 1000\\]"),
    ({"sigma_w2": 1e308}, ValueError, "sigma_w2 must be a finite number in \\(0, 1000\\]"),
    ({"sigma_b2": 2e3}, ValueError, "sigma_b2 must be a finite number in \\[0, 1000\\]"),
])
def test_pair_stack_checks_every_argument(kwargs, error, words):
    stack = correlation.PairStack(16, seed=0, pairs=2, max_depth=3)
    args = {"activation": "tanh", "sigma_w2": 1.0, "sigma_b2": 0.05, "depth": 3, **kwargs}
    with pytest.raises(error, match=words):
        stack.measure(args.pop("activation"), args.pop("sigma_w2"), args.pop("sigma_b2"),
                      args.pop("depth"), **args)


def test_isometry_bounds_its_variances():
    with pytest.raises(ValueError, match="sigma_w2 must be a finite number in \\(0, 1000\\]"):
        isometry.draw_layers("gaussian", 1e308, 0.0, 2, 8)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: mf.correlation_map("tanh", 1.5, 0.05, np.linspace(-1, 1, 10**5)),
     "c must hold at most 10,000 values .* received 100,000 values"),
    (lambda: edge.critical_line("tanh", np.linspace(0, 0.5, 10**4)),
     "sigma_b2 must hold at most 2,000 values .* received 10,000 values"),
    (lambda: edge.phase_grid("tanh", np.linspace(0.5, 4, 1000), np.linspace(0, 0.5, 1000)),
     r"len\(sigma_w2\) \* len\(sigma_b2\) must be at most 100,000 points"),
    (lambda: isometry.product_singular_values("gaussian", n=1000, count=1000),
     r"count \* n\*\*3 must be at most 2\*\*35 .* received n=1000, count=1000"),
])
def test_calls_that_cannot_finish_in_an_interactive_wait_are_refused_first(call, words):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=words):
        call()
    assert time.perf_counter() - start < 1.0  # refused before the work, not after
