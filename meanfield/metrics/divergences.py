"""The Jensen–Shannon divergence between densities on a 1-D grid, and its estimate from points.

JSD(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, lies in [0, ln 2]. Between tabulated
densities it is a midpoint sum over the cells (:func:`jsd`). Between a cloud of points and a known
density (:func:`jsd_kde`) the cloud's density is a Gaussian kernel density estimate with
Silverman's bandwidth b = 0.9 min(σ̂, IQR/1.34) n^(−1/5) (:func:`silverman`), evaluated at the cell
centres.

**Bias.** The KDE is the cloud's law convolved with N(0, b²): its variance is larger by b² and the
estimate is biased by O(b²) where the density curves; a cloud of n points also leaves a sampling
error of order (n b)^(−1/2) in the density. With quantile latents (the observables of a shallow
generator with L = 1) the sampling part is tiny and the smoothing dominates. Mass outside the grid
is lost from the sum. A study that compares methods evaluates the same estimator on a reference
cloud (e.g. quantiles of the exact density) to show the estimator's own share.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _xlogy_ratio(p: Array, m: Array) -> Array:
    # p ln(p/m) with 0 ln 0 = 0; m ≥ p/2 > 0 wherever p > 0.
    safe_p = jnp.where(p > 0, p, 1.0)
    safe_m = jnp.where(p > 0, m, 1.0)
    return jnp.where(p > 0, p * jnp.log(safe_p / safe_m), 0.0)


def jsd(p: Array, q: Array, h) -> Array:
    """JSD between two densities tabulated at the centres of cells of width ``h``.

    Args:
        p, q: non-negative densities ``[G]`` (not renormalised: mass off the grid is lost).
        h: the cell width.

    Returns:
        A scalar in [0, ln 2] when both integrate to 1 on the grid.
    """
    m = 0.5 * (p + q)
    return 0.5 * h * jnp.sum(_xlogy_ratio(p, m) + _xlogy_ratio(q, m))


def silverman(points: Array) -> Array:
    """Silverman's rule of thumb b = 0.9 min(σ̂, IQR/1.34) n^(−1/5) for 1-D ``points`` ``[n]``."""
    n = points.shape[0]
    q75, q25 = jnp.percentile(points, jnp.asarray([75.0, 25.0], points.dtype))
    spread = jnp.minimum(jnp.std(points, ddof=1), (q75 - q25) / 1.34)
    return 0.9 * spread * n ** (-0.2)


def kde_log_density(points: Array, y: Array, bandwidth) -> Array:
    """ln of the Gaussian KDE (1/n) Σⱼ N(y; pⱼ, b²) of ``points`` ``[n]`` at ``y`` ``[G]``.

    The same density as ``jax.scipy.stats.gaussian_kde`` with ``bw_method = b/σ̂`` (tested), written
    out so that a cloud whose points coincide (σ̂ = 0, a collapsed generator) still has a density.
    """
    z = (y[:, None] - points[None, :]) / bandwidth
    return (jax.nn.logsumexp(-0.5 * z ** 2, axis=1) - jnp.log(points.shape[0])
            - 0.5 * jnp.log(2 * jnp.pi * bandwidth ** 2))


def kde_density(points: Array, y: Array, bandwidth) -> Array:
    """The Gaussian KDE of ``points`` ``[n]`` with absolute bandwidth b, at ``y`` ``[G]``."""
    return jnp.exp(kde_log_density(points, y, bandwidth))


def jsd_kde(points: Array, grid: Array, density: Array, bandwidth=None) -> Array:
    """JSD between the KDE of ``points`` ``[n]`` and a density tabulated on ``grid`` ``[G]``
    (equally spaced cell centres), with Silverman's bandwidth unless ``bandwidth`` is given; never
    narrower than a cell, which the grid could not resolve (and a collapsed cloud needs)."""
    h = grid[1] - grid[0]
    b = silverman(points) if bandwidth is None else bandwidth
    return jsd(kde_density(points, grid, jnp.maximum(b, h)), density, h)
