"""The Smirnov output layer and the marginal quality measures (docs/model.md §10) against their
mathematics.

Tolerances: float64 except where float32 is the point. Exact statements are checked exactly: the
step map's law (counts of a midpoint-quantile latent grid), the zero distance between equal
empirical laws, the agreement of the interpolation with the step map at the knots. The CDF
distance is checked against scipy's W₁, energy distance and Kolmogorov–Smirnov statistic (to
round-off) and against a fine-grid integral (within its proven error bound); its m^{−1/2} rate by
the fitted slope. The classifier test by bounds set below the measured scores.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from meanfield.metrics.marginals import cdf_distance, tstr_f1
from meanfield.networks.smirnov import SmirnovLayer, exact, interpolated, smirnov_layer


@pytest.fixture
def digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)


def midpoint_normal_grid(K: int, d: int):
    """Φ⁻¹((k − ½)/K), k = 1..K, in every column: ``[K, d]`` latents of exact uniform mass."""
    z = stats.norm.ppf((np.arange(K) + 0.5) / K)
    return jnp.asarray(np.repeat(z[:, None], d, axis=1))


# ---------------------------------------------------------------------------------------------
# The Smirnov layer
# ---------------------------------------------------------------------------------------------

def test_layer_is_a_pytree_of_sorted_features(x64):
    data = np.random.default_rng(0).normal(size=(9, 3))
    layer = smirnov_layer(data)
    assert isinstance(layer, SmirnovLayer) and layer.sorted.shape == (3, 9)
    np.testing.assert_array_equal(layer.sorted, np.sort(data, axis=0).T)
    assert len(jax.tree.leaves(layer)) == 1
    with pytest.raises(ValueError, match=r"h \[B, 3\]"):
        exact(layer, jnp.zeros((4, 2)))


@pytest.mark.parametrize("ties", [False, True])
def test_exact_map_gives_each_data_point_mass_one_over_n(x64, ties):
    """On the K = 1000·n midpoint quantiles of N(0, 1), a latent grid of exact mass 1/K each,
    the step map hits every data point exactly 1000 times (a value repeated r times, 1000·r),
    in every feature: the law of S(Z) is the empirical marginal."""
    n, d, per = 40, 3, 1000
    rng = np.random.default_rng(1)
    data = rng.normal(size=(n, d))
    if ties:  # feature 1 takes 5 values, 8 times each; feature 2 has one value 3 times
        data[:, 1] = np.repeat(np.arange(5.0), 8)
        data[:3, 2] = 0.25
    out = np.asarray(exact(smirnov_layer(data), midpoint_normal_grid(per * n, d)))
    for j in range(d):
        values, counts = np.unique(data[:, j], return_counts=True)
        got, got_counts = np.unique(out[:, j], return_counts=True)
        np.testing.assert_array_equal(got, values)  # only data values, every one of them
        np.testing.assert_array_equal(got_counts, per * counts)


def test_exact_map_is_the_quantile_of_the_empirical_cdf(x64):
    """x_(⌈nu⌉) with u = Φ(h): the tails go to the extreme points, u just above i/n to x_(i+1)."""
    n = 10
    data = np.arange(n, dtype=np.float64)[:, None] * 1.5  # x_(i) = 1.5 (i − 1)
    layer = smirnov_layer(data)
    i = np.arange(1, n)
    u = np.concatenate([i / n - 1e-9, i / n + 1e-9])
    h = jnp.asarray(np.concatenate([[-40.0, 40.0], stats.norm.ppf(u)])[:, None])
    expected = 1.5 * (np.concatenate([[1, n], i, i + 1]) - 1)
    np.testing.assert_array_equal(exact(layer, h)[:, 0], expected)


def test_interpolated_map_is_monotone_and_within_one_gap_of_the_exact_map(x64):
    """Nondecreasing in h, inside [x_(1), x_(n)], equal to x_(i) at the knots Φ⁻¹((i − ½)/n), and
    within [x_(k−1), x_(k+1)] where the exact map gives x_(k)."""
    n, d = 25, 2
    data = np.random.default_rng(2).standard_t(3, size=(n, d))
    layer = smirnov_layer(data)
    xs = np.sort(data, axis=0)
    h = jnp.asarray(np.repeat(np.linspace(-6, 6, 20001)[:, None], d, axis=1))
    y = np.asarray(interpolated(layer, h))
    assert np.all(np.diff(y, axis=0) >= 0)
    assert np.all((y >= xs[0][None, :]) & (y <= xs[-1][None, :]))

    knots = jnp.asarray(np.repeat(stats.norm.ppf((np.arange(n) + 0.5) / n)[:, None], d, axis=1))
    np.testing.assert_allclose(interpolated(layer, knots), xs, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(exact(layer, knots), xs)

    # The exact map's index k on the grid, from its values (the data are distinct).
    e = np.asarray(exact(layer, h))
    k = np.stack([np.searchsorted(xs[:, j], e[:, j]) for j in range(d)], axis=1)
    lo = np.take_along_axis(xs, np.maximum(k - 1, 0), axis=0)
    hi = np.take_along_axis(xs, np.minimum(k + 1, n - 1), axis=0)
    assert np.all((y >= lo) & (y <= hi))


def test_interpolated_gradient_is_the_slope_of_the_quantile_interpolation(x64):
    """d/dh = n (x_(i+1) − x_(i)) φ(h) for Φ(h) in ((i − ½)/n, (i + ½)/n): positive inside the
    data range, zero beyond the outer knots."""
    n, d = 30, 3
    data = np.random.default_rng(3).normal(size=(n, d)) * np.array([1.0, 0.1, 5.0])[None, :]
    layer = smirnov_layer(data)
    xs = np.sort(data, axis=0)
    u = np.random.default_rng(4).uniform(0.5 / n, 1 - 0.5 / n, size=(200, d))
    h = jnp.asarray(stats.norm.ppf(u))
    g = np.asarray(jax.grad(lambda h: jnp.sum(interpolated(layer, h)))(h))
    i = np.floor(u * n - 0.5).astype(int)  # the segment: knots i and i + 1 (0-based)
    slope = n * (np.take_along_axis(xs, i + 1, axis=0) - np.take_along_axis(xs, i, axis=0))
    assert np.all(g > 0)
    np.testing.assert_allclose(g, slope * stats.norm.pdf(np.asarray(h)), rtol=1e-9)

    outside = jnp.asarray(np.array([[-3.0], [3.0]]) * np.ones((1, d)))  # Φ = 0.0013 < ½/30
    assert np.all(np.asarray(jax.grad(lambda h: jnp.sum(interpolated(layer, h)))(outside)) == 0)


def test_float32_upper_tail_is_as_accurate_as_the_lower_tail():
    """n = 10⁵ data points and 20000 latents h in the upper tail, where Φ(h) is resolved only to
    6·10⁻⁸ = 0.006/n in float32. Reflection equivariance S_{−x}(−h) = −S_x(h) of the exact map
    holds except where n·Φ(−h) rounds to an integer (the boundary between two data points: 1
    latent here), and the float32 map differs from the float64 one on 2 latents (computed from
    Φ(h) instead of Φ(−h), 66 and 67: the upper tail would be 30 times less accurate). The
    interpolation is equivariant to float32 round-off."""
    n = 100_000
    data = np.arange(n, dtype=np.float32)[:, None]
    h = jnp.asarray(np.random.default_rng(5).uniform(2.0, 4.5, size=(20000, 1)), jnp.float32)
    up, down = smirnov_layer(jnp.asarray(data)), smirnov_layer(jnp.asarray(-data))
    out = np.asarray(exact(up, h))
    assert out.dtype == np.float32
    nv = np.asarray(n * jax.scipy.stats.norm.cdf(-h))
    boundary = nv == np.round(nv)
    assert boundary.sum() <= 3
    differ = np.asarray(exact(down, -h)) != -out
    assert not np.any(differ & ~boundary), np.sum(differ & ~boundary)
    with jax.enable_x64(True):  # x_(⌈nΦ(h)⌉) with Φ to 1e-16
        ref = np.asarray(exact(smirnov_layer(data.astype(np.float64)),
                               jnp.asarray(h, jnp.float64)))
    assert np.sum(out != ref) <= 10, np.sum(out != ref)
    np.testing.assert_allclose(interpolated(down, -h), -interpolated(up, h), rtol=0, atol=0.02)


# ---------------------------------------------------------------------------------------------
# CDF distances
# ---------------------------------------------------------------------------------------------

def two_samples(seed=6, m=37, n=53, d=3, decimals=None):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, d))
    b = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d)[None, :] + 0.3
    if decimals is not None:  # ties within and between the samples
        a, b = np.round(a, decimals), np.round(b, decimals)
    return a, b


@pytest.mark.parametrize("decimals", [None, 0])
def test_cdf_distance_matches_scipy_w1_energy_and_ks(x64, decimals):
    """p = 1 is W₁, √2·(p = 2) the energy distance, p = ∞ the two-sample KS statistic, per
    feature; also with many ties (rounded to integers)."""
    a, b = two_samples(decimals=decimals)
    d = a.shape[1]
    w1 = [stats.wasserstein_distance(a[:, j], b[:, j]) for j in range(d)]
    energy = [stats.energy_distance(a[:, j], b[:, j]) for j in range(d)]
    ks = [stats.ks_2samp(a[:, j], b[:, j]).statistic for j in range(d)]
    np.testing.assert_allclose(cdf_distance(a, b, 1), w1, rtol=1e-12)
    np.testing.assert_allclose(math.sqrt(2) * cdf_distance(a, b, 2), energy, rtol=1e-12)
    np.testing.assert_allclose(cdf_distance(a, b, math.inf), ks, rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_cdf_distance_equals_a_fine_grid_integral(x64, p):
    """∫|F_a − F_b|^p by the midpoint rule on 2·10⁶ cells: a cell without a jump is integrated
    exactly, one with a jump is off by at most its width, so the error is at most (m + n)·width."""
    a, b = two_samples(m=7, n=11, d=2)
    got = np.asarray(cdf_distance(a, b, p)) ** p
    for j in range(a.shape[1]):
        lo, hi = min(a[:, j].min(), b[:, j].min()), max(a[:, j].max(), b[:, j].max())
        cells = 2_000_000
        width = (hi - lo) / cells
        t = lo + (np.arange(cells) + 0.5) * width
        fa = np.searchsorted(np.sort(a[:, j]), t, side="right") / len(a)
        fb = np.searchsorted(np.sort(b[:, j]), t, side="right") / len(b)
        brute = np.sum(np.abs(fa - fb) ** p) * width
        assert abs(got[j] - brute) <= (len(a) + len(b)) * width, (j, got[j], brute)
        assert got[j] > 100 * (len(a) + len(b)) * width  # the bound is not vacuous


def test_cdf_distance_is_a_metric_on_empirical_laws(x64):
    """Symmetric, zero between equal empirical laws (a permutation, every point twice), invariant
    under reflection and translation, homogeneous of degree 1/p under scaling."""
    a, b = two_samples()
    perm = np.random.default_rng(7).permutation(len(a))
    for p in (1.0, 3.0, math.inf):
        ab = np.asarray(cdf_distance(a, b, p))
        assert np.all(ab > 0)
        np.testing.assert_allclose(cdf_distance(b, a, p), ab, rtol=1e-14)
        assert np.all(np.asarray(cdf_distance(a, a[perm], p)) == 0)
        assert np.all(np.asarray(cdf_distance(a, np.concatenate([a, a]), p)) == 0)
        np.testing.assert_allclose(cdf_distance(-a, -b, p), ab, rtol=1e-12)
        np.testing.assert_allclose(cdf_distance(a + 3.0, b + 3.0, p), ab, rtol=1e-12)
        np.testing.assert_allclose(cdf_distance(4.0 * a, 4.0 * b, p), 4.0 ** (1 / p) * ab,
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="1 <= p"):
        cdf_distance(a, b, 0.5)
    with pytest.raises(ValueError, match=r"\[m, d\]"):
        cdf_distance(a, b[:, :2])


def distance_to_uniform(x: np.ndarray) -> np.ndarray:
    """∫₀¹ |F_m(t) − t| dt for samples of U(0, 1), exactly: on [x_(i), x_(i+1)) F_m = i/m, and
    ∫ₐᵇ |t − c| dt = G(b − c) − G(a − c) with G(s) = s|s|/2. ``x [m, S]`` → ``[S]``."""
    m = x.shape[0]
    edges = np.concatenate([np.zeros((1, x.shape[1])), np.sort(x, axis=0),
                            np.ones((1, x.shape[1]))])
    c = (np.arange(m + 1) / m)[:, None]
    G = lambda s: s * np.abs(s) / 2  # noqa: E731
    return np.sum(G(edges[1:] - c) - G(edges[:-1] - c), axis=0)


def test_distance_to_the_law_decays_like_one_over_sqrt_m(x64):
    """‖F_m − F‖₁ for m samples of U(0, 1), 20 seeds at once (the seeds are the features), against
    the midpoint quantisation of U(0, 1) with R = 2·10⁴ points, which is 1/(4R) from U in this
    norm. Over m = 100…10000 the log–log slope of the mean over seeds lies in [−0.6, −0.4]; √m
    times the distance tends to E∫|B(t)|dt = √(2π)/8 (B a Brownian bridge)."""
    R, S = 20_000, 20
    reference = np.repeat(((np.arange(R) + 0.5) / R)[:, None], S, axis=1)
    # The test's closed form on the reference itself: the quantisation error 1/(4R).
    np.testing.assert_allclose(distance_to_uniform(reference), 1 / (4 * R), rtol=1e-9)
    ms = np.array([100, 316, 1000, 3162, 10000])
    D = []
    for m in ms:
        x = np.random.default_rng(int(m)).uniform(size=(m, S))
        D.append(np.asarray(cdf_distance(x, reference)))
        # Triangle inequality: the library against the reference is within 1/(4R) of the exact
        # distance to U(0, 1).
        assert np.all(np.abs(D[-1] - distance_to_uniform(x)) <= 1 / (4 * R) + 1e-12)
    D = np.array(D)  # [len(ms), S]
    slope = np.polyfit(np.log(ms), np.log(D.mean(axis=1)), 1)[0]
    assert -0.6 <= slope <= -0.4, slope
    scaled = (np.sqrt(ms)[:, None] * D).ravel()
    se = scaled.std(ddof=1) / math.sqrt(scaled.size)
    assert abs(scaled.mean() - math.sqrt(2 * math.pi) / 8) < 4 * se, (scaled.mean(), se)


# ---------------------------------------------------------------------------------------------
# Train on synthetic, test on real
# ---------------------------------------------------------------------------------------------

def test_train_on_real_digits_scores_high_and_shuffled_labels_score_chance(digits_split):
    """On the 8×8 digits (70/30 stratified split): train-on-real macro-F1 0.972 measured (0.956 to
    0.978 over five splits), asserted > 0.93; training on the same images with shuffled labels
    gives 0.106 (0.089 to 0.106), chance being about 0.1, asserted < 0.2."""
    x_train, x_test, y_train, y_test = digits_split
    real = tstr_f1(x_train, y_train, x_test, y_test)
    assert real > 0.93, real
    shuffled = np.random.default_rng(0).permutation(y_train)
    chance = tstr_f1(x_train, shuffled, x_test, y_test)
    assert chance < 0.2, chance
    # Images as [n, 8, 8] are flattened: the same score.
    assert tstr_f1(x_train.reshape(-1, 8, 8), y_train, x_test.reshape(-1, 8, 8), y_test) == real


def test_collapsed_training_sets_lose_the_missing_classes(digits_split):
    """One class only: the constant classifier, whose macro-F1 is 2q/(1 + q)/10 with q that
    class's share of the test set (precision q, recall 1). A class missing from training scores 0,
    so the macro average is at most 9/10."""
    x_train, x_test, y_train, y_test = digits_split
    keep = y_train == 3
    q = np.mean(y_test == 3)
    np.testing.assert_allclose(tstr_f1(x_train[keep], y_train[keep], x_test, y_test),
                               2 * q / (1 + q) / 10, rtol=1e-12)
    keep = y_train != 3
    assert tstr_f1(x_train[keep], y_train[keep], x_test, y_test) <= 0.9
