"""Coagulation at the clipping boundary (MODEL.md §4): the observables and the four properties.

Properties, each for SGD and for the population dynamics where it applies:
1. two critic particles that coincide stay bit-identical at every later time;
2. in the population dynamics the number of distinct atoms never increases (checked at every step);
3. a critic that starts as one atom stays one atom (diameter exactly 0);
4. particles at a vertex stay there at every step where the velocity there points outward in every
   coordinate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield import coagulation as co
from meanfield import laws
from meanfield.driver import make_schedule, replica_keys, simulate
from meanfield.measure import BlockLaw
from meanfield.payoff import velocities
from meanfield.readout import activation
from meanfield.wgan import WGANInit, make_wgan


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
    assert int(co.distinct_atoms(crit)) == 4
    brute = max(np.linalg.norm(np.asarray(a) - np.asarray(b)) for a in crit for b in crit)
    assert float(co.diameter(crit)) == pytest.approx(brute, rel=1e-6)


def test_distinct_atoms_matches_numpy_unique():
    rng = np.random.default_rng(0)
    pool = rng.integers(-2, 3, size=(7, 4)).astype(np.float32)  # few values: many ties per column
    crit = pool[rng.integers(0, 7, size=200)]
    assert int(co.distinct_atoms(jnp.asarray(crit))) == len(np.unique(crit, axis=0))
    one = np.repeat(crit[:1], 50, axis=0)
    assert int(co.distinct_atoms(jnp.asarray(one))) == 1
    assert float(co.diameter(jnp.asarray(one))) == 0.0


def test_distinct_atoms_tolerance():
    base = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
    noisy = np.concatenate([base, base + 1e-6, base - 2e-6])
    assert int(co.distinct_atoms(jnp.asarray(noisy))) == 9
    # Rounded to the 1e-4 grid the three clusters are three cells, although in lexicographic
    # order the (1, 0) and (1, 1) clusters interleave.
    assert int(co.distinct_atoms(jnp.asarray(noisy), tol=1e-4)) == 3
    assert int(co.distinct_atoms(jnp.asarray(noisy), tol=3.0)) == 1   # one cell holds them all


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
def _wgan(population: bool, clip: float, M: int = 37, K: int = 2, **kw):
    # K = 2 and an odd M so that rows fall in different blocks of XLA's matmul kernels.
    return make_wgan(K=K, L=1, N=16, M=M, latent=laws.StandardGaussian(1),
                     target=laws.gaussian_mixture([0.5, 0.5], [[1.0, 0.0], [2.0, 1.0]],
                                                  [0.3, 0.3]),
                     lr=1.0, n_critic=3, clip=clip, batch_size=4, population=population,
                     quadrature_nodes=6, n_eval=64, n_directions=4, **kw)


def _run(system, state, steps: int, every: int = 1):
    sched = make_schedule(system.dt, steps * system.dt, steps // every + 1,
                          tuple(np.arange(0, steps + 1, every * 4) * system.dt))
    ik, nk = replica_keys(3, 1)
    state = jax.tree.map(lambda x: x[None], state)
    return simulate(system, sched, ik, nk, initial_state=state)


@pytest.mark.parametrize("population", [False, True])
def test_coincident_particles_stay_coincident(population):
    system = _wgan(population, clip=0.4)
    state = system.init(jax.random.key(0))
    pairs = [(0, 36), (5, 20), (11, 12)]
    crit = state.crit
    for i, j in pairs:
        crit = crit.at[j].set(crit[i])
    # A pair in the interior of Q too, so interior coordinates (not only ±c) are compared.
    crit = crit.at[1].set(jnp.array([0.1, -0.2, 0.05, 0.3])).at[30].set(jnp.array([0.1, -0.2, 0.05,
                                                                                   0.3]))
    pairs.append((1, 30))
    state = system.game.init(state.gen, crit)
    traj = _run(system, state, 160)
    snaps = traj.snapshots["critic"][0]                # [S, M, K+2]
    final = np.asarray(traj.final_state.crit[0])
    moved = np.abs(snaps[-1] - snaps[0]).max()
    assert moved > 1e-3, "the critic must move for the test to mean anything"
    for i, j in pairs:
        np.testing.assert_array_equal(snaps[:, i], snaps[:, j])
        np.testing.assert_array_equal(final[i], final[j])


def test_population_distinct_atoms_never_increase():
    system = _wgan(True, clip=0.05, M=64)
    traj = _run(system, system.init(jax.random.key(1)), 400)   # recorded at every step
    atoms = traj.observables["distinct_atoms"][0]
    assert atoms[-1] < atoms[0], "merging must happen for the test to mean anything"
    assert np.all(np.diff(atoms) <= 0)


@pytest.mark.parametrize("population", [False, True])
def test_single_atom_stays_single(population):
    system = _wgan(population, clip=0.3)
    state = system.init(jax.random.key(2))
    crit = jnp.broadcast_to(jnp.array([0.1, 0.3, -0.05, 0.2]), state.crit.shape)
    traj = _run(system, system.game.init(state.gen, crit), 200)
    o = traj.observables
    np.testing.assert_array_equal(o["distinct_atoms"][0], 1)
    np.testing.assert_array_equal(o["critic_diameter"][0], 0.0)
    assert np.abs(traj.snapshots["critic"][0, -1, 0] - crit[0]).max() > 1e-3   # it did move


@pytest.mark.parametrize("population", [False, True])
def test_vertex_mass_stays_while_velocity_points_outward(population):
    # The collapse example (configs/coagulation.toml) at small c: (c, −c, c) attracts.
    c = 0.05
    system = make_wgan(K=1, L=1, N=16, M=24, latent=laws.StandardGaussian(1),
                       target=laws.gaussian_mixture([0.5, 0.5], [2.0, 4.0], [0.3, 0.3]), lr=1.0,
                       n_critic=2, clip=c, batch_size=4, population=population,
                       quadrature_nodes=8, n_eval=64,
                       initial=WGANInit(beta=BlockLaw(0.0, 0.5 * c), alpha=BlockLaw(0.0, 0.5 * c),
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
        new = step(state, key)
        if out:
            checked += 1
            np.testing.assert_array_equal(np.asarray(new.crit)[np.asarray(at_v)],
                                          np.broadcast_to(np.asarray(vertex), (12, 3)))
        state = new
    assert checked >= 200, "the velocity must point outward at most steps"
    assert float(co.vertex_mass(state.crit, c)) >= 0.5
