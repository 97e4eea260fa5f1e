"""Wasserstein distances between the generated law g_μ#λ and P* (docs/model.md §3).

Distances between the generated law g_μ#λ and P* are computed between two equal-size clouds with
equal weights: n latents mapped through g_μ, and n points of P*.

- K = 1: *exact* W_p between the two clouds by sorting, W_p^p = (1/n) Σ |a_(i) − b_(i)|^p. With L = 1
  the latents are λ's quantiles at (i + ½)/n and the data are P*'s, so the clouds are midpoint
  quantisations of the two laws and the result approaches W_p(g_μ#λ, P*) as n grows.
- K > 1: the *sliced* W_p over a fixed set of random unit directions (a lower bound of W_p,
  documented as ``estimator = "sliced"`` in a run's summary).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.metrics import sorting

Array = jax.Array


def wasserstein_sorted(a: Array, b: Array, p: int) -> Array:
    """W_p between two equal-size, equally weighted 1-D clouds.

    Args:
        a: ``[n]`` (any order).
        b: ``[n]`` sorted ascending.
        p: 1 or 2.

    Returns:
        A scalar.
    """
    d = jnp.abs(sorting.sort(a) - b)
    return jnp.mean(d ** p) ** (1.0 / p)


def sliced_wasserstein(a: Array, b_proj_sorted: Array, directions: Array, p: int) -> Array:
    """Sliced W_p: (mean over directions of W_p^p of the projections)^{1/p}.

    Args:
        a: ``[n, K]``.
        b_proj_sorted: the second cloud projected on ``directions`` and sorted, ``[P, n]``.
        directions: unit vectors ``[P, K]``.
        p: 1 or 2.
    """
    pa = sorting.sort(directions @ a.T, axis=1)
    return jnp.mean(jnp.abs(pa - b_proj_sorted) ** p) ** (1.0 / p)


def unit_directions(K: int, n: int, seed: int = 0) -> np.ndarray:
    """``[n, K]`` fixed random unit vectors (the sliced estimator's directions)."""
    v = np.random.default_rng(seed).standard_normal((n, K))
    return v / np.linalg.norm(v, axis=1, keepdims=True)
