"""Tests of the toy game (docs/model.md §5): closed forms, conservation, orders, periods, particles and
the clipped limit cycle. Float64 throughout (``jax.enable_x64``) where tolerances are below 1e-6."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield.systems.toy import limit_cycle as lc
from meanfield.systems.toy import game as toy
from meanfield.core.driver import make_schedule, replica_keys, simulate
from meanfield.core.system import ParticleSystem


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _gauss_A_series(t: float, n: int = 400) -> float:
    """A(θ) = Σ θ^{2n+2}/((2n+2)(2n+1)!!) for the Gaussian latent."""
    s, c = 0.0, t  # c = t^{2k+1}/(2k+1)!!
    for k in range(n):
        s += c * t / (2 * k + 2)
        c *= t * t / (2 * k + 3)
    return s


_velocities = jax.jit(toy.particle_velocities, static_argnums=(2, 3, 4))


def _upward_crossings(t, th):
    d = np.asarray(th)
    i = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    return t[i] + (t[i + 1] - t[i]) * (-d[i]) / (d[i + 1] - d[i])


# -- closed forms -------------------------------------------------------------------------------
@pytest.mark.parametrize("latent", toy.LATENTS)
def test_density_and_potential_derivatives(latent):
    th = jnp.linspace(-4.0, 4.0, 41)
    # F' = ρ and A' = (F − ½)/ρ, by autodiff, to rounding (1e-12 relative)
    dF = jax.jit(jax.vmap(jax.grad(lambda x: toy.F(x, latent))))(th)
    np.testing.assert_allclose(dF, toy.rho(th, latent), rtol=1e-12, atol=1e-15)
    dA = jax.jit(jax.vmap(jax.grad(lambda x: toy.A(x, latent))))(th)
    np.testing.assert_allclose(dA, (toy.F(th, latent) - 0.5) / toy.rho(th, latent), rtol=1e-11,
                               atol=1e-14)
    assert float(toy.A(jnp.float64(0.0), latent)) == 0.0


def test_logistic_potential_is_cosh_minus_one():
    th = jnp.linspace(-6.0, 6.0, 121)
    np.testing.assert_allclose(toy.A(th, "logistic"), np.cosh(np.asarray(th)) - 1.0, rtol=1e-13,
                               atol=1e-16)


@pytest.mark.parametrize("t", [1e-3, 0.3, 1.0, 2.5, -3.0, 6.0])
def test_gaussian_potential_matches_hypergeometric_series(t):
    # quadrature vs the ₂F₂ series: 1e-12 relative (both are accurate to ~1e-14)
    assert float(toy.A(jnp.float64(t), "gaussian")) == pytest.approx(_gauss_A_series(t), rel=1e-12)


# -- reduced flow -------------------------------------------------------------------------------
@pytest.mark.parametrize("latent,gamma,theta0", [("logistic", 1.0, 0.8), ("logistic", 10.0, 0.3),
                                                 ("gaussian", 1.0, 0.8), ("gaussian", 10.0, 0.3)])
def test_rk4_conserves_energy_over_t100(latent, gamma, theta0):
    dt, n = 0.01, 10_000
    th, om = toy.reduced_trajectory(theta0, 0.0, dt, n, gamma=gamma, c=None, latent=latent,
                                    integrator="rk4")
    # the orbit must stay inside the band |ω| < c = 1, where the clipped and unclipped flows agree
    assert float(jnp.max(jnp.abs(om))) < 1.0
    H = toy.energy(th, om, gamma, latent)
    # Required: relative drift below 1e-8 over t = 100 (RK4 at dt = 0.01 gives ~1e-11)
    assert float(jnp.max(jnp.abs(H / H[0] - 1.0))) < 1e-8


def test_clipped_rk4_equals_unclipped_inside_band():
    a = toy.reduced_trajectory(0.8, 0.0, 0.01, 2000, c=1.0, integrator="rk4")
    b = toy.reduced_trajectory(0.8, 0.0, 0.01, 2000, c=None, integrator="rk4")
    # Two programs (with and without the projection): equal up to how XLA rounds each.
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-15)


@partial(jax.jit, static_argnames=("latent",))
def _euler_final(theta0, omega0, dt, n, latent):
    """Projected Euler (c = 1) for a traced number of steps: final (θ, ω) and max |ω|."""
    def body(_, x):
        th, om = toy.euler_step(x[0], x[1], dt, 1.0, 1.0, latent)
        return th, om, jnp.maximum(x[2], jnp.abs(om))
    return jax.lax.fori_loop(0, n, body, (theta0, omega0, jnp.abs(omega0)))


@pytest.mark.parametrize("latent", toy.LATENTS)
def test_projected_euler_energy_error_is_first_order(latent):
    # unclipped orbit (|ω| < c throughout), fixed horizon T = 20
    T, theta0 = 20.0, jnp.float64(0.5)
    dts = np.array([0.04, 0.02, 0.01, 0.005])
    H0 = float(toy.energy(theta0, 0.0, 1.0, latent))
    err = []
    for dt in dts:
        th, om, om_max = _euler_final(theta0, jnp.float64(0.0), dt, int(round(T / dt)), latent)
        assert float(om_max) < 1.0
        err.append(abs(float(toy.energy(th, om, 1.0, latent)) - H0))
    order = np.polyfit(np.log(dts), np.log(err), 1)[0]
    # explicit Euler on a centre: energy error C Δt T; fitted order 1 within 0.05
    assert order == pytest.approx(1.0, abs=0.05)
    assert all(e > 0 for e in err)


@pytest.mark.parametrize("latent", toy.LATENTS)
@pytest.mark.parametrize("gamma", [1.0, 10.0])
def test_small_orbit_period(latent, gamma):
    T0 = 2 * np.pi / (float(toy.rho(jnp.float64(0.0), latent)) * np.sqrt(gamma))
    dt = 0.005
    n = int(2.2 * T0 / dt)
    th, _ = toy.reduced_trajectory(-1e-3, 0.0, dt, n, gamma=gamma, c=None, latent=latent,
                                   integrator="rk4")
    cr = _upward_crossings(np.arange(n + 1) * dt, th)
    # amplitude 1e-3: T(H) − T0 = O(H) = O(1e-6) relative; crossing interpolation is O(dt³)
    assert cr[1] - cr[0] == pytest.approx(T0, rel=1e-5)


@pytest.mark.parametrize("latent", toy.LATENTS)
@pytest.mark.parametrize("gamma", [1.0, 10.0])
def test_orbit_period_quadrature_tends_to_small_orbit_period(latent, gamma):
    T0 = 2 * np.pi / (float(toy.rho(jnp.float64(0.0), latent)) * np.sqrt(gamma))
    # T(H) = T0 (1 + O(H)): at H = 1e-10 the quadrature must agree to 1e-9
    assert lc.orbit_period(1e-10, gamma, latent) == pytest.approx(T0, rel=1e-9)
    assert lc.orbit_period(1e-2, gamma, latent) > T0 * (1 + 1e-4)


@pytest.mark.parametrize("latent", toy.LATENTS)
def test_orbit_period_quadrature_matches_simulation(latent):
    H = 0.3
    b = lc.turning_point(H, latent)
    assert float(toy.A(jnp.float64(b), latent)) == pytest.approx(H, rel=1e-13)
    dt = 0.002
    period = lc.orbit_period(H, 1.0, latent)
    n = int(2.1 * period / dt)
    th, _ = toy.reduced_trajectory(-b, 0.0, dt, n, c=None, latent=latent, integrator="rk4")
    cr = _upward_crossings(np.arange(n + 1) * dt, th)
    # finite orbit, clearly longer than the small-orbit period; agreement to 1e-7
    assert period > 2 * np.pi / float(toy.rho(jnp.float64(0.0), latent)) * 1.01
    assert cr[1] - cr[0] == pytest.approx(period, rel=1e-7)


# -- particle version ---------------------------------------------------------------------------
@pytest.mark.parametrize("latent,N,M,sign", [
    *[(lat, N, M, "fake_minus_real") for lat in toy.LATENTS for N, M in [(1, 3), (4, 5), (7, 2)]],
    ("logistic", 4, 5, "wgan"), ("gaussian", 7, 2, "wgan")])
def test_particle_velocities_are_scaled_gradients_of_the_closed_form_payoff(latent, N, M, sign):
    kt, ko = jax.random.split(jax.random.key(N * 10 + M))
    th = jax.random.normal(kt, (N,))
    om = jax.random.normal(ko, (M,))
    vt, vo = jax.jit(toy.particle_velocities, static_argnums=(2, 3, 4))(th, om, 2.0, latent, sign)
    gt, go = jax.jit(jax.grad(toy.particle_payoff, (0, 1)), static_argnums=(2, 3))(th, om, latent,
                                                                                 sign)
    # docs/model.md §1: θ_i' = −N ∂Ψ/∂θ_i, ω_j' = γ M ∂Ψ/∂ω_j (distinct θ's, ω_j ≠ 0): rounding only
    np.testing.assert_allclose(vt, -N * gt, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vo, 2.0 * M * go, rtol=1e-12, atol=1e-14)
    if sign == "wgan":
        # real − fake is −(fake − real): the payoff and every velocity change sign
        # (differently specialised programs: equal up to rounding, not bitwise)
        assert float(toy.particle_payoff(th, om, latent, sign)) == pytest.approx(-float(
            toy.particle_payoff(th, om, latent)), rel=1e-14)
        v002 = _velocities(th, om, 2.0, latent)
        np.testing.assert_allclose(vt, -v002[0], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(vo, -v002[1], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("sign", toy.SIGNS)
def test_critic_at_zero_takes_the_minimal_norm_filippov_velocity(sign):
    # one-sided velocities V+ (ω > 0) and V− (ω < 0) from particles just off 0; at ω = 0 the
    # velocity is the element of the segment between them nearest to 0
    th = jnp.array([-1.3, -0.2, 0.4, 2.0, 2.5])
    for om0 in (0.9, -0.9, 0.05):
        om = jnp.array([om0, 1e-9, -1e-9, 0.0])
        _, vo = _velocities(th, om, 1.0, "logistic", sign)
        lo, hi = sorted([float(vo[1]), float(vo[2])])
        assert float(vo[3]) == pytest.approx(min(max(0.0, lo), hi), abs=1e-15)


def test_wgan_sign_reduced_flow_is_the_mirror_image():
    # under "wgan" (θ, ω) ↦ (θ, −ω) maps the fake_minus_real flow onto the wgan flow, clipped or not;
    # the N = M = 1 ToyGame is that reduced scheme step for step
    for integ, c in (("euler", 1.0), ("rk4", None)):
        th, om = toy.reduced_trajectory(-2.0, 0.3, 0.01, 3000, c=c, integrator=integ,
                                        sign="wgan")
        th2, om2 = toy.reduced_trajectory(-2.0, -0.3, 0.01, 3000, c=c, integrator=integ)
        np.testing.assert_allclose(th, th2, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(om, -om2, rtol=1e-12, atol=1e-14)
        assert float(jnp.max(jnp.abs(om))) == 1.0 or c is None  # the clip was met
    game = toy.ToyGame(N=1, M=1, dt=0.01, theta0=-2.0, omega0=0.3, dtype="float64", sign="wgan")
    s = game.init(jax.random.key(0))
    s = jax.jit(lambda s: jax.lax.fori_loop(0, 3000, lambda i, s: game.step(s, None), s))(s)
    th, om = toy.reduced_trajectory(-2.0, 0.3, 0.01, 3000, c=1.0, sign="wgan")
    assert float(s.theta[0]) == pytest.approx(float(th[-1]), rel=1e-13)
    assert float(s.omega[0]) == pytest.approx(float(om[-1]), rel=1e-13)


def _cloud(sign, omega0, T=10.0, dt=1e-3):
    """θ_i(t) ``[n + 1, 64]`` of the sign study: N = 64, θ_i ~ N(−2, 0.17²), M = 1, Euler."""
    game = toy.ToyGame(N=64, M=1, dt=dt, theta0=-2.0, omega0=omega0, theta_spread=0.17,
                       dtype="float64", sign=sign)
    n = int(round(T / dt))
    run = jax.jit(lambda s: jax.lax.scan(lambda s, _: (game.step(s, None), s.theta), s, None,
                                         length=n + 1)[1])
    return np.arange(n + 1) * dt, np.asarray(run(game.init(jax.random.key(0))))


@pytest.mark.parametrize("omega0", [0.3, -0.3])
def test_wgan_sign_aggregates_the_generator_cloud_into_a_dirac(omega0):
    # both halves move towards the median of μ: the cloud (initial std 0.155) lands on one point
    # in finite time, measured t = 6.47 (ω0 = 0.3) and 5.12 (ω0 = −0.3), and stays one point up to
    # the projected Euler scheme's O(Δt) rank alternation (std ≈ 1e-4 at Δt = 1e-3)
    t, th = _cloud("wgan", omega0)
    sd = th.std(axis=1)
    assert sd[0] > 0.1
    t_agg = t[np.argmax(sd < 1e-3)]
    assert 4.0 < t_agg < 7.0, t_agg
    assert sd[t >= 7.0].max() < 1e-3
    assert sd[-1] < 3e-4
    # the same cloud under fake_minus_real never comes near a point (next test)
    assert _cloud("fake_minus_real", omega0, T=7.0)[1].std(axis=1).min() > 0.1


@pytest.mark.parametrize("omega0", [0.3, -0.3])
def test_fake_minus_real_sign_splits_the_generator_cloud_at_its_median(omega0):
    # both halves move away from the median: by t = 10 the cloud is two groups, ranks 1..32 and
    # 33..64, separated by a gap of 3.1 (ω0 = 0.3) / 2.9 (ω0 = −0.3), 20 times the initial std
    t, th = _cloud("fake_minus_real", omega0)
    s = np.sort(th[-1])
    gaps = np.diff(s)
    assert int(np.argmax(gaps)) + 1 == 32      # the largest gap sits between ranks N/2 and N/2 + 1
    assert gaps[31] > 2.0
    assert s[31] - s[0] < 0.5 and s[-1] - s[32] < 1.0    # each group keeps about its width
    assert th[-1].std() > 5 * th[0].std()


def test_particle_payoff_reduces_to_reduced_payoff():
    # N = 1: Ψ = (½ − F(θ)) ω̄ for any critic cloud (the ReLU kink is never seen by g = ±1)
    th = jnp.array([0.7])
    om = jnp.array([0.9, -0.4, 0.1])
    assert float(toy.particle_payoff(th, om)) == pytest.approx(
        float((0.5 - toy.F(0.7)) * jnp.mean(om)), rel=1e-14)


def test_concentrated_cloud_has_the_reduced_centre_of_mass_velocity():
    # all particles at one point: the mean velocities are the reduced field (exactly, any N, M)
    for N, M in [(1, 1), (6, 3), (7, 4)]:
        th = jnp.full((N,), -0.8)
        om = jnp.full((M,), 0.35)
        vt, vo = _velocities(th, om, 3.0)
        rt, ro = toy.toy_vector_field(-0.8, 0.35, 3.0)
        assert float(jnp.mean(vt)) == pytest.approx(float(rt), rel=1e-13)
        assert float(jnp.mean(vo)) == pytest.approx(float(ro), rel=1e-13)


@pytest.mark.parametrize("latent", toy.LATENTS)
def test_particle_centre_of_mass_follows_reduced_ode_with_first_order_error(latent):
    # N = 1 generator, M = 8 critics with spread 0.2: ω̄ and θ follow the reduced ODE exactly
    # (unclipped), so the GAN algorithm's error against RK4 is the Euler error, O(Δt)
    T = 5.0
    dts = np.array([0.05, 0.025, 0.0125])
    errs = []
    for dt in dts:
        game = toy.ToyGame(N=1, M=8, clip=None, latent=latent, dt=float(dt), theta0=-1.0,
                           omega0=0.1, omega_spread=0.2, dtype="float64")
        s = game.init(jax.random.key(3))
        omega_bar0 = float(jnp.mean(s.omega))
        # the reference starts from the cloud's actual mean
        ref_k = toy.reduced_trajectory(-1.0, omega_bar0, 1e-3, int(T / 1e-3), c=None,
                                       latent=latent, integrator="rk4")
        step = jax.jit(lambda s: jax.lax.fori_loop(0, int(round(T / dt)),
                                                   lambda i, s: game.step(s, None), s))
        s = step(s)
        o = game.observe(s)
        errs.append(np.hypot(float(o["theta_mean"] - ref_k[0][-1]),
                             float(o["omega_mean"] - ref_k[1][-1])))
    order = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    # error ∝ Δt: fitted order 1 within 0.1, and the finest error is small
    assert order == pytest.approx(1.0, abs=0.1)
    assert errs[-1] < 5e-3


def test_concentrated_generator_cloud_splits_into_two_atoms():
    # N = 2 at θ = −1, ω = 0 (logistic, γ = 1, unclipped): only the upper atom b moves while
    # ω > 0 and A(b) + ω²/γ is conserved (not the reduced H = A + ω²/2γ). The pair stops at
    # (−1, +1) with ω stuck at 0: the centre of mass does NOT follow the reduced ODE for N > 1.
    game = toy.ToyGame(N=2, M=1, clip=None, dt=1e-3, integrator="rk4", theta0=-1.0, omega0=0.0,
                       dtype="float64")
    s = game.init(jax.random.key(0))
    run = jax.jit(lambda s: jax.lax.scan(lambda s, _: (game.step(s, None), s), s, None,
                                         length=20_000))
    s_end, hist = run(s)
    th, om = np.asarray(hist.theta), np.asarray(hist.omega)[:, 0]
    # the first ω > 0 phase, up to where ω is back near 0 (beyond, RK4 straddles the switch)
    k_max = int(np.argmax(om))
    k_end = k_max + int(np.argmax(om[k_max:] < 1e-3))
    assert np.all(om[1:k_end] > 0) and k_end > k_max
    first_pos = np.arange(1, k_end)
    a, b = th[first_pos].min(axis=1), th[first_pos].max(axis=1)
    np.testing.assert_allclose(a, -1.0, atol=1e-14)  # the lower atom is frozen
    half_energy = np.asarray(toy.A(jnp.asarray(b))) + om[first_pos] ** 2
    np.testing.assert_allclose(half_energy, half_energy[0], rtol=1e-9)
    # the end state: atoms at ∓1 (within the O(dt) chattering of ω about 0), ω ≈ 0
    np.testing.assert_allclose(np.sort(np.asarray(s_end.theta)), [-1.0, 1.0], atol=1e-2)
    assert abs(float(s_end.omega[0])) < 1e-2
    # while the reduced ODE keeps its energy cosh 1 − 1 = 0.543 forever
    ref = toy.reduced_trajectory(-1.0, 0.0, 1e-3, 20_000, c=None, integrator="rk4")
    assert float(toy.energy(ref[0][-1], ref[1][-1])) == pytest.approx(np.cosh(1) - 1, rel=1e-9)
    assert float(game.observe(s_end)["energy"]) < 0.01


def test_toy_config_sign_reaches_the_game():
    from meanfield.io import config
    from meanfield.io import experiment

    assert config.load(None, ["system.kind=toy"]).system.sign == "fake_minus_real"
    cfg = config.load(None, ["system.kind=toy", "system.sign=wgan"])
    game = experiment.build_system(cfg)
    assert game.sign == "wgan"
    # summary.json names the game
    obs = {"theta_mean": np.zeros((1, 3)), "energy": np.zeros((1, 3))}
    assert lc.summary_fields(game, np.arange(3.0), obs)["sign"] == "wgan"
    with pytest.raises(config.ConfigError, match="system.sign"):
        config.load(None, ["system.kind=toy", "system.sign=standard"])


def test_toygame_is_a_particle_system_and_runs_in_the_driver():
    game = toy.ToyGame(N=1, M=1, dt=0.05, theta0=-1.0, omega0=0.0, dtype="float64")
    assert isinstance(game, ParticleSystem)
    sched = make_schedule(game.dt, 10.0, n_records=11, snapshot_times=(0.0, 10.0))
    ik, nk = replica_keys(0, 2)
    traj = simulate(game, sched, ik, nk)
    for k in ("theta_mean", "omega_mean", "energy"):
        assert traj.observables[k].shape == (2, 11)
    # the N = M = 1 ToyGame is the reduced projected Euler scheme, step for step
    th, om = toy.reduced_trajectory(-1.0, 0.0, 0.05, sched.n_steps, c=1.0, integrator="euler")
    every = sched.record_every
    np.testing.assert_allclose(traj.observables["theta_mean"][0], np.asarray(th)[::every],
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(traj.observables["omega_mean"][1], np.asarray(om)[::every],
                               rtol=1e-13, atol=1e-15)
    assert traj.snapshots["theta"].shape == (2, 2, 1)


# -- clipping and the limit cycle ---------------------------------------------------------------
def test_limit_cycle_theory_defaults():
    assert lc.limit_energy() == 0.5
    # H* = 1/2, turning points ±arccosh(3/2); period by spectral quadrature (stable to 1e-12)
    assert lc.turning_point(0.5) == pytest.approx(np.arccosh(1.5), rel=1e-15)
    assert lc.orbit_period(0.5, n=64) == pytest.approx(lc.orbit_period(0.5, n=512), rel=1e-12)
    assert lc.orbit_period(0.5) == pytest.approx(26.636668886, rel=1e-9)


@pytest.mark.parametrize("start", [(-2.0, 0.0), (1.5, 1.0), (3.0, -0.7)])
def test_exact_clipped_flow_ends_on_H_star_from_outside(start):
    cyc = lc.measure_limit_cycle(*start, method="exact", T=150.0)
    assert cyc.initial_energy > 0.5
    # event-located DOP853 at rtol 1e-12: energy and period to 1e-9
    assert cyc.energy == pytest.approx(0.5, rel=1e-9)
    assert cyc.energy_max - cyc.energy_min < 1e-8
    assert cyc.period == pytest.approx(lc.orbit_period(0.5), rel=1e-9)


def test_exact_clipped_flow_keeps_inside_orbits():
    # H_0 < H*: never touches a face; its own orbit is its long-run orbit (neutral, not attracted)
    cyc = lc.measure_limit_cycle(-0.5, 0.0, method="exact", T=80.0)
    assert cyc.energy == pytest.approx(cyc.initial_energy, rel=1e-9)
    assert cyc.period == pytest.approx(lc.orbit_period(cyc.initial_energy), rel=1e-9)
    assert cyc.energy < 0.5 - 0.3


def test_face_sliding_time_closed_form():
    # logistic: the time on the face from θ_1 to 0 is (2|θ_1| + 2 sinh|θ_1|)/c, with θ_1 where
    # the level H_0 meets ω = c: A(θ_1) = H_0 − c²/2γ
    sol = lc.clipped_flow(-2.0, 0.0, 20.0)
    H0 = np.cosh(2.0) - 1.0
    th1 = np.arccosh(1.0 + H0 - 0.5)
    t_in, t_out = sol.face_intervals[0]
    assert t_out - t_in == pytest.approx(2 * th1 + 2 * np.sinh(th1), rel=1e-9)


def test_gaussian_latent_limit_cycle():
    cyc = lc.measure_limit_cycle(-2.0, 0.0, latent="gaussian", method="exact", T=120.0)
    assert cyc.energy == pytest.approx(0.5, rel=1e-9)
    assert cyc.period == pytest.approx(lc.orbit_period(0.5, latent="gaussian"), rel=1e-9)


def test_projected_euler_attracts_from_inside_and_outside():
    # the GAN algorithm (Δt = 0.05): both starts end on the same cycle, energy in [H*, H* + O(Δt)]
    out = lc.measure_limit_cycle(-2.0, 0.0, method="euler", dt=0.05, T=1500.0)
    ins = lc.measure_limit_cycle(-0.5, 0.0, method="euler", dt=0.05, T=1500.0)
    assert ins.initial_energy < 0.5 < out.initial_energy
    for cyc in (out, ins):
        assert cyc.energy_min == pytest.approx(0.5, abs=1e-4)   # reset at the face exit, O(Δt²)
        assert 0.5 < cyc.energy < 0.5 + 0.5 * 0.05              # mean excess ≈ 0.18 Δt
    assert out.energy == pytest.approx(ins.energy, abs=1e-4)
    assert out.period == pytest.approx(ins.period, rel=1e-4)


def test_projected_euler_limit_cycle_converges_to_H_star_linearly():
    # mean excess energy of the GAN algorithm's cycle ∝ Δt (≈ 0.18 Δt): fitted order 1 ± 0.1
    dts = np.array([0.1, 0.05, 0.025, 0.0125])
    excess = [lc.measure_limit_cycle(-2.0, 0.0, method="euler", dt=float(dt), T=400.0).energy - 0.5
              for dt in dts]
    order = np.polyfit(np.log(dts), np.log(excess), 1)[0]
    assert order == pytest.approx(1.0, abs=0.1)
