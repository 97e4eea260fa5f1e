"""Coagulation at the clipping boundary (MODEL.md §4): the observables and the four properties.

Properties, each for SGD and for the population dynamics where it applies, in float32 and float64:
1. two critic particles that coincide stay within the atom tolerance (``coagulation.atom_tol``) at
   every later time: rounding may differ between rows (vector lanes) and between instruction sets,
   so bit-identity is not promised, but the drift stays at rounding level;
2. in the population dynamics the number of atoms (fine and coarse counts) never increases
   (checked at every step);
3. a critic that starts as one atom stays one atom (diameter within the atom tolerance);
4. particles at a vertex stay there, exactly, at every step where the velocity there points outward
   in every coordinate (the projection is a clip: exact on every machine).

``.ci/run`` runs this module again with ``XLA_FLAGS=--xla_cpu_max_isa=SSE4_2``
(``tests/test_isa.py`` shows that the flag narrows the vectors), so the properties are checked under
two vector widths; ``--xla_cpu_max_isa=AVX`` gives a third.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield.metrics import coagulation as co
from meanfield.measures import laws
from meanfield.metrics import coagulation as obs
from meanfield.core.driver import make_schedule, replica_keys, simulate
from meanfield.networks.initial import BlockLaw
from meanfield.systems.wgan.payoff import velocities
from meanfield.networks.readout import activation
from meanfield.systems.wgan.system import WGANInit, make_wgan

DTYPES = ["float32", "float64"]


def precision(dtype: str):
    """JAX's x64 mode for float64 (arrays made inside get ``dtype``), nothing for float32."""
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


# -- pure observables --------------------------------------------------------------------------
def test_clamped_mass_and_vertex_mass_closed_form():
    c = 0.5
    crit = jnp.array([[0.1, 0.2, 0.3],      # interior
                      [0.5, 0.2, 0.3],      # face
                      [-0.5, 0.5, 0.0],     # edge
                      [0.5, -0.5, 0.5],     # vertex
                      [0.5, -0.5, 0.5]])    # vertex
    np.testing.assert_allclose(co.clamped_mass(crit, c), [0.2, 0.2, 0.2, 0.4], rtol=1e-6)
    assert float(co.vertex_mass(crit, c)) == pytest.approx(0.4)
    assert int(co.distinct_atoms(crit, co.atom_tol(c, crit.dtype))) == 4
    brute = max(np.linalg.norm(np.asarray(a) - np.asarray(b)) for a in crit for b in crit)
    assert float(co.diameter(crit)) == pytest.approx(brute, rel=1e-6)


def test_clamped_counts_when_c_is_wider_than_the_particles(x64):
    # float32 particles projected at float32(0.7) = 0.69999999 < 0.7, compared with c in float64:
    # an exact comparison counts no clamped coordinate at all.
    c = 0.7
    crit = jnp.clip(jnp.array([[3.0, -3.0, 0.1], [0.2, 0.3, -3.0]], jnp.float32), -c, c)
    for clip in (c, jnp.asarray(c, jnp.float64), jnp.asarray(c, jnp.float32)):
        np.testing.assert_array_equal(obs.clamped_counts(crit, clip), [2, 1])
    # Interior coordinates a relative 10 eps from the face are not clamped.
    inside = jnp.array([[c * (1 - 10 * 2.0 ** -23), 0.0, 0.0]], jnp.float32)
    np.testing.assert_array_equal(obs.clamped_counts(inside, jnp.asarray(c, jnp.float64)), [0])


def test_distinct_atoms_matches_numpy_unique_at_zero_tolerance():
    rng = np.random.default_rng(0)
    pool = rng.integers(-2, 3, size=(7, 4)).astype(np.float32)  # few values: many ties per column
    crit = pool[rng.integers(0, 7, size=200)]
    assert int(co.distinct_atoms(jnp.asarray(crit), 0.0)) == len(np.unique(crit, axis=0))
    one = np.repeat(crit[:1], 50, axis=0)
    assert int(co.distinct_atoms(jnp.asarray(one), 0.0)) == 1
    assert float(co.diameter(jnp.asarray(one))) == 0.0


def test_distinct_atoms_tolerance():
    base = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
    noisy = np.concatenate([base, base + 1e-6, base - 2e-6])
    assert int(co.distinct_atoms(jnp.asarray(noisy), 0.0)) == 9
    # Three clusters, although in lexicographic order the (1, 0) and (1, 1) clusters interleave.
    assert int(co.distinct_atoms(jnp.asarray(noisy), 1e-4)) == 3
    assert int(co.distinct_atoms(jnp.asarray(noisy), 3.0)) == 1   # every gap is within 3
    # The gap decides: within tol joins, beyond tol separates.
    pair = lambda gap: jnp.array([[0.0, 0.5], [gap, 0.5]], jnp.float32)  # noqa: E731
    assert int(co.distinct_atoms(pair(0.9e-3), 1e-3)) == 1
    assert int(co.distinct_atoms(pair(1.1e-3), 1e-3)) == 2
    # Single linkage chains: three points 0.9 tol apart are one atom of spread 1.8 tol.
    chain = jnp.array([[0.0, 0.0], [0.9e-3, 0.0], [1.8e-3, 0.0]], jnp.float32)
    assert int(co.distinct_atoms(chain, 1e-3)) == 1


def _stable_partition(x: np.ndarray, tol: float) -> np.ndarray:
    """Reference for ``atom_labels``: split cells by 1-D linkage along each coordinate in turn,
    full passes over the coordinates until a pass splits nothing. ``[M, d]`` -> labels ``[M]``."""
    lab = np.zeros(len(x), int)
    while True:
        before = len(np.unique(lab))
        for j in range(x.shape[1]):
            new, nxt = np.empty_like(lab), 0
            for cell in np.unique(lab):
                idx = np.flatnonzero(lab == cell)
                idx = idx[np.argsort(x[idx, j], kind="stable")]
                gid = np.concatenate([[0], np.cumsum(np.diff(x[idx, j]) > tol)])
                new[idx], nxt = gid + nxt, nxt + gid[-1] + 1
            lab = new
        if len(np.unique(lab)) == before:
            return lab


def test_atom_labels_match_the_reference_partition():
    # Random clustered clouds, spreads and tolerances from 0 to 0.1: the same partition as the
    # plain fixed-point iteration (the early stop after a split skips no needed coordinate).
    rng = np.random.default_rng(5)
    both = jax.jit(jax.vmap(lambda x, tol: (co.atom_labels(x, tol), co.distinct_atoms(x, tol))))
    for m, d in [(1, 3), (2, 2), (31, 1), (31, 2), (31, 3), (31, 4)]:
        clouds, tols = [], []
        for _ in range(16):
            k = rng.integers(1, 8)
            centres = rng.uniform(-1, 1, (k, d)) * rng.choice([0.01, 0.1, 1.0])
            spread = rng.choice([0.0, 1e-4, 1e-3, 1e-2])
            clouds.append(centres[rng.integers(0, k, m)] + spread * rng.normal(size=(m, d)))
            tols.append(rng.choice([0.0, 1e-4, 1e-3, 1e-2, 0.1]))
        clouds, tols = np.asarray(clouds, np.float32), np.asarray(tols, np.float32)
        labels, counts = map(np.asarray, both(jnp.asarray(clouds), jnp.asarray(tols)))
        for x, tol, got, n in zip(clouds, tols, labels, counts):
            want = _stable_partition(x, tol)
            np.testing.assert_array_equal(got[:, None] == got[None], want[:, None] == want[None])
            assert n == len(np.unique(want))


def test_noise_below_tolerance_never_splits_an_atom_even_across_grid_cells():
    # Clusters whose members are within tol of each other in every coordinate, centred on the
    # boundaries of the grid tol·(Z + ½) where rounding to tol·Z would cut each of them in two.
    rng = np.random.default_rng(1)
    tol, d, per = 1e-3, 3, 20
    centres = (rng.integers(-100, 100, size=(6, d)) * 10 + 0.5) * tol   # ≥ 10 tol apart
    crit = np.concatenate([ctr + rng.uniform(-0.45 * tol, 0.45 * tol, (per, d)) for ctr in centres])
    crit = jnp.asarray(crit[rng.permutation(len(crit))], jnp.float32)
    assert int(co.distinct_atoms(crit, tol)) == 6
    rounded = np.unique(np.round(np.asarray(crit) / tol), axis=0)
    assert len(rounded) > 6, "the grid count must split the straddling clusters"


def test_diffuse_cloud_counts_every_particle():
    # M·tol/(2c) ≪ 1: chains along one coordinate are short and broken by the other coordinates.
    rng = np.random.default_rng(2)
    c, M = 0.1, 128
    crit = jnp.asarray(rng.uniform(-c, c, (M, 3)), jnp.float32)
    assert int(co.distinct_atoms(crit, co.atom_tol(c, crit.dtype))) == M
    # Coarse: P(gap ≤ 1e-3 c) ≈ 6% per coordinate; a pair must be chained in all 3 to merge.
    assert int(co.distinct_atoms(crit, co.COARSE_TOL * c)) >= M - 2


def test_observables_jit_and_vmap_over_clouds_and_clips():
    rng = np.random.default_rng(3)
    clips = jnp.asarray([0.1, 0.3, 1.0], jnp.float32)
    atom = np.array([0.05, -0.02, 0.01], np.float32)
    # Cloud r: one atom (rows equal to rounding noise) and two distinct particles, at clip r.
    clouds = []
    for c in np.asarray(clips):
        noise = rng.integers(-3, 4, (5, 3)) * np.spacing(np.float32(c))   # a few ulps of c
        clouds.append(np.concatenate([c * atom + noise, c * np.array([[1, 1, 1], [-1, 0.5, 0]])]))
    clouds = jnp.asarray(np.stack(clouds), jnp.float32)                      # [3, 7, 3]
    out = jax.jit(jax.vmap(co.observables))(clouds, clips)
    np.testing.assert_array_equal(out["distinct_atoms"], [3, 3, 3])
    np.testing.assert_array_equal(out["distinct_atoms_coarse"], [3, 3, 3])
    for r in range(3):
        single = co.observables(clouds[r], clips[r])
        np.testing.assert_array_equal(out["distinct_atoms"][r], single["distinct_atoms"])
        # Float results of a different program shape may round differently: a few eps.
        for k in ("clamped_mass", "vertex_mass", "critic_diameter"):
            np.testing.assert_allclose(out[k][r], single[k], rtol=1e-6, err_msg=k)
    assert out["distinct_atoms"].dtype == jnp.int32
    assert out["clamped_mass"].shape == (3, 4)
    np.testing.assert_allclose(out["vertex_mass"], 1 / 7, rtol=1e-6)


def test_collapse_time_and_summary_fields():
    t = np.linspace(0.0, 4.0, 5)
    atoms = np.array([[5, 3, 1, 1, 1], [5, 4, 4, 2, 2]])
    np.testing.assert_array_equal(co.collapse_time(t, atoms), [2.0, np.nan])
    obs = {"distinct_atoms": atoms, "vertex_mass": np.array([[0, 0, 1, 1, 1.0], [0, 0, 0, .5, .5]])}
    s = co.summary_fields(t, obs)
    assert s["collapse_time"] is None
    assert s["collapse_time_replicas"] == [2.0, None]
    assert s["final_distinct_atoms"] == 1.5
    assert s["final_vertex_mass"] == 0.75
    s = co.summary_fields(t, {k: v[:1] for k, v in obs.items()})
    assert s["collapse_time"] == 2.0
    assert co.summary_fields(t, {}) == {}


# -- dynamics ----------------------------------------------------------------------------------
def _wgan(population: bool, clip: float, M: int = 37, K: int = 2, dtype: str = "float32", **kw):
    # K = 2 and an odd M so that rows fall in different blocks of XLA's matmul kernels and in the
    # scalar remainders of vectorised loops, where rounding can differ from the vector body.
    return make_wgan(K=K, L=1, N=16, M=M, latent=laws.StandardGaussian(1),
                     target=laws.gaussian_mixture([0.5, 0.5], [[1.0, 0.0], [2.0, 1.0]],
                                                  [0.3, 0.3]),
                     lr=1.0, n_critic=3, clip=clip, batch_size=4, population=population,
                     quadrature_nodes=6, n_eval=64, n_directions=4, dtype=dtype, **kw)


def _run(system, state, steps: int, every: int = 1):
    sched = make_schedule(system.dt, steps * system.dt, steps // every + 1,
                          tuple(np.arange(0, steps + 1, every * 4) * system.dt))
    ik, nk = replica_keys(3, 1)
    state = jax.tree.map(lambda x: x[None], state)
    return simulate(system, sched, ik, nk, initial_state=state)


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
@pytest.mark.parametrize("population", [False, True])
def test_coincident_particles_stay_coincident(population, dtype):
    c = 0.4
    with precision(dtype):
        system = _wgan(population, clip=c, dtype=dtype)
        state = system.init(jax.random.key(0))
        pairs = [(0, 36), (5, 20), (11, 12)]
        crit = state.crit
        for i, j in pairs:
            crit = crit.at[j].set(crit[i])
        # A pair in the interior of Q too, so interior coordinates (not only ±c) are compared.
        inner = jnp.array([0.1, -0.2, 0.05, 0.3], crit.dtype)
        crit = crit.at[1].set(inner).at[30].set(inner)
        pairs.append((1, 30))
        state = system.game.init(state.gen, crit)
        traj = _run(system, state, 160)
        tol = float(co.atom_tol(c, crit.dtype))
    snaps = np.asarray(traj.snapshots["critic"][0])    # [S, M, K+2]
    assert snaps.dtype == np.dtype(dtype)
    final = np.asarray(traj.final_state.crit[0])
    moved = np.abs(snaps[-1] - snaps[0]).max()
    assert moved > 1e-3, "the critic must move for the test to mean anything"
    # Measured drift of such pairs: at most 0.63 eps·c in 160 steps (float64, population; 0 in
    # float32 on an AVX2 host), against the atom tolerance of 64 eps·c (coagulation docstring).
    for i, j in pairs:
        assert np.abs(snaps[:, i] - snaps[:, j]).max() <= tol, (i, j)
        assert np.abs(final[i] - final[j]).max() <= tol, (i, j)
    atoms = traj.observables["distinct_atoms"][0]
    assert np.all(atoms <= system.M - len(pairs))


@pytest.mark.parametrize("dtype", DTYPES)
def test_population_distinct_atoms_never_increase(dtype):
    with precision(dtype):
        system = _wgan(True, clip=0.05, M=64, dtype=dtype)
        traj = _run(system, system.init(jax.random.key(1)), 400)   # recorded at every step
    for name in ("distinct_atoms", "distinct_atoms_coarse"):
        atoms = traj.observables[name][0]
        assert atoms[-1] < atoms[0], "merging must happen for the test to mean anything"
        assert np.all(np.diff(atoms) <= 0), name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("population", [False, True])
def test_single_atom_stays_single(population, dtype):
    c = 0.3
    with precision(dtype):
        system = _wgan(population, clip=c, dtype=dtype)
        state = system.init(jax.random.key(2))
        crit = jnp.broadcast_to(jnp.array([0.1, 0.3, -0.05, 0.2], state.crit.dtype),
                                state.crit.shape)
        traj = _run(system, system.game.init(state.gen, crit), 200)
        tol = float(co.atom_tol(c, crit.dtype))
        start = np.asarray(crit[0])
    o = traj.observables
    np.testing.assert_array_equal(o["distinct_atoms"][0], 1)
    np.testing.assert_array_equal(o["distinct_atoms_coarse"][0], 1)
    # Measured spread of the atom: at most 0.83 eps·c per coordinate in these 200 steps (float64,
    # population, AVX2 host; 0.21 eps·c under SSE4.2 and AVX), so its diameter over the d = 4
    # coordinates is at most about 1.7 eps·c, well within the atom tolerance.
    assert np.all(o["critic_diameter"][0] <= tol)
    assert np.abs(traj.snapshots["critic"][0, -1, 0] - start).max() > 1e-3   # it did move


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("population", [False, True])
def test_vertex_mass_stays_while_velocity_points_outward(population, dtype):
    # The collapse example (configs/coagulation.toml) at small c: (c, −c, c) attracts.
    c = 0.05
    with precision(dtype):
        system = make_wgan(K=1, L=1, N=16, M=24, latent=laws.StandardGaussian(1),
                           target=laws.gaussian_mixture([0.5, 0.5], [2.0, 4.0], [0.3, 0.3]),
                           lr=1.0, n_critic=2, clip=c, batch_size=4, population=population,
                           quadrature_nodes=8, n_eval=64, dtype=dtype,
                           initial=WGANInit(beta=BlockLaw(0.0, 0.5 * c),
                                            alpha=BlockLaw(0.0, 0.5 * c),
                                            gamma=BlockLaw(0.0, 0.5 * c)))
        state = system.init(jax.random.key(4))
        vertex = jnp.array([c, -c, c], state.crit.dtype)
        at_v = jnp.arange(system.M) % 2 == 0
        state = system.game.init(state.gen, jnp.where(at_v[:, None], vertex, state.crit))
        s = activation(system.act)
        step = jax.jit(system.step)

        @jax.jit
        def outward(state, key):
            # The step's own expectation (same key), so the check is exact for SGD too.
            _, v = velocities(state.gen, state.crit, system.draw(key), s)
            return jnp.all(jnp.sign(v[0]) == jnp.sign(vertex))

        checked = 0
        for k in range(300):
            key = jax.random.fold_in(jax.random.key(5), k)
            out = bool(outward(state, key))
            new = step(state, system.step_noise(key))
            if out:
                checked += 1
                # Exact: the projection clips to ±c, with no arithmetic that could round
                # differently between machines.
                np.testing.assert_array_equal(np.asarray(new.crit)[np.asarray(at_v)],
                                              np.broadcast_to(np.asarray(vertex), (12, 3)))
            state = new
        assert checked >= 200, "the velocity must point outward at most steps"
        assert float(co.vertex_mass(state.crit, c)) >= 0.5
