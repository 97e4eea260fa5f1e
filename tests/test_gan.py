"""The vanilla GAN and Huang–Zhang's Algorithm 2 (docs/model.md §7): Algorithm 2 is Algorithm 1
at step η ε (and the variants that break the identity do), the drift at D* is the JSD flow's
velocity, a discriminator trained long approaches D* and the value −ln 4 + 2·JSD, duplicating
every particle changes nothing, and the JSD estimator of the observables."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import assert_allclose, duplicate_state, stack
from meanfield.io import config as C
from meanfield.measures import laws
from meanfield.metrics import divergences
from meanfield.networks.readout import critic, generator
from meanfield.systems.gan import algorithm2, log_loss
from meanfield.systems.gan.system import make_gan

TANH = jnp.tanh


def small_gan(**kw):
    kw.setdefault("K", 2)
    kw.setdefault("L", 2)
    K = kw["K"]
    base = dict(N=6, M=5, latent=laws.StandardGaussian(kw["L"]),
                target=laws.gaussian_mixture([0.5, 0.5], [[-1.0] * K, [1.0] * K], [0.5, 0.5]),
                lr=0.5, batch_size=16, act="tanh", dtype="float64", n_eval=64,
                n_directions=8)
    return make_gan(**{**base, **kw})


def _steps(system, state, n, seed=0):
    key = jax.random.key(seed)
    body = lambda k, s: system.step(s, system.step_noise(jax.random.fold_in(key, k)))  # noqa: E731
    return jax.jit(lambda s: jax.lax.fori_loop(0, n, body, s))(state)


def _gaussians(y):
    """ρ_d = N(0, 1), ρ_G = N(1.5, 0.5²) at ``y``, and the optimal logit ℓ* = ln ρ_d − ln ρ_G."""
    rd = jnp.exp(-y ** 2 / 2) / jnp.sqrt(2 * jnp.pi)
    rg = jnp.exp(-(y - 1.5) ** 2 / 0.5) / jnp.sqrt(2 * jnp.pi * 0.25)
    return rd, rg, (-y ** 2 / 2) - (-(y - 1.5) ** 2 / 0.5 - jnp.log(0.5))


# -- Algorithm 2 ------------------------------------------------------------------------------

def test_algorithm2_equals_algorithm1_at_step_eta_epsilon(x64):
    # [HZ]'s proposition: one step of Algorithm 2 (step η, ε) is one generator step of Algorithm 1
    # (saturating loss) at step η·ε, the discriminator's steps being the same draws. Three
    # iterations with n_c = 2, K = L = 2, float64: equal to 1e-10 (measured ~1e-16); and the
    # generator did move (by > 1e-3), so the identity is not between two idle states.
    eta, eps = 4.0, 0.1
    common = dict(scheme="alternating", n_critic=2, critic_lr=0.3)
    a1 = small_gan(lr=eta * eps, **common)
    a2 = small_gan(lr=eta, algorithm="jsd_flow", epsilon=eps, fit_steps=1, **common)
    assert a2.dt == eps and a1.dt == pytest.approx(eta * eps / a1.N)
    st = jax.jit(a1.init)(jax.random.key(3))
    s1, s2 = _steps(a1, st, 3), _steps(a2, st, 3)
    assert_allclose(s2.gen, s1.gen, atol=1e-10)
    assert_allclose(s2.crit, s1.crit, atol=1e-10)
    assert np.abs(np.asarray(s1.gen - st.gen)).max() > 1e-3


def _grads(seed=0, eps=0.05):
    """At one state and batch: ε ∇_θ(1/m) Σ ln(1 − D(G(zᵢ))), and the gradients of the
    regression loss and of the variants that break the identity."""
    rng = np.random.default_rng(seed)
    gen = jnp.asarray(rng.standard_normal((6, 2, 4)))
    crit = jnp.asarray(rng.standard_normal((5, 4)))
    z = jnp.asarray(rng.standard_normal((16, 2)))
    sat = jax.grad(lambda g: jnp.mean(jax.nn.log_sigmoid(-critic(crit, generator(g, z, TANH),
                                                                  TANH))))(gen)
    nonsat = jax.grad(lambda g: -jnp.mean(jax.nn.log_sigmoid(critic(crit, generator(g, z, TANH),
                                                                     TANH))))(gen)
    y = jax.lax.stop_gradient(algorithm2.moved_points(gen, crit, z, eps, TANH))
    reg = jax.grad(algorithm2.regression_loss)(gen, z, y, TANH)
    half = jax.grad(lambda g: 0.5 * algorithm2.regression_loss(g, z, y, TANH))(gen)
    through = jax.grad(lambda g: algorithm2.regression_loss(
        g, z, algorithm2.moved_points(g, crit, z, eps, TANH), TANH))(gen)
    return eps, sat, nonsat, reg, half, through


def test_regression_gradient_is_epsilon_times_saturating_gradient(x64):
    eps, sat, _, reg, _, _ = _grads()
    assert_allclose(reg, eps * sat, atol=1e-14)


def test_variants_that_break_the_identity(x64):
    # A ½ in the squared loss gives ε/2; differentiating through yᵢ gives the gradient of
    # R = ε²(1/m)Σ|drift|², exactly quadratic in ε; the non-saturating loss weighs each point by
    # (1 − D)/D relative to the saturating one. Each misses ε∇(saturating) by far more than 1e-10.
    eps, sat, nonsat, reg, half, through = _grads()
    through_2eps = _grads(eps=2 * eps)[-1]
    scale = float(np.abs(np.asarray(eps * sat)).max())
    assert_allclose(half, 0.5 * eps * sat, atol=1e-14)
    for wrong in (half, through, eps * nonsat):
        assert float(np.abs(np.asarray(wrong - eps * sat)).max()) > 1e-3 * scale
    assert_allclose(through_2eps, 4 * through, rtol=1e-10, atol=1e-15)


def test_algorithm2_fit_reaches_the_moved_points(x64):
    # Many regression steps with a flexible generator bring G(zᵢ) to yᵢ: the residual falls by
    # orders of magnitude (the reading t = kε rests on it).
    rng = np.random.default_rng(1)
    gen = jnp.asarray(rng.standard_normal((32, 1, 3)))
    crit = jnp.asarray(rng.standard_normal((8, 3)))
    z = jnp.linspace(-2.0, 2.0, 32)[:, None]
    y = algorithm2.moved_points(gen, crit, z, 0.1, TANH)
    tx = optax.adam(0.01)
    r0 = float(algorithm2.regression_loss(gen, z, y, TANH))
    g, _ = jax.jit(lambda g: algorithm2.fit(g, tx.init(g), z, y, tx, 2000, TANH))(gen)
    assert float(algorithm2.regression_loss(g, z, y, TANH)) < 1e-3 * r0


# -- the drift and the optimal discriminator ---------------------------------------------------

def test_drift_at_optimal_discriminator_is_the_particle_ode_velocity(x64):
    # With ℓ = ln ρ_d − ln ρ_G (D = D*): ∇D/(2(1 − D)) = −½ ∂ ln(ρ_G/(ρ_d + ρ_G)) (ODE (5)).
    y = jnp.linspace(-3.0, 4.0, 57)
    drift = log_loss.drift(lambda p: _gaussians(p[:, 0])[2], y[:, None])[:, 0]

    def first_variation(p):
        rd, rg, _ = _gaussians(p)
        return 0.5 * jnp.log(rg / (rd + rg))

    assert_allclose(drift, -jax.vmap(jax.grad(first_variation))(y), rtol=1e-12, atol=1e-14)


def test_value_at_optimal_discriminator_is_minus_ln4_plus_2jsd(x64):
    # On a grid shared by both laws (weights h ρ_d and h ρ_G), V(D*) = −ln 4 + 2 JSD to 1e-9:
    # the JSD of N(0, 1) and N(1.5, 0.5²) is 0.35119.
    y = jnp.linspace(-9.0, 9.0, 3601)
    h = float(y[1] - y[0])
    rd, rg, ell = _gaussians(y)
    jsd = float(divergences.jsd(rd, rg, h))
    assert jsd == pytest.approx(0.351190, abs=1e-6)
    v = (h * rd) @ jax.nn.log_sigmoid(ell) + (h * rg) @ jax.nn.log_sigmoid(-ell)
    assert float(v) == pytest.approx(log_loss.optimal_value(jsd), abs=1e-9)
    assert_allclose(jax.nn.sigmoid(ell), log_loss.optimal_discriminator(rd, rg), rtol=1e-12)


def test_trained_discriminator_approaches_optimal(x64):
    # The shallow discriminator (M = 32 tanh neurons) trained by 8000 Adam steps on the log-loss
    # value for a fixed generator law N(1.5, 0.5²) against data N(0, 1). Expectations on a grid
    # shared by both laws, so that V ≤ V(D*) holds exactly (a discriminator cannot separate
    # point sets that coincide). Measured: V(D*) − V = 1.7e-5, max |D − D*| on [−2, 3] = 0.0043.
    y = jnp.linspace(-7.0, 7.0, 401)
    h = float(y[1] - y[0])
    rd, rg, _ = _gaussians(y)
    pts = y[:, None]
    v_star = log_loss.optimal_value(float(divergences.jsd(rd, rg, h)))
    crit = jnp.asarray(np.random.default_rng(0).standard_normal((32, 3)) * np.array([10., 1, 1]))
    tx = optax.adam(0.05)
    loss = lambda c: -log_loss.value_at(c, pts, h * rg, pts, h * rd, TANH)  # noqa: E731

    def body(carry, _):
        c, o = carry
        u, o = tx.update(jax.grad(loss)(c), o, c)
        return (optax.apply_updates(c, u), o), None

    crit = jax.jit(lambda c: jax.lax.scan(body, (c, tx.init(c)), None, length=8000)[0][0])(crit)
    v = -float(loss(crit))
    assert v <= v_star + 1e-9
    assert v_star - v < 1e-4
    inner = (y > -2) & (y < 3)
    d = jax.nn.sigmoid(critic(crit, pts, TANH))
    assert float(jnp.max(jnp.abs(d - log_loss.optimal_discriminator(rd, rg))[inner])) < 0.02


# -- the system ---------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["saturating", "nonsaturating"])
def test_duplicating_particles_leaves_population_trajectory_unchanged(x64, loss):
    # N → 2N, M → 2M, α → 2α: the same measures at every step (population, simultaneous).
    kw = dict(K=1, L=1, population=True, n_critic=2, loss=loss, quadrature_nodes=12)
    g1 = small_gan(N=6, M=5, lr=0.3, **kw)
    g2 = small_gan(N=12, M=10, lr=0.6, **kw)
    st = jax.jit(g1.init)(jax.random.key(4))
    a = _steps(g1, st, 200)
    b = _steps(g2, duplicate_state(st, g2), 200)
    assert_allclose(b.gen[:6], a.gen, rtol=1e-11, atol=1e-12)
    assert_allclose(b.gen[6:], a.gen, rtol=1e-11, atol=1e-12)
    assert_allclose(b.crit[:5], a.crit, rtol=1e-11, atol=1e-12)
    assert float(jnp.abs(a.gen - st.gen).max()) > 1e-2


def test_losses_differ_but_share_the_discriminator_step(x64):
    # One simultaneous population step: the discriminator's update is the same for both
    # generator losses, the generator's is not.
    kw = dict(K=1, L=1, population=True, quadrature_nodes=12)
    sat, non = small_gan(**kw), small_gan(loss="nonsaturating", **kw)
    st = jax.jit(sat.init)(jax.random.key(0))
    a, b = _steps(sat, st, 1), _steps(non, st, 1)
    assert_allclose(a.crit, b.crit, atol=1e-15)
    assert float(jnp.abs(a.gen - b.gen).max()) > 1e-6


def test_observables_and_the_jsd_bound(x64):
    g = small_gan(K=1, L=1, n_eval=512)
    obs = jax.jit(g.observe)(jax.jit(g.init)(jax.random.key(0)))
    for key in ("value", "jsd_lower_bound", "d_real", "d_fake", "jsd", "w1", "w2"):
        assert np.isfinite(float(obs[key])), key
    assert 0 < float(obs["d_real"]) < 1 and 0 < float(obs["d_fake"]) < 1
    assert float(obs["jsd_lower_bound"]) <= float(obs["jsd"]) + 0.05
    assert float(obs["jsd"]) <= np.log(2) + 1e-9


def test_jsd_estimator(x64):
    # Grid JSD: 0 for equal densities, ln 2 for disjoint ones. KDE of 2048 quantile points of
    # N(1.5, 0.5²) against N(0, 1): within 0.01 of the exact 0.35119 (the smoothing bias
    # b²-order: measured 0.0047), and 1e-3 from N(0, 1) itself.
    y = jnp.linspace(-8.0, 8.0, 801)
    h = float(y[1] - y[0])
    rd, rg, _ = _gaussians(y)
    assert float(divergences.jsd(rd, rd, h)) == pytest.approx(0.0, abs=1e-15)
    a = jnp.where(y < 0, 1.0 / 8, 0.0)
    assert float(divergences.jsd(a, a[::-1], h)) == pytest.approx(np.log(2), rel=1e-12)
    u = (np.arange(2048) + 0.5) / 2048
    q = jnp.asarray(laws.StandardGaussian(1).quantile(u))
    est = float(divergences.jsd_kde(1.5 + 0.5 * q, y, rd))
    assert abs(est - 0.351190) < 0.01
    assert float(divergences.jsd_kde(q, y, rd)) < 1e-3


def test_config_errors_name_the_field():
    raw = {"system": {"kind": "gan", "dynamics": {"algorithm": "jsd_flow"}}}
    with pytest.raises(C.ConfigError, match=r"system\.dynamics\.scheme"):
        C.from_dict(raw)
    raw["system"]["dynamics"].update(scheme="alternating", loss="nonsaturating")
    with pytest.raises(C.ConfigError, match=r"system\.dynamics\.loss"):
        C.from_dict(raw)
    with pytest.raises(C.ConfigError, match=r"system\.dynamics\.algorithm"):
        C.from_dict({"system": {"kind": "gan", "dynamics": {"algorithm": "three"}}})
    cfg = C.from_dict({"system": {"kind": "gan", "K": 1}})
    assert cfg.system.dynamics.clip == float("inf")


def test_stack_and_vmap_over_clip(x64):
    # n_c and c are leaves: two clips, one compiled step (the sweep path).
    g = small_gan(K=1, L=1, clip=0.5)
    gs = jax.tree.map(lambda *x: jnp.stack(x), g, small_gan(K=1, L=1, clip=np.inf))
    st = stack(jax.jit(g.init)(jax.random.key(0)), 2)
    out = jax.jit(jax.vmap(lambda s, x: s.step(x, s.step_noise(jax.random.key(1)))))(gs, st)
    assert float(jnp.abs(out.crit[0]).max()) <= 0.5
    assert float(jnp.abs(out.crit[1]).max()) > 0.5


def test_kde_is_scipy_gaussian_kde_and_survives_a_collapsed_cloud(x64):
    # The written-out KDE equals jax.scipy.stats.gaussian_kde (bw_method = b/σ̂) to 1e-12; a
    # cloud of coincident points (a collapsed generator: σ̂ = 0, where gaussian_kde is undefined)
    # still gets a finite JSD, close to ln 2 for a spike far from ρ_d.
    from jax.scipy.stats import gaussian_kde
    pts = jnp.asarray(np.random.default_rng(0).standard_normal(300))
    y = jnp.linspace(-4.0, 4.0, 101)
    ref = gaussian_kde(pts[None], bw_method=0.3 / jnp.std(pts, ddof=1)).evaluate(y[None])
    assert_allclose(divergences.kde_density(pts, y, 0.3), ref, rtol=1e-12)
    grid = jnp.linspace(-8.0, 8.0, 801)
    rd = _gaussians(grid)[0]
    spike = float(divergences.jsd_kde(jnp.full((64,), 6.0), grid, rd))
    assert np.isfinite(spike) and 0.6 < spike <= np.log(2) + 1e-9


def test_a_saved_config_with_no_clipping_reads_back(tmp_path):
    # clip = inf (the gan default) survives dumps → load; other fields still refuse inf and nan.
    cfg = C.from_dict({"system": {"kind": "gan", "K": 1}})
    path = tmp_path / "c.toml"
    path.write_text(C.dumps(cfg))
    assert C.load(path).system.dynamics.clip == float("inf")
    with pytest.raises(C.ConfigError, match=r"system\.dynamics\.lr"):
        C.from_dict({"system": {"kind": "gan", "dynamics": {"lr": float("inf")}}})
    with pytest.raises(C.ConfigError, match=r"system\.dynamics\.clip"):
        C.from_dict({"system": {"kind": "gan", "dynamics": {"clip": float("nan")}}})
