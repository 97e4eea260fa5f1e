"""Distances between particle configurations (docs/model.md §3).

d_2² = W_2²(μ, μ') + W_2²(ν, ν') on configurations.

A configuration is a pair (generator particles ``[N, K, L+2]``, critic particles ``[M, K+2]``); a
generator particle is read as a point of R^{K(L+2)} (flattened), a critic particle as a point of
R^{K+2}. Three ways to compute W_2² between clouds, from cheapest to most general:

- :func:`pairing_d2`: the *labelled pairing* of two runs started from the same particles,
  (1/N) Σ|θ_i − θ̃_i|² + (1/M) Σ|ω_j − ω̃_j|². It is the cost of one admissible coupling, hence an
  upper bound of d_2².
- :func:`w2_assignment`: exact W_2² between two clouds of equal size and equal weights. Such a
  transport problem has a permutation among its optimal plans (Birkhoff–von Neumann: the extreme
  points of the doubly stochastic matrices are permutations), so it *is* an assignment problem, and
  ``scipy.optimize.linear_sum_assignment`` (shortest augmenting paths, Crouse 2016) solves it
  exactly. We pick it over the transport LP because it is exact, has ``n`` rather than ``n²``
  unknowns, is already a dependency, and is fastest precisely in the coupled study, where the
  labelled pairing is nearly optimal (about 0.06 s at n = 2048 against 0.4 s for unrelated clouds).
- :func:`w2_weighted`: exact W_2² between clouds of any sizes and weights, by the transport linear
  program solved with HiGHS (``scipy.optimize.linprog``): an N-particle run against a larger
  reference.

The N-scaling study (:mod:`meanfield.studies.nscaling`) uses the first two: the coupled part compares runs
from the same particles, the iid part runs from independent configurations of equal size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial.distance import cdist


def _flat(x, particle_ndim: int) -> np.ndarray:
    """Flatten the last ``particle_ndim`` axes of ``x`` into one: particles as points of R^d."""
    x = np.asarray(x, np.float64)
    return x.reshape(*x.shape[:x.ndim - particle_ndim], -1)


def pairing_w2(x, y) -> np.ndarray:
    """Labelled-pairing cost (1/n) Σ_i |x_i − y_i|², an upper bound of W_2²(x, y).

    Args:
        x: ``[..., n, d]``.
        y: ``[..., n, d]`` (same particle order).

    Returns:
        ``[...]``.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.mean(np.sum((x - y) ** 2, axis=-1), axis=-1)


def pairing_d2(gen_a, crit_a, gen_b, crit_b) -> np.ndarray:
    """Labelled-pairing bound of d_2² between configurations, over any leading batch axes.

    Args:
        gen_a, gen_b: generator particles ``[..., N, K, L+2]``.
        crit_a, crit_b: critic particles ``[..., M, K+2]``.

    Returns:
        ``[...]``: (1/N) Σ|θ_i − θ̃_i|² + (1/M) Σ|ω_j − ω̃_j|².
    """
    return (pairing_w2(_flat(gen_a, 2), _flat(gen_b, 2))
            + pairing_w2(np.asarray(crit_a), np.asarray(crit_b)))


def w2_assignment(x, y) -> float:
    """Exact W_2² between two equal-size, equally weighted clouds (optimal assignment).

    Args:
        x: ``[n, d]``.
        y: ``[n, d]``.

    Returns:
        min over permutations σ of (1/n) Σ_i |x_i − y_σ(i)|².
    """
    cost = cdist(np.asarray(x, np.float64), np.asarray(y, np.float64), "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def exact_d2_parts(gen_a, crit_a, gen_b, crit_b) -> tuple[np.ndarray, np.ndarray]:
    """The two terms of the exact d_2² between configurations of equal sizes, over batch axes.

    Args:
        gen_a, gen_b: ``[..., N, K, L+2]``.
        crit_a, crit_b: ``[..., M, K+2]``.

    Returns:
        ``(W_2²(μ, μ') [...], W_2²(ν, ν') [...])``, each by :func:`w2_assignment`.
    """
    ga, gb = np.broadcast_arrays(_flat(gen_a, 2), _flat(gen_b, 2))
    ca, cb = np.broadcast_arrays(np.asarray(crit_a, np.float64), np.asarray(crit_b, np.float64))
    batch = ga.shape[:-2]
    gen, crit = np.empty(batch), np.empty(batch)
    for idx in np.ndindex(*batch):
        gen[idx] = w2_assignment(ga[idx], gb[idx])
        crit[idx] = w2_assignment(ca[idx], cb[idx])
    return gen, crit


def exact_d2(gen_a, crit_a, gen_b, crit_b) -> np.ndarray:
    """Exact d_2² between configurations of equal sizes, over any leading batch axes.

    Args:
        gen_a, gen_b: ``[..., N, K, L+2]``.
        crit_a, crit_b: ``[..., M, K+2]``.

    Returns:
        ``[...]``: W_2²(μ, μ') + W_2²(ν, ν') (:func:`exact_d2_parts`).
    """
    gen, crit = exact_d2_parts(gen_a, crit_a, gen_b, crit_b)
    return gen + crit


def transport_plan(x, a, y, b) -> tuple[float, np.ndarray]:
    """Optimal transport for the squared Euclidean cost between weighted clouds (HiGHS LP).

    Args:
        x: ``[n, d]`` with weights ``a`` ``[n]`` (summing to 1).
        y: ``[m, d]`` with weights ``b`` ``[m]`` (summing to 1).

    Returns:
        (W_2², plan ``[n, m]``).

    Raises:
        RuntimeError: when the LP solver fails.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n, m = len(a), len(b)
    cost = cdist(x, y, "sqeuclidean")
    # Row sums = a, column sums = b; one column constraint is implied by the others (Σa = Σb) and
    # is dropped so the equality system has full rank.
    rows = sp.kron(sp.eye(n), np.ones((1, m)), format="csr")
    cols = sp.kron(np.ones((1, n)), sp.eye(m), format="csr")[:-1]
    b_eq = np.concatenate([a, b[:-1] * (a.sum() / b.sum())])
    res = linprog(cost.ravel(), A_eq=sp.vstack([rows, cols], format="csr"), b_eq=b_eq,
                  bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"transport LP failed: {res.message}")
    return float(res.fun), res.x.reshape(n, m)


def w2_weighted(x, a, y, b) -> float:
    """Exact W_2² between weighted clouds of any sizes (see :func:`transport_plan`)."""
    return transport_plan(x, a, y, b)[0]


def d2_unequal(gen, crit, gen_ref, crit_ref) -> float:
    """Exact d_2² between one configuration and a larger reference, uniform weights on each.

    Args:
        gen: ``[N, K, L+2]``; crit: ``[M, K+2]``.
        gen_ref: ``[N_ref, K, L+2]``; crit_ref: ``[M_ref, K+2]``.
    """
    def uniform(n):
        return np.full(n, 1.0 / n)

    g, gr = _flat(gen, 2), _flat(gen_ref, 2)
    c, cr = np.asarray(crit, np.float64), np.asarray(crit_ref, np.float64)
    return (w2_weighted(g, uniform(len(g)), gr, uniform(len(gr)))
            + w2_weighted(c, uniform(len(c)), cr, uniform(len(cr))))


__all__ = ["pairing_w2", "pairing_d2", "w2_assignment", "exact_d2", "exact_d2_parts",
           "transport_plan", "w2_weighted", "d2_unequal"]
