"""The WGAN schemes as mean-field dynamics (docs/model.md §1–2): one step is an Euler step of the
characteristics, duplicating every particle with α doubled changes nothing, the time-stepping error
is first order, SGD tends to the population step as m^{-1/2}, and the critic stays in Q."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_allclose, duplicate_state, small_wgan, stack
from meanfield.networks import readout
from meanfield.systems.wgan.payoff import payoff, velocities


def _trajectory(system, state, n_steps, every=1, seed=0):
    """States after steps every, 2·every, ..., n_steps (leaves ``[n_steps // every, ...]``), with
    step k's noise fold_in(key, k) as in the driver; a bare scan compiles faster than simulate."""
    key = jax.random.key(seed)

    def record(s, r):
        def one(s, k):
            return system.step(s, system.step_noise(jax.random.fold_in(key, r * every + k))), None

        s, _ = jax.lax.scan(one, s, jnp.arange(every))
        return s, s

    return jax.jit(lambda s: jax.lax.scan(record, s, jnp.arange(n_steps // every))[1])(state)


def _evolve(system, state, T):
    """``state`` after round(T/dt) population steps (a bare scan: no observables to compile)."""
    n = int(round(T / system.dt))
    assert n * system.dt == pytest.approx(T)
    key = jax.random.key(0)
    body = lambda k, s: system.step(s, system.step_noise(jax.random.fold_in(key, k)))  # noqa: E731
    return jax.jit(lambda s: jax.lax.fori_loop(0, n, body, s))(state)


# Jitted once: eager autodiff dispatches (and compiles) op by op, several times slower here.
_velocities = jax.jit(velocities, static_argnums=3)


def _init(system, seed):
    return jax.jit(system.init)(jax.random.key(seed))


def _readouts(system, gen, crit):
    """g_μ at the system's evaluation latents ``[n_eval, K]`` and f_ν on a grid ``[64]``: functions
    of the empirical measures only (particle labels and multiplicities drop out)."""
    s = readout.activation(system.act)
    x = jnp.linspace(-3, 3, 64)[:, None] * jnp.ones((1, system.K))
    return readout.generator(gen, system.eval_z, s), readout.critic(crit, x, s)


def test_time_and_speed_conventions(x64):
    w = small_wgan(N=8, M=4, lr=0.4, n_critic=3)
    assert w.dt == pytest.approx(0.05)  # Δt = α/N
    assert float(w.critic_speed) == pytest.approx(6.0)  # γ_c = n_c N / M


@pytest.mark.parametrize("clip", [10.0, 0.3], ids=["interior", "clipped"])
def test_simultaneous_population_step_is_euler_step(x64, clip):
    # θ ← θ − Δt V_μ(θ), ω ← P_Q(ω + γ_c Δt V_ν(ω)) with V from payoff.velocities (float64, 1e-13).
    n_c, N, M = 2, 6, 5
    w = small_wgan(K=2, L=2, N=N, M=M, lr=0.9, n_critic=n_c, clip=clip, population=True,
                   quadrature_nodes=8)
    st = _init(w, 0)
    vg, vc = _velocities(st.gen, st.crit, w.rule, readout.activation(w.act))
    new = jax.jit(w.step)(st, jax.random.key(1))
    assert_allclose(new.gen, st.gen - w.dt * vg, rtol=1e-13, atol=1e-15)
    want = np.clip(st.crit + (n_c * N / M) * w.dt * vc, -clip, clip)
    assert_allclose(new.crit, want, rtol=1e-13, atol=1e-15)
    if clip < 1:
        assert (np.abs(np.asarray(new.crit)) == clip).any()  # the projection was exercised


def test_alternating_population_step_by_hand(x64):
    # n_c critic steps ω ← P_Q(ω + (α/M) V_ν) (each with the updated critic), then one generator
    # step θ ← θ − Δt V_μ against the final critic (float64, 1e-13).
    n_c, clip = 3, 0.4
    w = small_wgan(N=6, M=4, lr=0.7, n_critic=n_c, clip=clip, scheme="alternating",
                   population=True)
    st = _init(w, 2)
    s = readout.activation(w.act)
    crit = st.crit
    for _ in range(n_c):
        crit = np.clip(crit + w.lr / w.M * _velocities(st.gen, crit, w.rule, s)[1], -clip, clip)
    gen = st.gen - w.dt * _velocities(st.gen, crit, w.rule, s)[0]
    new = jax.jit(w.step)(st, jax.random.key(3))
    assert_allclose(new.crit, crit, rtol=1e-13, atol=1e-15)
    assert_allclose(new.gen, gen, rtol=1e-13, atol=1e-15)


CASES = [("simultaneous", 1), ("simultaneous", 3), ("alternating", 1), ("alternating", 3)]


@pytest.mark.parametrize("scheme,n_critic", CASES)
def test_duplicating_particles_leaves_population_trajectory_unchanged(x64, scheme, n_critic):
    # N → 2N, M → 2M with α → 2α keeps Δt = α/N and γ_c: the empirical measures are the same at
    # every step. 300 population steps in float64 with clipping active (c = 0.5), compared every
    # 30 steps: readouts g_μ(z), f_ν(x), the payoff and the particles agree to 1e-13 (measured
    # 2e-16), and the two copies of each particle stay together to rounding (docs/model.md §4;
    # not bitwise: XLA may round the two rows differently on another vector width).
    N, M, lr, T = 6, 5, 0.3, 15.0
    kw = dict(K=1, L=1, clip=0.5, n_critic=n_critic, scheme=scheme, population=True)
    w1 = small_wgan(N=N, M=M, lr=lr, **kw)
    w2 = small_wgan(N=2 * N, M=2 * M, lr=2 * lr, **kw)
    assert w1.dt == w2.dt
    st = _init(w1, 4)
    a = _trajectory(w1, st, 300, every=30)
    b = _trajectory(w2, duplicate_state(st, w2), 300, every=30)
    s = readout.activation(w1.act)
    pa = jax.vmap(lambda g, c: payoff(g, c, w1.rule, s))(a.gen, a.crit)
    pb = jax.vmap(lambda g, c: payoff(g, c, w2.rule, s))(b.gen, b.crit)
    assert_allclose(pb, pa, rtol=1e-12, atol=1e-13)
    for j in range(10):
        for x, y in zip(_readouts(w2, b.gen[j], b.crit[j]), _readouts(w1, a.gen[j], a.crit[j])):
            assert_allclose(x, y, rtol=1e-12, atol=1e-13)
    assert_allclose(b.gen[:, :N], b.gen[:, N:], rtol=1e-13, atol=1e-13)
    assert_allclose(b.crit[:, :M], b.crit[:, M:], rtol=1e-13, atol=1e-13)
    assert_allclose(b.gen[:, :N], a.gen, rtol=1e-12, atol=1e-13)
    assert_allclose(b.crit[:, :M], a.crit, rtol=1e-12, atol=1e-13)
    assert (np.abs(np.asarray(a.crit)) == 0.5).any()  # the projection was active
    # The dynamics did move: the generator readout changed by 0.047 over the 300 steps (seed 4's
    # particles), ten orders of magnitude above the tolerances; the guard only needs > 0.01.
    r0 = _readouts(w1, st.gen, st.crit)[0]
    assert np.abs(_readouts(w1, a.gen[-1], a.crit[-1])[0] - r0).max() > 0.01


def test_duplication_with_same_lr_is_first_order_in_dt(x64):
    # Duplicating with α unchanged halves Δt. At fixed T the duplicated run differs from the
    # original only by the Euler error, D(α) ≈ C·Δt/2, so D halves with α: the fitted order of
    # D against α over α, α/2, α/4 is 1 ± 0.1, and D(α) is small (< 0.05 · the motion on [0, T]).
    # No clipping (c = 10): the characteristics are smooth.
    N, M, T = 6, 5, 2.0
    st = None
    D, motion = [], None
    for lr in (0.6, 0.3, 0.15):
        kw = dict(K=1, L=1, clip=10.0, n_critic=2, lr=lr, population=True)
        w1, w2 = small_wgan(N=N, M=M, **kw), small_wgan(N=2 * N, M=2 * M, **kw)
        st = st if st is not None else _init(w1, 5)
        a = _evolve(w1, st, T)
        b = _evolve(w2, duplicate_state(st, w2), T)
        ra, rb = _readouts(w1, a.gen, a.crit), _readouts(w2, b.gen, b.crit)
        D.append(max(float(np.abs(x - y).max()) for x, y in zip(ra, rb)))
        if motion is None:
            r0 = _readouts(w1, st.gen, st.crit)
            motion = max(float(np.abs(x - y).max()) for x, y in zip(ra, r0))
    order = np.polyfit(np.log([0.6, 0.3, 0.15]), np.log(D), 1)[0]
    assert order == pytest.approx(1.0, abs=0.1), (D, order)
    assert 0 < D[0] < 0.05 * motion, (D, motion)


def test_sgd_step_tends_to_population_step(x64):
    # One simultaneous SGD step from a fixed state: the sample gradients are means of m iid terms,
    # so the update error to the population update has RMS σ/√m (the quadrature bias, ~1e-12, is
    # negligible). Over 256 keys, RMS(m)/RMS(16 m) = 4 within ±15% (the estimate's relative
    # standard error is ~5%), for m = 32. The SGD update is unbiased: the mean over the 256 keys
    # is within 5 standard errors (5·RMS/√256) of the population update.
    kw = dict(K=2, L=2, N=8, M=8, lr=0.5, clip=10.0, n_critic=2)
    pop = small_wgan(population=True, **kw)
    st = _init(pop, 6)
    ref = jax.jit(pop.step)(st, pop.step_noise(jax.random.key(0)))
    n_keys = 256
    keys = jax.random.split(jax.random.key(7), n_keys)

    def flat(s):
        return jnp.concatenate([s.gen.reshape(s.gen.shape[0], -1),
                                s.crit.reshape(s.crit.shape[0], -1)], axis=1)

    def rms_and_bias(m):
        w = small_wgan(batch_size=m, **kw)
        new = jax.jit(jax.vmap(lambda s, k: w.step(s, w.step_noise(k)), in_axes=(None, 0)))(
            st, keys)
        err = flat(new) - flat(stack(ref))  # [keys, d]
        rms = float(jnp.sqrt(jnp.mean(jnp.sum(err ** 2, axis=1))))
        bias = float(jnp.linalg.norm(err.mean(axis=0)))
        return rms, bias

    m = 32
    (r1, b1), (r16, b16) = rms_and_bias(m), rms_and_bias(16 * m)
    assert r1 / r16 == pytest.approx(4.0, rel=0.15), (r1, r16)
    assert b1 < 5 * r1 / np.sqrt(n_keys) and b16 < 5 * r16 / np.sqrt(n_keys), (b1, r1, b16, r16)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_critic_never_leaves_Q(scheme, optimizer):
    # Large steps (α = 20, c = 0.05, n_c = 3, float32): after each of 40 steps every critic
    # particle has |ω| <= c coordinatewise, while a good fraction of the critic sits on ∂Q.
    c = 0.05
    w = small_wgan(N=16, M=16, lr=20.0, clip=c, n_critic=3, scheme=scheme, optimizer=optimizer,
                   batch_size=4, dtype="float32")
    st = _init(w, 8)
    crit = np.concatenate([np.asarray(st.crit)[None], np.asarray(_trajectory(w, st, 40).crit)])
    assert crit.shape == (41, 16, 3) and crit.dtype == np.float32
    assert np.isfinite(crit).all()
    assert (np.abs(crit) <= np.float32(c)).all()
    on_boundary = (np.abs(crit) == np.float32(c)).any(axis=-1).mean(axis=-1)  # per step
    assert on_boundary.max() > 0.2
    assert not np.array_equal(crit[0], crit[-1])  # the critic moved


def _rmsprop_gradients():
    """60 steps of gradients ``[60, 6]``: coordinates of size 1 down to 1e-6 (and one 0), with
    random signs, so that eps = 1e-8 matters for the small ones."""
    rng = np.random.default_rng(11)
    scale = np.array([1.0, 1e-2, 1e-3, 1e-4, 1e-6, 0.0])
    return scale * rng.choice([-1.0, 1.0], (60, 6)) * rng.uniform(0.5, 1.5, (60, 6))


def _optax_path(tx, grads, x0):
    state, x, path = tx.init(x0), x0, []
    for g in grads:
        upd, state = tx.update(jnp.asarray(g), state, x)
        x = x + upd
        path.append(np.asarray(x))
    return np.array(path)


def test_rmsprop_is_pytorchs_formula(x64):
    # ν_k = 0.99 ν_{k−1} + 0.01 g_k², x_k = x_{k−1} − lr g_k/(√ν_k + 1e-8), ν_0 = 0, written out
    # by hand in float64; the optimiser must match to rounding (1e-13 relative)
    from meanfield.schemes.optimizers import optimizer

    lr, grads = 0.05, _rmsprop_gradients()
    x0 = np.linspace(-1.0, 1.0, 6)
    nu, x, want = np.zeros(6), x0.copy(), []
    for g in grads:
        nu = 0.99 * nu + 0.01 * g * g
        x = x - lr * g / (np.sqrt(nu) + 1e-8)
        want.append(x.copy())
    got = _optax_path(optimizer("rmsprop", lr), grads, jnp.asarray(x0))
    np.testing.assert_allclose(got, np.array(want), rtol=1e-13, atol=1e-15)


def test_rmsprop_matches_torch_optim_rmsprop(x64):
    # torch.optim.RMSprop with only lr given (its defaults: alpha 0.99, eps 1e-8) on the same
    # gradients, float64: same iterates to 1e-13 relative
    torch = pytest.importorskip("torch")
    from meanfield.schemes.optimizers import optimizer

    lr, grads = 0.05, _rmsprop_gradients()
    x0 = np.linspace(-1.0, 1.0, 6)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=lr)
    want = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        want.append(p.detach().numpy().copy())
    got = _optax_path(optimizer("rmsprop", lr), grads, jnp.asarray(x0))
    np.testing.assert_allclose(got, np.array(want), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("g", [1e-3, 1e-4, 1e-5])
def test_rmsprop_steady_step_does_not_depend_on_gradient_size(x64, g):
    # a constant gradient g: ν_k = g²(1 − 0.99^k), step k is lr·g/(√ν_k + 1e-8), which tends to
    # lr·g/(g + 1e-8) ≈ lr whatever g (PyTorch's form; > 0.9990 lr down to g = 1e-5). With eps
    # inside the root it would tend to lr/√(1 + 1e-8/g²): ×0.995, ×0.707, ×0.0995 at
    # g = 1e-3, 1e-4, 1e-5.
    from meanfield.schemes.optimizers import optimizer

    lr, n = 0.1, 2000
    tx = optimizer("rmsprop", lr)
    x = jnp.zeros(1)

    def body(state, _):
        upd, state = tx.update(jnp.full(1, g), state, x)
        return state, upd[0]

    upd = jax.jit(lambda s: jax.lax.scan(body, s, None, length=n)[1])(tx.init(x))
    root = g * np.sqrt(1 - 0.99 ** np.arange(1, n + 1))     # √ν_k, exactly
    np.testing.assert_allclose(-np.asarray(upd) / lr, g / (root + 1e-8), rtol=1e-12)
    assert -float(upd[-1]) / lr > 0.99
