"""The critic's sign symmetry (docs/coagulation.md): for s(−u) = 1 − s(u) (sigmoid) or s odd (tanh),
flipping a critic neuron ω ↦ −ω changes f_ν by a constant, so the generator does not see it and the
critic velocity is odd. Consequences tested here, in float64: the particles of one basin, flipped
at t = 0, end on the other atom and leave the generator's trajectory unchanged."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import random_particles
from meanfield.measures import laws
from meanfield.core.driver import make_schedule, replica_keys, simulate
from meanfield.networks.initial import BlockLaw
from meanfield.measures.expectation import Expectation
from meanfield.systems.wgan.payoff import velocities
from meanfield.networks.readout import activation, critic
from meanfield.systems.wgan.system import WGANInit, make_wgan

_velocities = jax.jit(velocities, static_argnums=3)


def _atoms(points: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy clusters of ``points [M, d]``: a point joins the first centre within ``tol``.

    Returns:
        centres ``[A, d]`` and counts ``[A]`` (A atoms; well defined while atoms are more than
        2·tol apart and each is tighter than tol).
    """
    centres, counts = [], []
    for p in points:
        for k, c in enumerate(centres):
            if np.linalg.norm(p - c) <= tol:
                counts[k] += 1
                break
        else:
            centres.append(p)
            counts.append(1)
    return np.array(centres), np.array(counts)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_flipping_critic_neurons_shifts_f_by_a_constant_and_negates_their_velocity(x64, act):
    # φ(x; −ω) = −α s(−βx − γ) = φ(x; ω) − α (sigmoid) or φ(x; ω) (tanh), so with a set B of
    # flipped neurons f changes by −(1/M)Σ_B α_j (sigmoid) or not at all (tanh): V_μ is unchanged
    # and V_ν(−ω) = −V_ν(ω). Rounding only (1e-13).
    K, L, N, M = 2, 1, 7, 9
    gen, crit = random_particles(3, N, M, K, L)
    flip = np.arange(M) % 3 == 0
    crit_f = jnp.where(flip[:, None], -crit, crit)
    s = activation(act)
    x = jnp.asarray(np.random.default_rng(4).standard_normal((50, K)))
    shift = -np.asarray(crit)[flip, 0].sum() / M if act == "sigmoid" else 0.0
    np.testing.assert_allclose(critic(crit_f, x, s), critic(crit, x, s) + shift, rtol=1e-13,
                               atol=1e-14)
    z = jnp.asarray(np.random.default_rng(5).standard_normal((40, L)))
    e = Expectation(z, jnp.full(40, 1 / 40), x, jnp.full(50, 1 / 50))
    vg, vc = _velocities(gen, crit, e, s)
    vg_f, vc_f = _velocities(gen, crit_f, e, s)
    np.testing.assert_allclose(vg_f, vg, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vc_f, np.where(flip[:, None], -vc, vc), rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(np.asarray(vc)[flip], axis=1).min() > 1e-2   # and are not 0


def _run(system, state, T, n_snap=11):
    sched = make_schedule(system.dt, T, 41, tuple(np.linspace(0.0, T, n_snap)))
    ik, nk = replica_keys(0, 1)
    return simulate(system, sched, ik, nk,
                    initial_state=jax.tree.map(lambda a: jnp.asarray(a)[None], state))


def _centred_wgan(population: bool):
    """The coagulation study's centred family at c = 1, n_c = 4 (configs/coagulation.toml's
    target), small: N = M = 16, α, β, γ ~ N(0, 0.5²) clipped into Q."""
    law = BlockLaw(0.0, 0.5)
    return make_wgan(K=1, L=1, N=16, M=16, latent=laws.StandardGaussian(1),
                     target=laws.gaussian_mixture([0.5, 0.5], [2.0, 4.0], [0.3, 0.3]), lr=1.0,
                     n_critic=4, clip=1.0, batch_size=8, population=population,
                     quadrature_nodes=8, n_eval=256, dtype="float64",
                     initial=WGANInit(alpha=law, beta=law, gamma=law))


def test_flipping_one_basin_gives_one_atom_and_the_same_generator(x64):
    # Population dynamics to T = 20 from a centred critic: the critic ends as two antipodal
    # atoms, 10 particles at ω* = (−1, 0.6927, −1) and 6 at −ω*. Flipping, at t = 0, the particles
    # that end at −ω* gives one atom at ω* (all 16 within 1e-9), the flipped particles' paths are
    # the mirror images of the original ones, and the generator and W₁ are unchanged at every
    # snapshot — all to 1e-12 (measured: 4e-16 for the generator, 0 for W₁).
    w = _centred_wgan(population=True)
    s0 = w.init(jax.random.key(0))
    a = _run(w, s0, 20.0)
    end = np.asarray(a.final_state.crit[0])
    centres, counts = _atoms(end, tol=1e-6)
    assert len(centres) == 2 and counts.min() >= 3, (centres, counts)
    np.testing.assert_allclose(centres[0], -centres[1], atol=1e-9)          # antipodal
    assert np.abs(centres[0][[0, 2]]).min() == 1.0                          # α, γ clamped at ±c
    star = centres[np.argmax(counts)]
    basin = np.linalg.norm(end + star, axis=1) < 1e-6
    crit0 = np.where(basin[:, None], -np.asarray(s0.crit), np.asarray(s0.crit))
    b = _run(w, w.game.init(s0.gen, jnp.asarray(crit0)), 20.0)
    end_b = np.asarray(b.final_state.crit[0])
    centres_b, counts_b = _atoms(end_b, tol=1e-6)
    assert len(centres_b) == 1 and counts_b[0] == w.M
    assert np.abs(end_b - star).max() < 1e-9
    sign = np.where(basin, -1.0, 1.0)[None, :, None]
    np.testing.assert_allclose(b.snapshots["critic"][0] * sign, a.snapshots["critic"][0],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.snapshots["gen"], a.snapshots["gen"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.observables["w1"], a.observables["w1"], rtol=0, atol=1e-12)
    # the generator did move: W₁ fell from 3.0 to 1.06
    assert a.observables["w1"][0, -1] < 0.5 * a.observables["w1"][0, 0]


def test_flipping_critic_particles_leaves_sgd_generator_unchanged(x64):
    # SGD (batch 8): the same symmetry step by step, for the same batches. Flip every other
    # particle and run 80 steps (T = 5) from both states with the same keys: the generator paths
    # agree to 1e-12 and the flipped critic paths are mirrored to 1e-12.
    w = _centred_wgan(population=False)
    s0 = w.init(jax.random.key(1))
    flip = np.arange(w.M) % 2 == 1
    crit0 = jnp.where(jnp.asarray(flip)[:, None], -s0.crit, s0.crit)
    both = jax.tree.map(lambda x, y: jnp.stack([x, y]), s0, w.game.init(s0.gen, crit0))
    key = jax.random.key(2)

    def path(state):
        def body(s, k):
            s = w.step(s, w.step_noise(jax.random.fold_in(key, k)))
            return s, (s.gen, s.crit)
        return jax.lax.scan(body, state, jnp.arange(80))[1]

    gen, crit = jax.jit(jax.vmap(path))(both)       # [2, 80, ...]
    sign = np.where(flip, -1.0, 1.0)[None, :, None]
    np.testing.assert_allclose(crit[1] * sign, crit[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(gen[1], gen[0], rtol=0, atol=1e-12)
    assert np.abs(np.asarray(gen[0, -1]) - np.asarray(s0.gen)).max() > 0.05   # it moved
