"""Latent and target laws: quadrature rules against closed-form moments, samples against the
moments within standard errors, CDF/quantile round trips (docs/model.md §2, population dynamics)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield.measures import laws

MIX1 = laws.gaussian_mixture([0.3, 0.7], [-1.0, 2.0], [0.5, 1.5])
MIX2 = laws.gaussian_mixture([0.2, 0.5, 0.3], [[-1.0, 0.5], [2.0, -1.0], [0.0, 0.0]],
                             [[0.5, 1.0], [1.5, 0.3], [0.8, 0.8]])
ATOMS = laws.atomic_mixture([0.2, 0.5, 0.3], [[-1.0, 0.0], [0.5, 2.0], [3.0, -1.0]])


def _raw_gauss(m, s, p):
    """E X^p for X ~ N(m, s²), p <= 4."""
    return [1.0, m, m * m + s * s, m ** 3 + 3 * m * s * s,
            m ** 4 + 6 * m * m * s * s + 3 * s ** 4][p]


def _mixture_moment(law: laws.GaussianMixture, powers) -> float:
    """E Π_k X_k^{p_k} in closed form: components have independent coordinates."""
    w, m, s = (np.asarray(a) for a in (law.weights, law.means, law.stds))
    return float(sum(wj * np.prod([_raw_gauss(mj[k], sj[k], p) for k, p in enumerate(powers)])
                     for wj, mj, sj in zip(w, m, s)))


def _rule_moment(rule: laws.Rule, powers) -> float:
    return float(rule.weights @ np.prod(rule.points ** np.asarray(powers), axis=1))


@pytest.mark.parametrize("law", [MIX1, MIX2], ids=["K1", "K2"])
def test_gaussian_mixture_rule_reproduces_moments(law):
    # Tensor Gauss–Hermite with n = 20 is exact up to degree 39 per coordinate: every moment of
    # total degree <= 4 equals its closed form to rel 1e-12.
    rule = law.rule(20)
    assert rule.kind == "gauss-hermite"
    assert rule.points.shape == (len(law.weights) * 20 ** law.dim, law.dim)
    assert abs(rule.weights.sum() - 1) < 1e-14 and (rule.weights > 0).all()
    K = law.dim
    all_powers = [p for p in np.ndindex(*([5] * K)) if 0 < sum(p) <= 4]
    for powers in all_powers:
        want = _mixture_moment(law, powers)
        assert _rule_moment(rule, powers) == pytest.approx(want, rel=1e-12, abs=1e-12), powers
    # The law's own mean and covariance (closed forms in laws.py) agree with the moments.
    mean = np.array([_mixture_moment(law, np.eye(K, dtype=int)[k]) for k in range(K)])
    second = np.array([[_mixture_moment(law, np.eye(K, dtype=int)[i] + np.eye(K, dtype=int)[j])
                        for j in range(K)] for i in range(K)])
    np.testing.assert_allclose(law.mean(), mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(law.cov(), second - np.outer(mean, mean), rtol=1e-12, atol=1e-13)


def test_standard_gaussian_rule_exact_to_degree_2n_minus_1():
    # E z^{2k} = (2k−1)!! exactly (rel 1e-12) for 2k <= 2n − 1 with n = 10 nodes, odd moments 0;
    # degree 2n is the first one the rule gets wrong (so the test sees the rule's size).
    n = 10
    rule = laws.StandardGaussian(1).rule(n)
    z = rule.points[:, 0]
    for k in range(n):
        assert rule.weights @ z ** (2 * k) == pytest.approx(math.prod(range(2 * k - 1, 0, -2)),
                                                            rel=1e-12)
        assert abs(rule.weights @ z ** (2 * k + 1)) < 1e-9 * math.prod(range(2 * k + 1, 0, -2))
    assert rule.weights @ z ** (2 * n) != pytest.approx(math.prod(range(2 * n - 1, 0, -2)),
                                                        rel=1e-6)
    # In d = 2 the tensor rule factorises: E z_1² z_2⁴ = 1 · 3.
    r2 = laws.StandardGaussian(2).rule(n)
    assert r2.weights @ (r2.points[:, 0] ** 2 * r2.points[:, 1] ** 4) == pytest.approx(3.0,
                                                                                        rel=1e-12)


def test_atomic_rule_is_the_law():
    rule = ATOMS.rule()
    assert rule.kind == "atoms"
    a, w = np.asarray(ATOMS.atoms), np.asarray(ATOMS.weights)
    np.testing.assert_array_equal(rule.points, a)
    np.testing.assert_array_equal(rule.weights, w)
    mean = np.array([0.2 * -1.0 + 0.5 * 0.5 + 0.3 * 3.0, 0.5 * 2.0 + 0.3 * -1.0])
    np.testing.assert_allclose(ATOMS.mean(), mean, rtol=1e-15)
    second = sum(wj * np.outer(aj, aj) for wj, aj in zip(w, a))
    np.testing.assert_allclose(ATOMS.cov(), second - np.outer(mean, mean), rtol=1e-14)


def test_logistic_rule_variance():
    # Gauss–Legendre in the quantile variable: x² ∘ logit is singular at u = 0, 1, so convergence is
    # only algebraic. Measured relative errors of the variance π²/3: 4.4e-3 (n = 40, the default),
    # 3.6e-4 (n = 160). Bounds: 5e-3 and 5e-4; the mean is 0 by symmetry (1e-12).
    for n, tol in ((40, 5e-3), (160, 5e-4)):
        rule = laws.Logistic(1).rule(n)
        x = rule.points[:, 0]
        assert abs(rule.weights @ x) < 1e-12
        assert rule.weights @ x ** 2 == pytest.approx(np.pi ** 2 / 3, rel=tol)
    np.testing.assert_allclose(laws.Logistic(2).cov(), np.eye(2) * np.pi ** 2 / 3)


def test_rule_falls_back_to_a_fixed_sample():
    # Above max_points the rule is a fixed sample with equal weights, identical on every call.
    r1 = laws.StandardGaussian(3).rule(20, max_points=1000)
    r2 = laws.StandardGaussian(3).rule(20, max_points=1000)
    assert r1.kind == "sample" and r1.points.shape == (1000, 3)
    np.testing.assert_array_equal(r1.points, r2.points)
    np.testing.assert_allclose(r1.weights, np.full(1000, 1e-3), rtol=1e-15)
    assert MIX2.rule(40, max_points=4096).kind == "sample"  # 3 · 40² > 4096


# (law, mean, variance, central 4th moment) per coordinate, closed forms.
def _gm_central(law, k):
    m1 = _mixture_moment(law, np.eye(law.dim, dtype=int)[k])
    raw = [_mixture_moment(law, p * np.eye(law.dim, dtype=int)[k]) for p in range(5)]
    var = raw[2] - m1 ** 2
    mu4 = raw[4] - 4 * m1 * raw[3] + 6 * m1 ** 2 * raw[2] - 3 * m1 ** 4
    return m1, var, mu4


@pytest.mark.parametrize("name", ["gaussian", "logistic", "mix1", "mix2", "atoms"])
def test_sample_moments_within_five_standard_errors(x64, name):
    # Sample mean and variance of n = 100 000 float64 draws lie within 5 standard errors
    # (sqrt(var/n) and sqrt((μ₄ − σ⁴)/n)) of the closed forms, per coordinate.
    n = 100_000
    if name == "gaussian":
        law, stats = laws.StandardGaussian(2), [(0.0, 1.0, 3.0)] * 2
    elif name == "logistic":
        law, stats = laws.Logistic(2), [(0.0, np.pi ** 2 / 3, 7 * np.pi ** 4 / 15)] * 2
    elif name == "atoms":
        law = ATOMS
        a, w = np.asarray(ATOMS.atoms), np.asarray(ATOMS.weights)
        stats = [(w @ a[:, k], w @ (a[:, k] - w @ a[:, k]) ** 2, w @ (a[:, k] - w @ a[:, k]) ** 4)
                 for k in range(2)]
    else:
        law = MIX1 if name == "mix1" else MIX2
        stats = [_gm_central(law, k) for k in range(law.dim)]
    x = np.asarray(law.sample(jax.random.key(11), n, jnp.float64))
    assert x.shape == (n, law.dim) and x.dtype == np.float64
    for k, (mean, var, mu4) in enumerate(stats):
        assert abs(x[:, k].mean() - mean) < 5 * np.sqrt(var / n), (k, x[:, k].mean(), mean)
        assert abs(x[:, k].var() - var) < 5 * np.sqrt((mu4 - var ** 2) / n), (k, x[:, k].var(), var)


@pytest.mark.parametrize("law", [laws.StandardGaussian(1), laws.Logistic(1), MIX1,
                                 laws.gaussian_mixture([1.0], [0.5], [2.0])],
                         ids=["gaussian", "logistic", "mix", "single"])
def test_quantile_inverts_cdf(law):
    # Continuous laws: quantile(cdf(x)) = x on [−4, 4] to 1e-9 (the mixture quantile bisects), and
    # the density is the derivative of the CDF (central differences, 1e-7).
    x = np.linspace(-4.0, 4.0, 33)
    np.testing.assert_allclose(law.quantile(law.cdf(x)), x, rtol=0, atol=1e-9)
    h = 1e-5
    np.testing.assert_allclose((law.cdf(x + h) - law.cdf(x - h)) / (2 * h), law.density(x),
                               rtol=1e-7, atol=1e-12)


def test_atomic_quantile_and_cdf():
    # Unsorted atoms: cdf is the cumulative weight at and below x; quantile(cdf(a)) = a exactly.
    law = laws.atomic_mixture([0.7, 0.1, 0.2], [1.0, -1.0, 0.5])
    a = np.array([1.0, -1.0, 0.5])
    np.testing.assert_array_equal(law.quantile(law.cdf(a)), a)
    np.testing.assert_allclose(law.cdf(np.array([-2.0, -1.0, 0.0, 0.5, 0.9, 1.0, 5.0])),
                               [0.0, 0.1, 0.1, 0.3, 0.3, 1.0, 1.0], rtol=1e-15)
    mid = laws.midpoint_quantiles(law, 10)  # u = 0.05, 0.15, ..., 0.95
    np.testing.assert_array_equal(mid, [-1.0, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 1])


def test_constructors_normalise_and_broadcast():
    law = laws.gaussian_mixture([1.0, 3.0], [[0.0, 1.0], [2.0, 3.0]], [0.5, 2.0])
    assert law.weights == (0.25, 0.75)
    assert law.stds == ((0.5, 0.5), (2.0, 2.0))
    assert laws.atomic_mixture([2, 2], [-1, 1]).atoms == ((-1.0,), (1.0,))
