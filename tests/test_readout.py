"""Readouts, the payoff and its gradients (docs/model.md §1–2).

Three independent computations of the same quantities: the batched readouts against a Python sum of
single neurons, autodiff gradients against central finite differences, and N·∇_θ Ψ̂ / M·∇_ω Ψ̂
against the mean-field velocities V_μ, V_ν written out by hand from the single-neuron functions.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_allclose, random_particles
from meanfield.networks import readout
from meanfield.measures.expectation import Expectation
from meanfield.systems.wgan.payoff import payoff, velocities

SHAPES = [(1, 1), (2, 3)]  # (K, L)
ACTS = ["sigmoid", "tanh"]


def _expectation(seed, K, L, Bz=7, Bx=5):
    """A weighted expectation with unequal positive weights (not only a uniform batch)."""
    rng = np.random.default_rng(seed)
    wz, wx = rng.uniform(0.1, 1.0, Bz), rng.uniform(0.1, 1.0, Bx)
    return Expectation(*(jnp.asarray(a, jnp.float64) for a in (
        rng.standard_normal((Bz, L)), wz / wz.sum(), 1.5 * rng.standard_normal((Bx, K)),
        wx / wx.sum())))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("K,L", SHAPES)
def test_readouts_are_means_of_single_neurons(x64, K, L, act):
    # Batched einsum readouts against a loop over generator_neuron / critic_neuron; float64, 1e-13.
    s = readout.activation(act)
    gen, crit = random_particles(0, 5, 6, K, L)
    rng = np.random.default_rng(1)
    z = jnp.asarray(rng.standard_normal((4, L)))
    x = jnp.asarray(rng.standard_normal((3, K)))
    gn, cn = jax.jit(readout.generator_neuron, static_argnums=2), jax.jit(readout.critic_neuron,
                                                                         static_argnums=2)
    g_loop = np.array([np.mean([gn(th, zb, s) for th in gen], axis=0) for zb in z])
    f_loop = np.array([np.mean([cn(om, xb, s) for om in crit]) for xb in x])
    assert readout.generator(gen, z, s).shape == (4, K)
    assert readout.critic(crit, x, s).shape == (3,)
    assert_allclose(readout.generator(gen, z, s), g_loop, rtol=1e-13, atol=1e-15)
    assert_allclose(readout.critic(crit, x, s), f_loop, rtol=1e-13, atol=1e-15)


def test_sigmoid_neuron_closed_form(x64):
    # σ(z; θ)_k = a_k / (1 + exp(−(b_k·z + c_k))) by hand, for one neuron with K = 2, L = 1.
    theta = jnp.array([[2.0, 0.5, -1.0], [-1.0, 3.0, 0.25]])
    z = jnp.array([0.7])
    pre = np.array([0.5 * 0.7 - 1.0, 3.0 * 0.7 + 0.25])
    want = np.array([2.0, -1.0]) / (1.0 + np.exp(-pre))
    assert_allclose(readout.generator_neuron(theta, z), want, rtol=1e-14)
    omega = jnp.array([0.3, -2.0, 1.0, 0.5])
    x = jnp.array([0.1, -0.4])
    assert_allclose(readout.critic_neuron(omega, x), 0.3 / (1 + np.exp(-(-0.2 - 0.4 + 0.5))),
                    rtol=1e-14)


def test_unknown_activation_names_choices():
    with pytest.raises(ValueError, match="sigmoid"):
        readout.activation("relu6")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("K,L", SHAPES)
def test_payoff_gradients_match_central_differences(x64, K, L, act):
    # Central differences in float64, h = 1e-5: truncation O(h²) ~ 1e-10 and rounding
    # O(eps/h) ~ 1e-11, so every coordinate must agree with autodiff to rel 1e-6 (+ atol 1e-9
    # for coordinates whose derivative is ~0).
    s = readout.activation(act)
    gen, crit = random_particles(3, 3, 4, K, L)
    e = _expectation(4, K, L)
    f = jax.jit(lambda g, c: payoff(g, c, e, s))
    g_gen, g_crit = jax.grad(f, argnums=(0, 1))(gen, crit)
    h = 1e-5

    def fd(arr, which):
        # All coordinates at once: row k of `steps` perturbs coordinate k by h.
        steps = h * jnp.eye(arr.size).reshape((arr.size,) + arr.shape)
        f_of = jax.vmap(lambda a: f(a, crit) if which == 0 else f(gen, a))
        return ((f_of(arr[None] + steps) - f_of(arr[None] - steps)) / (2 * h)).reshape(arr.shape)

    assert_allclose(g_gen, fd(gen, 0), rtol=1e-6, atol=1e-9)
    assert_allclose(g_crit, fd(crit, 1), rtol=1e-6, atol=1e-9)


@functools.partial(jax.jit, static_argnums=4)
def _v_mu_by_hand(theta, gen, crit, e, s):
    """V_μ(θ) = E_z[∇f_ν(g_μ(z)) · ∂_θ σ(z; θ)], ``[K, L+2]``."""
    grad_f = jax.grad(lambda x: readout.critic(crit, x[None], s)[0])
    jac_sigma = jax.jacobian(readout.generator_neuron)  # [K, K, L+2]

    def integrand(z):
        gz = readout.generator(gen, z[None], s)[0]
        return jnp.einsum("k,kij->ij", grad_f(gz), jac_sigma(theta, z, s))

    return jnp.einsum("b,bij->ij", e.wz, jax.vmap(integrand)(e.z))


@functools.partial(jax.jit, static_argnums=4)
def _v_nu_by_hand(omega, gen, crit, e, s):
    """V_ν(ω) = E_z ∇_ω φ(g_μ(z); ω) − E_x ∇_ω φ(x; ω), ``[K+2]``."""
    grad_phi = jax.vmap(jax.grad(readout.critic_neuron), in_axes=(None, 0, None))
    fake = readout.generator(gen, e.z, s)
    return e.wz @ grad_phi(omega, fake, s) - e.wx @ grad_phi(omega, e.x, s)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("K,L", SHAPES)
def test_scaled_gradients_are_mean_field_velocities(x64, K, L, act):
    # docs/model.md §1: N·∇_{θ_i}Ψ̂ = V_μ(θ_i) and M·∇_{ω_j}Ψ̂ = V_ν(ω_j), to float64 rounding (1e-12).
    s = readout.activation(act)
    N, M = 4, 3
    gen, crit = random_particles(5, N, M, K, L)
    e = _expectation(6, K, L)
    g_gen, g_crit = jax.grad(payoff, argnums=(0, 1))(gen, crit, e, s)
    v_mu = np.stack([_v_mu_by_hand(th, gen, crit, e, s) for th in gen])
    v_nu = np.stack([_v_nu_by_hand(om, gen, crit, e, s) for om in crit])
    assert_allclose(N * g_gen, v_mu, rtol=1e-12, atol=1e-14)
    assert_allclose(M * g_crit, v_nu, rtol=1e-12, atol=1e-14)
    vg, vc = velocities(gen, crit, e, s)
    assert_allclose(vg, v_mu, rtol=1e-12, atol=1e-14)
    assert_allclose(vc, v_nu, rtol=1e-12, atol=1e-14)


def test_velocity_depends_on_measure_not_on_labels(x64):
    # V_μ at a particle is a function of (θ, μ, ν): permuting or duplicating the other particles
    # leaves it unchanged (rel 1e-12), while the raw gradient scales by 1/N.
    gen, crit = random_particles(7, 5, 4, 2, 2)
    e = _expectation(8, 2, 2)
    vel = jax.jit(velocities)
    vg, vc = vel(gen, crit, e)
    rng = np.random.default_rng(0)
    perm_g, perm_c = rng.permutation(5), rng.permutation(4)
    vg_p, vc_p = vel(gen[perm_g], crit[perm_c], e)
    assert_allclose(vg_p, vg[perm_g], rtol=1e-12, atol=1e-15)
    assert_allclose(vc_p, vc[perm_c], rtol=1e-12, atol=1e-15)
    vg_d, vc_d = vel(jnp.concatenate([gen, gen]), jnp.concatenate([crit, crit]), e)
    assert_allclose(vg_d, jnp.concatenate([vg, vg]), rtol=1e-12, atol=1e-15)
    assert_allclose(vc_d, jnp.concatenate([vc, vc]), rtol=1e-12, atol=1e-15)


def test_blocked_evaluation_equals_direct(x64):
    """Observables evaluate the generator and the payoff over many points in blocks (bounded
    memory); the values must be those of the direct formulas, for point counts that are not a
    multiple of the block (zero-weight padding), to 1e-13."""
    from meanfield.measures.expectation import Expectation
    from meanfield.systems.wgan.payoff import payoff, payoff_blocked
    from meanfield.networks.readout import generator, generator_blocked

    rng = np.random.default_rng(3)
    N, M, K, L, B = 7, 5, 2, 3, 37
    gen, crit = jnp.asarray(rng.normal(size=(N, K, L + 2))), jnp.asarray(rng.normal(size=(M, K + 2)))
    z, x = jnp.asarray(rng.normal(size=(B, L))), jnp.asarray(rng.normal(size=(B + 4, K)))
    wz = jnp.asarray(rng.random(B)); wz = wz / wz.sum()
    wx = jnp.asarray(rng.random(B + 4)); wx = wx / wx.sum()
    np.testing.assert_allclose(generator_blocked(gen, z, block=8), generator(gen, z),
                               rtol=0, atol=1e-13)
    e = Expectation(z, wz, x, wx)
    np.testing.assert_allclose(payoff_blocked(gen, crit, e, block=8), payoff(gen, crit, e),
                               rtol=0, atol=1e-13)
