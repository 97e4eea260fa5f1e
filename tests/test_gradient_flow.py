"""`meanfield.schemes.gradient_flow`: the scheme against closed-form flows (docs/model.md §1, §8).

Energies with known solutions, all in float64:

- confinement F(μ) = ½∫|x − m|² dμ, δF/δμ(y) = ½|y − m|²: Euler gives x_k = m + (1 − Δt)^k (x_0 − m)
  exactly, and the flow is m + e^{−t}(x_0 − m);
- quadratic interaction F(μ) = ½∬ ½|x − y|² dμ dμ, δF/δμ(y) = ∫ ½|y − x|² dμ(x): the mean is
  conserved and deviations from it contract by (1 − Δt) per step;
- expansion F(μ) = −½∫|x|² dμ: x_k = (1 + Δt)^k x_0 until the box projection stops a particle;
- Gaussian-kernel interaction δF/δμ(y) = mean_j exp(−|y − x_j|²/2): the velocity against finite
  differences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from meanfield.schemes.gradient_flow import FlowState, GradientFlow


@pytest.fixture(autouse=True)
def x64():
    """Every test here compares with closed forms to float64 rounding."""
    with jax.enable_x64(True):
        yield


def _sqdist(y, x):
    """|yᵢ − x_j|² for rows of ``[n, ...]`` and ``[N, ...]``: ``[n, N]``."""
    y = y.reshape(y.shape[0], -1)
    x = x.reshape(x.shape[0], -1)
    return jnp.sum((y[:, None, :] - x[None, :, :]) ** 2, axis=-1)


def confinement(m):
    return lambda y, x, aux, e: 0.5 * jnp.sum((y - jnp.asarray(m)[None]) ** 2, axis=-1)


def interaction(y, x, aux, e):
    return jnp.mean(0.5 * _sqdist(y, x), axis=1)


def gaussian_interaction(y, x, aux, e):
    return jnp.mean(jnp.exp(-0.5 * _sqdist(y, x)), axis=1)


def expansion(y, x, aux, e):
    return -0.5 * jnp.sum(y**2, axis=-1)


def particles(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def run(flow: GradientFlow, state: FlowState, k: int, noise=None) -> FlowState:
    """k jitted steps with the same noise."""
    return jax.jit(lambda s: jax.lax.fori_loop(0, k, lambda _, s: flow.step(s, noise), s))(state)


def trajectory(flow: GradientFlow, state: FlowState, k: int) -> FlowState:
    """States after steps 1..k, stacked on a leading axis."""
    def body(s, _):
        s = flow.step(s)
        return s, s
    return jax.jit(lambda s: jax.lax.scan(body, s, length=k)[1])(state)


def close(actual, desired, atol):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=0, atol=atol)


# 1. Confinement ---------------------------------------------------------------------------------

def test_confinement_euler_is_exact_geometric_decay():
    """sgd(Δt): x_k = m + (1 − Δt)^k (x_0 − m) to rounding; one step advances time by Δt = lr."""
    m = np.array([0.5, -1.0, 2.0])
    x0 = particles(0, 4, 3)
    dt, k = 0.1, 25
    flow = GradientFlow(confinement(m), optax.sgd(dt))
    state = run(flow, flow.init(x0), k)
    close(state.x, m + (1 - dt) ** k * (x0 - m), atol=1e-14)
    # N does not enter: the same particle in a cloud of 1 or of 4 moves the same way.
    close(run(flow, flow.init(x0[:1]), k).x, state.x[:1], atol=0)


def test_confinement_converges_to_the_flow_at_first_order():
    """At t = 1, the error against e^{−t} halves with Δt (ratio 2 within 10%, log-log slope 1)."""
    m = np.array([1.0, -2.0])
    x0 = particles(1, 3, 2)
    exact = m + np.exp(-1.0) * (x0 - m)
    ks = [20, 40, 80, 160]
    errs = []
    for k in ks:
        flow = GradientFlow(confinement(m), optax.sgd(1.0 / k))
        errs.append(float(jnp.max(jnp.abs(run(flow, flow.init(x0), k).x - exact))))
    errs = np.array(errs)
    ratios = errs[:-1] / errs[1:]
    assert np.all(np.abs(ratios - 2.0) < 0.2), ratios
    slope = np.polyfit(np.log(1.0 / np.array(ks)), np.log(errs), 1)[0]
    assert abs(slope - 1.0) < 0.05, slope


# 2. Interaction ---------------------------------------------------------------------------------

def test_interaction_conserves_mean_and_contracts_spread():
    """Quadratic interaction: mean fixed at every step, x_k − mean = (1 − Δt)^k (x_0 − mean)."""
    x0 = particles(2, 5, 2)
    dt, k = 0.2, 15
    flow = GradientFlow(interaction, optax.sgd(dt))
    traj = trajectory(flow, flow.init(x0), k).x  # [k, N, d]
    mean0 = np.asarray(x0).mean(axis=0)
    close(traj.mean(axis=1), jnp.broadcast_to(mean0, (k, 2)), atol=1e-14)
    factors = (1 - dt) ** np.arange(1, k + 1)
    close(np.asarray(traj) - mean0, factors[:, None, None] * (x0 - mean0), atol=1e-14)


# 3. Invariance under duplication ----------------------------------------------------------------

@pytest.mark.parametrize("potential", [interaction, gaussian_interaction],
                         ids=["quadratic", "gaussian"])
def test_duplicated_particles_follow_the_same_trajectory(potential):
    """x ↦ concat(x, x) is the same measure: both copies follow the original's path."""
    x0 = particles(3, 4, 2)
    flow = GradientFlow(potential, optax.sgd(0.3))
    single = trajectory(flow, flow.init(x0), 12).x
    double = trajectory(flow, flow.init(jnp.concatenate([x0, x0])), 12).x
    close(double[:, :4], single, atol=1e-14)
    close(double[:, 4:], single, atol=1e-14)


# 4. Projection ----------------------------------------------------------------------------------

def test_box_projection_keeps_particles_in_and_leaves_interior_ones_alone():
    """Expansion x_k = (1 + Δt)^k x_0 inside [−1, 1]²; particles that reach a face stay on it."""
    x0 = jnp.array([[0.01, -0.02], [0.8, 0.5], [-0.9, 0.05]])
    dt, k = 0.1, 20
    box = lambda x: optax.projections.projection_box(x, -1.0, 1.0)
    free = GradientFlow(expansion, optax.sgd(dt))
    boxed = GradientFlow(expansion, optax.sgd(dt), project=box)
    traj = trajectory(boxed, boxed.init(x0), k).x
    assert bool(jnp.all(jnp.abs(traj) <= 1.0))
    # Particle 0 never comes near a face (0.02 · 1.1²⁰ ≈ 0.13): it is the unprojected flow.
    free_traj = trajectory(free, free.init(x0), k).x
    close(traj[:, 0], free_traj[:, 0], atol=0)
    close(traj[-1, 0], (1 + dt) ** k * x0[0], atol=1e-15)
    # The others are pushed out in their first coordinate and end on that face.
    close(traj[-1, 1:, 0], jnp.array([1.0, -1.0]), atol=0)
    assert bool(jnp.any(jnp.abs(free_traj) > 1.0))


# 5. Inner solve ---------------------------------------------------------------------------------

def test_inner_solve_reproduces_the_direct_interaction():
    """aux = (mean of x, solve count) and V(y) = ½|y − aux|²: the trajectory of test 2."""
    x0 = particles(4, 5, 2)
    dt, k = 0.2, 15

    def solve(x, aux, e):
        _, count = aux
        return x.mean(axis=0), count + 1  # the count checks that state.aux is the warm start

    def potential(y, x, aux, e):
        return 0.5 * jnp.sum((y - aux[0][None]) ** 2, axis=-1)

    direct = GradientFlow(interaction, optax.sgd(dt))
    solved = GradientFlow(potential, optax.sgd(dt), solve=solve)
    state = solved.init(x0, aux=(jnp.zeros(2), jnp.array(0)))
    traj = trajectory(solved, state, k)
    close(traj.x, trajectory(direct, direct.init(x0), k).x, atol=1e-14)
    assert np.array_equal(np.asarray(traj.aux[1]), np.arange(1, k + 1))
    # aux after step j is the solve made at its start, on the particles before it.
    close(traj.aux[0][1:], traj.x[:-1].mean(axis=1), atol=0)
    close(traj.aux[0][0], x0.mean(axis=0), atol=0)


# 6. Noise injection -----------------------------------------------------------------------------

def test_noise_injection_velocity_and_vmap():
    """inject = x + βu: velocity −(x + βu − m); the measure in δF/δμ stays unperturbed."""
    m = np.array([0.3, -0.7])
    beta, dt = 0.5, 0.1
    x0 = particles(5, 4, 2)
    u = particles(6, 4, 2)
    inject = lambda x, e, k: x + beta * e
    flow = GradientFlow(confinement(m), optax.sgd(dt), inject=inject)
    state = flow.init(x0)
    close(flow.velocity(state, u), -(x0 + beta * u - m), atol=0)
    close(flow.step(state, u).x, x0 - dt * (x0 + beta * u - m), atol=1e-15)
    # Interaction: the velocity at y is −(y − mean(x)), the mean of the unperturbed particles.
    inter = GradientFlow(interaction, optax.sgd(dt), inject=inject)
    close(inter.velocity(inter.init(x0), u), -(x0 + beta * u - x0.mean(axis=0)), atol=1e-15)

    us = particles(7, 3, 4, 2)
    batched = jax.jit(jax.vmap(flow.step, in_axes=(None, 0)))(state, us)
    assert batched.x.shape == (3, 4, 2)
    for r in range(3):
        close(batched.x[r], x0 - dt * (x0 + beta * us[r] - m), atol=1e-15)

    # The noise may be a key that `expect` turns into u: vmap over keys, one draw per key.
    draw = lambda key: jax.random.normal(key, (4, 2))
    keyed = GradientFlow(confinement(m), optax.sgd(dt), inject=inject, expect=draw)
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.jit(jax.vmap(keyed.step, in_axes=(None, 0)))(state, keys)
    for r in range(3):
        close(batched.x[r], x0 - dt * (x0 + beta * np.asarray(draw(keys[r])) - m), atol=1e-15)
    assert not np.allclose(batched.x[0], batched.x[1])


# 7. Finite differences --------------------------------------------------------------------------

def test_velocity_matches_finite_differences_of_the_potential():
    """Gaussian-kernel interaction on particles [N, 2, 3]: −∇δF/δμ against central differences."""
    x0 = particles(8, 5, 2, 3)
    dt = 0.05
    flow = GradientFlow(gaussian_interaction, optax.sgd(dt))
    state = flow.init(x0)
    v = np.asarray(flow.velocity(state, None))
    assert v.shape == x0.shape
    h = 1e-5
    fd = np.zeros_like(v)
    for idx in np.ndindex(*x0.shape[1:]):
        step = np.zeros(x0.shape[1:])
        step[idx] = h
        # Moves every evaluation point at once; the measure (x0) stays where it is.
        plus = gaussian_interaction(x0 + step, x0, (), None)
        minus = gaussian_interaction(x0 - step, x0, (), None)
        fd[(slice(None),) + idx] = -np.asarray(plus - minus) / (2 * h)
    close(v, fd, atol=1e-6)
    # For this energy N ∂F/∂xᵢ, F = ½ mean_ij k(xᵢ, x_j), would be the same field; sgd moves by Δt v.
    close(flow.step(state).x, x0 + dt * v, atol=1e-15)


# 8. Options -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(potential=None, tx=optax.sgd(0.1)),
    dict(potential=interaction, tx="sgd"),
    dict(potential=interaction, tx=optax.sgd(0.1), solve=3),
    dict(potential=interaction, tx=optax.sgd(0.1), inject="noise"),
    dict(potential=interaction, tx=optax.sgd(0.1), project=1.0),
    dict(potential=interaction, tx=optax.sgd(0.1), expect=None),
], ids=["potential", "tx", "solve", "inject", "project", "expect"])
def test_bad_options_raise(kwargs):
    with pytest.raises(ValueError):
        GradientFlow(**kwargs)
