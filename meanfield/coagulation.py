"""Coagulation of critic particles at the clipping boundary (MODEL.md §4): pure observables.

Weight clipping projects the critic particles onto Q = [−c, c]^d (d = K + 2) after every step, so a
clamped coordinate is *exactly* ±c. Two particles at the same point get the same velocity and stay
together: merging is irreversible. The functions here measure that picture on one critic cloud
``[M, d]`` (jittable, vmappable: the WGAN records them on every run's time grid) or on a recorded
time series (host side, for ``summary.json``).

Distinct atoms are counted by *exact* comparison of rows (``tol = 0``). This is sound because the
update of a row depends on that row's values only through elementwise operations and reductions over
the batch, which XLA evaluates in the same order for every row: coincident particles stay
bit-identical (``tests/test_coagulation.py`` checks it for particles placed at distant indices, for
SGD and population runs). A tolerance is offered for clouds that come from elsewhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.observables import clamped_counts
from meanfield.readout import blocked

Array = jax.Array


def clamped_mass(crit: Array, clip: float | Array) -> Array:
    """Critic mass by number of clamped coordinates.

    Entry k is the fraction of particles with exactly k coordinates at ±c: k = 0 is the interior of
    Q, k = 1 the faces, k = 2 the (d−2)-dimensional edges, …, k = d the vertices.

    Args:
        crit: critic particles ``[M, d]``.
        clip: c.

    Returns:
        ``[d + 1]``, summing to 1.
    """
    d = crit.shape[-1]
    k = clamped_counts(crit, clip)
    return jnp.mean(k[:, None] == jnp.arange(d + 1), axis=0).astype(crit.dtype)


def vertex_mass(crit: Array, clip: float | Array) -> Array:
    """Fraction of critic particles at a vertex of Q (every coordinate clamped)."""
    return jnp.mean(clamped_counts(crit, clip) == crit.shape[-1]).astype(crit.dtype)


def distinct_atoms(crit: Array, tol: float | Array = 0.0) -> Array:
    """Number of distinct rows of ``crit``, by lexicographic sort and adjacent comparison.

    With ``tol = 0`` rows are compared exactly: the count of distinct points. With ``tol > 0`` the
    rows are first rounded to the grid ``tol·Z^d``, so the count is the number of occupied grid cells:
    a cluster whose spread is well below ``tol`` counts once unless it straddles a cell boundary
    (comparing unrounded neighbours within ``tol`` would not do: clusters that share a first
    coordinate interleave in lexicographic order). Clamped coordinates ±c are grid points when c is a
    multiple of ``tol``.

    Args:
        crit: ``[M, d]``.
        tol: grid step (0: exact).

    Returns:
        An integer scalar in ``[1, M]``.
    """
    tol = jnp.asarray(tol, crit.dtype)
    crit = jnp.where(tol > 0, jnp.round(crit / jnp.where(tol > 0, tol, 1)), crit)
    # lexsort sorts by the last key first: reverse so column 0 is the primary key.
    s = crit[jnp.lexsort(crit.T[::-1])]
    return 1 + jnp.sum(jnp.any(s[1:] != s[:-1], axis=1), dtype=jnp.int32)


def diameter(crit: Array, block: int = 128) -> Array:
    """Euclidean diameter of the support, max_{i,j} |ω_i − ω_j|.

    Differences are taken directly (not through the Gram matrix), so a collapsed cloud has
    diameter exactly 0. The work is O(M² d), the memory O(block·M·d): rows go ``block`` at a time.
    """
    farthest = blocked(lambda rows: jnp.max(jnp.sum((rows[:, None, :] - crit[None]) ** 2, -1), 1),
                       crit, block)
    return jnp.sqrt(jnp.max(farthest))


#: Tolerance of ``distinct_atoms_coarse``, in units of c.
COARSE_TOL = 1e-3


def observables(crit: Array, clip: float | Array) -> dict[str, Array]:
    """All coagulation observables of one critic cloud (the keys the WGAN records).

    ``distinct_atoms`` is exact; ``distinct_atoms_coarse`` counts cells of the grid
    ``COARSE_TOL·c``: a slow coordinate (γ moves at O(c³) for small c) can keep atoms apart by
    10⁻⁵c for a long time, which the exact count reports and the coarse count does not.
    """
    return {"clamped_mass": clamped_mass(crit, clip), "vertex_mass": vertex_mass(crit, clip),
            "distinct_atoms": distinct_atoms(crit),
            "distinct_atoms_coarse": distinct_atoms(crit, COARSE_TOL * clip),
            "critic_diameter": diameter(crit)}


def collapse_time(t: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """First recorded time at which a single critic atom remains, per replica.

    Collapse is irreversible (a single atom stays one), so the first time with one atom is t_0 up
    to the record spacing: the true collapse time lies in ``(t[i-1], t[i]]``.

    Args:
        t: recorded times ``[n]``.
        atoms: distinct atom counts ``[..., n]``.

    Returns:
        ``[...]`` float array, NaN where no collapse happened by ``t[-1]``.
    """
    atoms = np.asarray(atoms)
    hit = atoms <= 1
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), np.asarray(t, float)[first], np.nan)


def summary_fields(t: np.ndarray, observables: dict[str, np.ndarray]) -> dict:
    """The coagulation entries of ``summary.json``, from a run's recorded observables.

    Args:
        t: recorded times ``[n]``.
        observables: name -> ``[R, n, ...]``; needs ``distinct_atoms`` and ``vertex_mass``.

    Returns:
        ``collapse_time``: the time by which every replica has collapsed to one atom (the latest
        replica's t_0), None if some replica has not collapsed by T; ``collapse_time_replicas``
        (None where no collapse); ``final_distinct_atoms`` and ``final_vertex_mass`` (replica
        means) with their ``_replicas`` lists. Empty when the run records no critic atoms.
    """
    if "distinct_atoms" not in observables:
        return {}
    t0 = collapse_time(t, observables["distinct_atoms"])
    atoms = np.asarray(observables["distinct_atoms"])[:, -1]
    vertex = np.asarray(observables["vertex_mass"], float)[:, -1]

    def none_if_nan(x):
        return None if np.isnan(x) else float(x)

    return {
        "collapse_time": None if np.isnan(t0).any() else float(t0.max()),
        "collapse_time_replicas": [none_if_nan(x) for x in t0],
        "final_distinct_atoms": float(atoms.mean()),
        "final_distinct_atoms_replicas": [int(a) for a in atoms],
        "final_vertex_mass": float(vertex.mean()),
        "final_vertex_mass_replicas": [float(v) for v in vertex],
    }
