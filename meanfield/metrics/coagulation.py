"""Coagulation of critic particles at the clipping boundary (docs/model.md §4): pure observables.

Weight clipping projects the critic particles onto Q = [−c, c]^d (d = K + 2) after every step, so a
clamped coordinate is *exactly* ±c. Two particles at the same point get the same velocity and stay
together: in exact arithmetic merging is irreversible. The functions here measure that picture on
one critic cloud ``[M, d]`` (jittable, vmappable: the WGAN records them on every run's time grid) or
on a recorded time series (host side, for ``summary.json``).

**Atoms are defined up to a tolerance, not by bit-identity.** XLA does not promise that two rows of
an array get bit-identical arithmetic: rows that fall in the body of a vectorised loop and rows in
its scalar remainder, or the same rows under SSE, AVX or AVX-512 code, can round differently (fused
multiply-adds, reduction order). Coincident particles therefore drift apart by rounding noise. It
was measured (``tests/test_coagulation.py``'s single-atom and coincident-pair runs, M = 37, with
XLA restricted to SSE4.2, to AVX, and by default on an AVX2 host; float32 and float64) in units of
eps·c, eps the dtype's machine epsilon, per coordinate:

- at most 0.83 in the tests' 200 steps (c = 0.3, 0.4), 2.5 in 2000 steps at c = 0.3, and 5 in
  8000 steps at c = 0.1, where the atom sits on a face or an edge of Q, in both dtypes;
- where the atom moves through the interior of Q in an *expanding* region of the critic flow
  (c = 0.3 or more), this noise floor of about 4 eps·c is amplified exponentially (e-folding time
  about 290 steps at c = 0.3; 10³–10⁷ eps·c after 8000 steps). That is a real instability of the
  atom: any perturbation splits it, and when it does depends on the machine. No tolerance removes
  it; a tolerance κ·eps·c only delays the reported split by the time to grow by κ.

So an atom is a set of particles that agree to within ``tol`` = :data:`ATOM_KAPPA`·eps·c
(:func:`atom_tol`): κ = 64 is 13× the largest drift measured where it does not grow (5 eps·c) and
77× the drift seen within the tests' horizon, and still resolves atoms 7.6·10⁻⁶ c apart in float32
(1.4·10⁻¹⁴ c in float64). Atoms closer than that are one atom for this count: in float32 they are
not reliably told apart from rounding anyway (the coagulation study has a pair 22 eps·c apart in
float32 that float64 places 3.5·10⁻⁶ c apart).

**How atoms are counted** (:func:`distinct_atoms`, :func:`atom_labels`): the atoms are the cells
of the coarsest partition of the particles in which every cell is connected along every coordinate
by gaps ≤ ``tol`` between its own members. It is computed by refinement: starting from one cell,
coordinates are taken in turn; the particles are sorted by (cell, value) and a cell is split
wherever consecutive values are more than ``tol`` apart; this stops when no coordinate splits any
cell. Cell ids are integers, so the bookkeeping is exact; the values enter only through
subtractions and comparisons, which are correctly rounded. Properties:

- two particles within ``tol`` in every coordinate are never separated (within a cell, the values
  sorted between theirs close every gap), so rounding noise below ``tol`` never splits an atom.
  Rounding to a grid of step ``tol`` (the previous coarse count) does not have this property: a
  cluster of any small spread that straddles a cell boundary counts twice;
- a diffuse cloud still counts about M atoms: a chain of close values along one coordinate is cut
  by the others;
- ``tol = 0`` counts the exactly distinct rows;
- the result does not depend on the order of the coordinates (each splitting step is monotone, so
  the loop reaches the coarsest stable partition from any order);
- a particle chains two distinct atoms only if it is chained to both, through members of their
  cell, in *every* coordinate. Splitting every coordinate once, independently, and counting distinct
  tuples of the d 1-D group ids (one pass) is cheaper but weaker: there any particle passing between
  two atoms along one coordinate merges them, wherever it is in the others. That was seen in the
  population test (``tests/test_coagulation.py``, float32): two atoms 67 eps·c apart along one
  coordinate and equal in the others were merged for 25 steps by a particle 0.1 c away in
  another coordinate, so the one-pass count went down and then up;
- one atom means the cloud is chained by gaps ≤ ``tol`` in every coordinate, so its spread is at
  most (M − 1)·tol per coordinate (``critic_diameter`` gives the actual spread); two distinct atoms
  less than about 2·tol apart can still be chained for a while by a third one passing between them;
- cost: one sort of M (int32, float, int32) triples and a gather of ``[d, M]`` per coordinate
  visited: 1 for a diffuse cloud, d for one atom, up to about 2d − 1 for clusters. Against the
  previous exact count (one sort of M rows on d keys), measured vmapped on CPU: 0.8–1.3× for
  diffuse clouds of 128, 1024 and 4096 particles, 1.8× for 128 particles half in one atom, 3× for
  37 particles in one atom (d = 4: four sorts of tiny arrays); all coagulation observables
  together, with the O(M²d) ``critic_diameter``, 1.0–1.6×.

The coarse count (:data:`COARSE_TOL`·c) uses the same algorithm. Clamped coordinates are counted by
:func:`clamped_counts` with a relative tolerance of a few eps (see there): the
projection itself is exact on every machine.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.metrics import sorting
from meanfield.networks.readout import blocked

Array = jax.Array


#: Relative tolerance of :func:`clamped_counts`, in units of eps of the particles' dtype.
CLAMP_KAPPA = 4


def clamped_counts(crit: Array, clip: float | Array) -> Array:
    """Number of coordinates of each critic particle on ∂Q, ``[M]``.

    A coordinate counts as clamped when |x| >= c·(1 − CLAMP_KAPPA·eps), eps that of ``crit``'s
    dtype. The projection sets clamped coordinates to exactly ±c rounded to that dtype, on every
    machine (a clip, no arithmetic), but the comparison may happen in a wider type: c as a float64
    array under x64 with float32 particles, or float32 particles read back as float64. Rounding c to
    float32 can land below it by up to eps/2 relative (float32(0.7) = 0.69999999), and an exact
    comparison would then miss every clamped coordinate. 4 eps is 8× that worst case; an interior
    coordinate within 4 eps·c of the face is numerically on it.

    Args:
        crit: critic particles ``[M, d]`` (floating point).
        clip: c (a scalar, possibly traced).

    Returns:
        ``[M]`` integer counts in ``[0, d]``.
    """
    eps = jnp.finfo(crit.dtype).eps
    return jnp.sum(jnp.abs(crit) >= clip * (1 - CLAMP_KAPPA * eps), axis=-1)


def boundary_mass(crit: Array, clip: float) -> Array:
    """Fraction of critic particles on ∂Q (at least one clamped coordinate)."""
    return jnp.mean(clamped_counts(crit, clip) > 0)




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
    return jnp.mean(k[:, None] == jnp.arange(d + 1)[None], axis=0).astype(crit.dtype)


def vertex_mass(crit: Array, clip: float | Array) -> Array:
    """Fraction of critic particles at a vertex of Q (every coordinate clamped)."""
    return jnp.mean(clamped_counts(crit, clip) == crit.shape[-1]).astype(crit.dtype)


#: Tolerance of the atom count, in units of eps(dtype)·c (module docstring: why 64).
ATOM_KAPPA = 64


def atom_tol(clip: float | Array, dtype) -> Array:
    """The atom tolerance ``ATOM_KAPPA·eps(dtype)·c``, a scalar of ``dtype``.

    Args:
        clip: c (a scalar, possibly traced).
        dtype: the float dtype the critic particles are computed in.

    Returns:
        A scalar of ``dtype``: 7.6·10⁻⁶ c in float32, 1.4·10⁻¹⁴ c in float64.
    """
    dtype = jnp.dtype(dtype)
    return (ATOM_KAPPA * jnp.finfo(dtype).eps * jnp.asarray(clip, dtype)).astype(dtype)


def _cells(crit: Array, tol: Array) -> tuple[Array, Array]:
    """The atoms as cells of particles (module docstring): ids in sorted order and the order.

    Coordinates are taken in turn, j = 0, 1, …, d − 1, 0, 1, …: the particles are sorted by (cell,
    crit[:, j]) and a new cell starts where the cell changes or the gap to the previous value
    exceeds ``tol``. Splitting by coordinate j twice in a row splits nothing more (a cell it leaves
    is chained along j by its own members), so after a split only the other d − 1 coordinates need
    checking: the loop stops once every coordinate is known not to split the current cells, or
    when every particle is its own cell. That takes 1 sort (a diffuse cloud, split by the first
    coordinate), d (one atom) or up to about 2d − 1 (clusters).

    Args:
        crit: ``[M, d]``.
        tol: a scalar of ``crit``'s dtype, >= 0.

    Returns:
        ``(cell, order)``: ``order [M]`` int32 is a permutation of the particles and ``cell [M]``
        int32 the cell of particle ``order[i]``, non-decreasing from 0 (so ``cell[-1] + 1`` cells).
    """
    m, d = crit.shape
    iota = jnp.arange(m, dtype=jnp.int32)

    def step(carry):
        k, stable, cell, x, order = carry
        cell, kj, perm = jax.lax.sort((cell, sorting.key(x[k % d]), iota), num_keys=2)
        xj = sorting.from_key(kj, x.dtype)
        # A subtraction and a comparison, both correctly rounded: the cells are a function of the
        # values alone, the same under every instruction set.
        new = (cell[1:] != cell[:-1]) | (xj[1:] - xj[:-1] > tol)
        refined = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(new, dtype=jnp.int32)])
        # Cells only ever split, so the last id tells whether this coordinate split one; either
        # way coordinate k % d cannot split the new cells.
        stable = jnp.where(refined[-1] > cell[-1], 1, stable + 1)
        return k + 1, stable, refined, x[:, perm], order[perm]

    def going(carry):
        _, stable, cell, _, _ = carry
        return (stable < d) & (cell[-1] < m - 1)

    carry = (jnp.int32(0), jnp.int32(0), jnp.zeros((m,), jnp.int32), crit.T, iota)
    _, _, cell, _, order = jax.lax.while_loop(going, step, carry)
    return cell, order


def atom_labels(crit: Array, tol: float | Array) -> Array:
    """The atom of every particle (module docstring).

    Args:
        crit: ``[M, d]``.
        tol: largest gap, per coordinate, that does not separate particles (>= 0; 0: exact).

    Returns:
        ``[M]`` int32 labels in ``[0, A)``, A the number of atoms, in particle order.
    """
    cell, order = _cells(crit, jnp.asarray(tol, crit.dtype))
    return jnp.zeros_like(cell).at[order].set(cell, unique_indices=True)


def distinct_atoms(crit: Array, tol: float | Array) -> Array:
    """Number of atoms (module docstring).

    Two particles within ``tol`` of each other in every coordinate are always in the same atom;
    with ``tol = 0`` the count is that of exactly distinct rows. The recorded observables use
    :func:`atom_tol` and ``COARSE_TOL·c``.

    Args:
        crit: ``[M, d]``.
        tol: largest gap, per coordinate, that does not separate particles (>= 0).

    Returns:
        An int32 scalar in ``[1, M]``.
    """
    cell, _ = _cells(crit, jnp.asarray(tol, crit.dtype))
    return cell[-1] + 1


def diameter(crit: Array, block: int = 128) -> Array:
    """Euclidean diameter of the support, max_{i,j} |ω_i − ω_j|.

    Differences are taken directly (not through the Gram matrix), so identical rows are at distance
    exactly 0, and rows that drifted apart by rounding (module docstring) at a few eps·c. The work
    is O(M² d), the memory O(block·M·d): rows go ``block`` at a time.
    """
    farthest = blocked(lambda rows: jnp.max(jnp.sum((rows[:, None, :] - crit[None]) ** 2, -1), 1),
                       crit, block)
    return jnp.sqrt(jnp.max(farthest))


#: Tolerance of ``distinct_atoms_coarse``, in units of c.
COARSE_TOL = 1e-3


def observables(crit: Array, clip: float | Array) -> dict[str, Array]:
    """All coagulation observables of one critic cloud (the keys the WGAN records).

    ``distinct_atoms`` counts atoms at :func:`atom_tol` (rounding noise); ``distinct_atoms_coarse``
    at ``COARSE_TOL·c``: a slow coordinate (γ moves at O(c³) for small c) can keep atoms apart by
    10⁻⁵c for a long time, which the fine count reports and the coarse count does not.

    Args:
        crit: critic particles ``[M, d]``.
        clip: c (a scalar, possibly traced).

    Returns:
        ``clamped_mass [d + 1]``, ``vertex_mass``, ``distinct_atoms``, ``distinct_atoms_coarse``
        (int32) and ``critic_diameter`` (scalars).
    """
    return {"clamped_mass": clamped_mass(crit, clip), "vertex_mass": vertex_mass(crit, clip),
            "distinct_atoms": distinct_atoms(crit, atom_tol(clip, crit.dtype)),
            "distinct_atoms_coarse": distinct_atoms(crit, COARSE_TOL * jnp.asarray(clip,
                                                                                   crit.dtype)),
            "critic_diameter": diameter(crit)}


def collapse_time(t: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """First recorded time at which a single critic atom remains, per replica.

    t_0 is the first time the (tolerant) atom count reaches 1, up to the record spacing: the true
    collapse time lies in ``(t[i-1], t[i]]``. In exact arithmetic a single atom stays one; with the
    count's tolerance it stays one as long as rounding noise is not amplified past ``tol`` (module
    docstring), so a later count above 1 is a real instability of the atom, not a failed collapse:
    t_0 is the first hit either way, and does not depend on bit-identical arithmetic.

    Args:
        t: recorded times ``[n]``.
        atoms: atom counts ``[..., n]`` (``distinct_atoms`` or ``distinct_atoms_coarse``).

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
