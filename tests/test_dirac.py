"""Tests of the Dirac GAN and the bilinear game (docs/model.md §6) against closed forms, in float64."""

from __future__ import annotations

import dataclasses
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield.systems.dirac import gan as d
from meanfield.core.driver import make_schedule, replica_keys, simulate
from meanfield.core.system import ParticleSystem

REGS = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.7), (0.5, 1.2), (3.0, 0.0)]  # (γ_gp, σ)


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _jac(fn):
    return np.asarray(jax.jit(jax.jacfwd(lambda x: jnp.stack(fn(x[0], x[1]))))(jnp.zeros(2)))


@pytest.mark.parametrize("loss,flow", list(itertools.product(d.LOSSES, d.FLOWS)))
def test_equilibrium_jacobian_and_eigenvalues(loss, flow):
    vf = d.field(flow)
    for gp, sigma in REGS:
        J = _jac(lambda th, ps: vf(th, ps, loss, gp, sigma))
        # autodiff of the explicit field vs the closed form: rounding only
        np.testing.assert_allclose(J, d.equilibrium_jacobian(loss, flow, gp, sigma), atol=1e-13)
        ev = np.sort_complex(np.linalg.eigvals(J))
        np.testing.assert_allclose(ev, d.equilibrium_eigenvalues(loss, flow, gp, sigma),
                                   atol=1e-12)


def test_spectra_qualitatively():
    # Nash flow without regularisation: a centre ±i f'(0); f'(0) = ½ (GAN), 1 (WGAN)
    np.testing.assert_allclose(d.equilibrium_eigenvalues("gan"), [-0.5j, 0.5j], atol=1e-15)
    np.testing.assert_allclose(d.equilibrium_eigenvalues("wgan"), [-1j, 1j], atol=1e-15)
    # gradient penalty and instance noise (GAN, f''(0) = −¼) make it a stable focus
    assert np.all(d.equilibrium_eigenvalues("gan", gp=0.3).real < 0)
    assert np.all(d.equilibrium_eigenvalues("nonsaturating", sigma=0.7).real < 0)
    # instance noise does nothing for WGAN (f'' = 0); the penalty does
    assert np.all(d.equilibrium_eigenvalues("wgan", sigma=0.7).real == 0)
    assert np.all(d.equilibrium_eigenvalues("wgan", gp=0.3).real < 0)
    # Morse flow of F = θ_D·θ_G: a saddle ±1
    np.testing.assert_allclose(d.equilibrium_eigenvalues("wgan", "morse"), [-1, 1], atol=1e-15)


@pytest.mark.parametrize("loss", d.LOSSES)
def test_explicit_field_is_the_gradient_of_the_utilities(loss):
    for gp, sigma in REGS:
        @jax.jit
        def check(th, ps):
            gG = jax.grad(d.generator_loss, 0)(th, ps, loss, sigma)
            gD = jax.grad(d.payoff, (0, 1))(th, ps, loss, gp, sigma)
            return (d.nash_field(th, ps, loss, gp, sigma), (-gG, gD[1]),
                    d.morse_field(th, ps, loss, gp, sigma), gD)

        for th, ps in [(0.7, -1.3), (-2.0, 0.4)]:
            nash, nash_ad, morse, morse_ad = check(jnp.float64(th), jnp.float64(ps))
            # closed-form fields vs autodiff of the utilities: rounding only
            np.testing.assert_allclose(nash, nash_ad, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(morse, morse_ad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss,scheme", list(itertools.product(
    d.LOSSES, ["simultaneous", "alternating"])))
def test_update_jacobian(loss, scheme):
    step = d.simultaneous_step if scheme == "simultaneous" else d.alternating_step
    for gp, sigma in REGS:
        J = _jac(lambda th, ps: step(th, ps, 0.2, loss, gp, sigma))
        np.testing.assert_allclose(J, d.update_jacobian(loss, scheme, 0.2, gp, sigma), atol=1e-13)
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)),
                                   d.update_eigenvalues(loss, scheme, 0.2, gp, sigma), atol=1e-12)
    a = 1.0 if loss == "wgan" else 0.5
    moduli = np.abs(d.update_eigenvalues(loss, scheme, 0.2))
    # simultaneous: |1 ± 0.2 a i| = √(1 + h²a²) > 1; alternating: on the unit circle (det 1)
    expect = np.sqrt(1 + 0.04 * a * a) if scheme == "simultaneous" else 1.0
    np.testing.assert_allclose(moduli, expect, rtol=1e-14)


def test_simultaneous_wgan_norm_grows_exactly():
    # defaults: h = 0.2 from θ = ψ = 1, 500 steps, no clipping
    tr = d.trajectory(d.DiracGAN(loss="wgan", dtype="float64"), 500)
    ratio = tr["norm"][1:] / tr["norm"][:-1]
    np.testing.assert_allclose(ratio, np.sqrt(1.04), rtol=1e-13)
    assert tr["norm"][-1] == pytest.approx(np.sqrt(2) * 1.04**250, rel=1e-11)


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_simultaneous_norm_growth_formula(loss):
    # zero-sum losses: x·v = 0, so |x_{k+1}|/|x_k| = √(1 + h² f'(ψ_k θ_k)²) exactly
    system = d.DiracGAN(loss=loss, dtype="float64")
    tr = d.trajectory(system, 500)
    ratio = tr["norm"][1:] / tr["norm"][:-1]
    pred = np.asarray(d.simultaneous_growth(tr["theta"][:-1], tr["psi"][:-1], 0.2, loss))
    np.testing.assert_allclose(ratio, pred, rtol=1e-13)
    assert np.all(np.diff(tr["norm"]) > 0)
    if loss == "gan":
        # the nonlinear f' makes the growth state dependent, so it is not the linear rate
        assert np.ptp(ratio) > 1e-3


def test_nonsaturating_is_not_norm_preserving():
    # x·v = −θψ tanh(θψ/2) ≤ 0: the non-saturating loss dissipates away from the equilibrium
    tr = d.trajectory(d.DiracGAN(loss="nonsaturating", dtype="float64"), 500)
    assert tr["norm"][-1] < tr["norm"][0]


def test_alternating_wgan_conserves_quadratic_invariant():
    tr = d.trajectory(d.DiracGAN(loss="wgan", scheme="alternating", dtype="float64"), 500)
    Q = np.asarray(d.alternating_invariant(tr["theta"], tr["psi"], 0.2))
    # Q = θ² + ψ² + hθψ exact up to rounding (1e-12 relative over 500 steps)
    np.testing.assert_allclose(Q, 1 + 1 + 0.2, rtol=1e-12)
    # the plain norm is not conserved (so the test can fail on the wrong invariant)
    assert np.ptp(tr["norm"]) > 1e-2
    # and simultaneous steps do not conserve Q
    tr_s = d.trajectory(d.DiracGAN(loss="wgan", dtype="float64"), 50)
    Qs = np.asarray(d.alternating_invariant(tr_s["theta"], tr_s["psi"], 0.2))
    assert np.ptp(Qs) > 0.1


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_clipped_nash_flow_ends_on_circle_of_radius_c(loss):
    c = 0.5
    tr = d.trajectory(d.DiracGAN(loss=loss, scheme="nash_flow", h=0.01, clip=c,
                                 dtype="float64"), 6000)
    late = slice(-2500, None)
    # projected RK4 at dt = 0.01: the exit from the face is located to O(dt), which costs
    # O(dt²) in the radius; 1e-4 covers it
    np.testing.assert_allclose(tr["norm"][late], c, atol=1e-4)
    assert np.max(np.abs(tr["psi"][late])) <= c
    assert np.max(np.abs(tr["theta"][late])) == pytest.approx(c, abs=1e-4)
    # an orbit inside the band keeps its radius (θ² + ψ² is conserved by the zero-sum flow)
    tr_in = d.trajectory(d.DiracGAN(loss=loss, scheme="nash_flow", h=0.01, clip=c, theta0=0.3,
                                    psi0=0.1, dtype="float64"), 2000)
    np.testing.assert_allclose(tr_in["norm"], np.hypot(0.3, 0.1), rtol=1e-9)


def test_bilinear_game_flows():
    td, tg = jnp.array([1.0, -0.5, 0.2]), jnp.array([0.3, 0.8, -1.0])
    # Nash flow of θ_D·θ_G is a rotation: exact solution after time t
    t, n = 2.0, 2000
    h = t / n

    def rk4(_, x):
        k1 = d.bilinear_field(*x)
        k2 = d.bilinear_field(x[0] + 0.5 * h * k1[0], x[1] + 0.5 * h * k1[1])
        k3 = d.bilinear_field(x[0] + 0.5 * h * k2[0], x[1] + 0.5 * h * k2[1])
        k4 = d.bilinear_field(x[0] + h * k3[0], x[1] + h * k3[1])
        return (x[0] + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
                x[1] + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]))

    x = jax.jit(lambda x: jax.lax.fori_loop(0, n, rk4, x))((td, tg))
    # RK4 at h = 1e-3: global error ~1e-13
    np.testing.assert_allclose(x[0], np.cos(t) * td + np.sin(t) * tg, atol=1e-11)
    np.testing.assert_allclose(x[1], -np.sin(t) * td + np.cos(t) * tg, atol=1e-11)
    # the WGAN Dirac game is F with (θ_D, θ_G) = (ψ, θ)
    dth, dps = d.nash_field(0.7, -0.3, "wgan")
    bd, bg = d.bilinear_field(-0.3, 0.7, "nash")
    assert (float(dth), float(dps)) == pytest.approx((float(bg), float(bd)))
    mth, mps = d.morse_field(0.7, -0.3, "wgan")
    bd, bg = d.bilinear_field(-0.3, 0.7, "morse")
    assert (float(mth), float(mps)) == pytest.approx((float(bg), float(bd)))


def test_diracgan_is_a_particle_system_and_runs_in_the_driver():
    system = d.DiracGAN(loss="wgan", dtype="float64")
    assert isinstance(system, ParticleSystem) and system.dt == 0.2
    sched = make_schedule(system.dt, 100.0, n_records=101)
    ik, nk = replica_keys(0, 1)
    traj = simulate(system, sched, ik, nk)
    assert sched.n_steps == 500
    for k in ("theta", "psi", "norm"):
        assert traj.observables[k].shape == (1, 101)
    assert traj.observables["norm"][0, -1] == pytest.approx(np.sqrt(2) * 1.04**250, rel=1e-11)


# -- consensus optimisation ---------------------------------------------------------------------
CONSENSUS = [0.3, 1.0, 4.0]


@functools.lru_cache(maxsize=None)
def _jac_at_zero(fn, sigma):
    """Jacobian at (0, 0) of ``fn(θ, ψ, γ_gp, σ, γ) -> (θ', ψ')``, jitted once per σ (static: it
    sets the quadrature) with γ_gp and the consensus weight γ traced."""
    return jax.jit(lambda gp, g: jax.jacfwd(lambda x: jnp.stack(fn(x[0], x[1], gp, sigma, g)))(
        jnp.zeros(2)))


def _consensus_jac(fn, gp, sigma, g):
    return np.asarray(_jac_at_zero(fn, sigma)(jnp.float64(gp), jnp.float64(g)))


@functools.lru_cache(maxsize=None)
def _field_of(flow, loss):
    return lambda th, ps, gp, sigma, g: d.consensus_field(th, ps, flow, loss, gp, sigma, g)


@functools.lru_cache(maxsize=None)
def _step_of(scheme, loss):
    step = d.simultaneous_step if scheme == "simultaneous" else d.alternating_step
    return lambda th, ps, gp, sigma, g: step(th, ps, 0.2, loss, gp, sigma, consensus=g)


@pytest.mark.parametrize("loss,flow", list(itertools.product(d.LOSSES, d.FLOWS)))
def test_consensus_equilibrium_jacobian_and_eigenvalues(loss, flow):
    for (gp, sigma), g in itertools.product(REGS, CONSENSUS):
        J = _consensus_jac(_field_of(flow, loss), gp, sigma, g)
        # autodiff through w = v − γJ_vᵀv vs the closed form J − γJᵀJ: rounding only
        np.testing.assert_allclose(J, d.equilibrium_jacobian(loss, flow, gp, sigma, g),
                                   atol=1e-12)
        ev = np.sort_complex(np.linalg.eigvals(J))
        np.testing.assert_allclose(ev, d.equilibrium_eigenvalues(loss, flow, gp, sigma, g),
                                   atol=1e-12)


@pytest.mark.parametrize("loss", d.LOSSES)
@pytest.mark.parametrize("g", CONSENSUS)
def test_consensus_turns_the_centre_into_a_focus(loss, g):
    # no other regulariser: −γa² ± ia, a = f'(0) (½ for the GAN losses, 1 for WGAN)
    a = 1.0 if loss == "wgan" else 0.5
    J = _consensus_jac(_field_of("nash", loss), 0.0, 0.0, g)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)),
                               [-g * a * a - 1j * a, -g * a * a + 1j * a], atol=1e-13)
    np.testing.assert_allclose(d.equilibrium_eigenvalues(loss, consensus=g),
                               [-g * a * a - 1j * a, -g * a * a + 1j * a], atol=1e-15)


def test_consensus_field_by_hand():
    # R = ½‖v‖² written out for two losses, w = v − γ∇R, at points away from the equilibrium.
    # WGAN with γ_gp: v = (−ψ, θ − γ_gp ψ), ∇R = (θ − γ_gp ψ, ψ − γ_gp(θ − γ_gp ψ)).
    # GAN (no regulariser): v = (−ψ s, θ s), s = sigmoid(−θψ) = f'(θψ), R = ½(θ² + ψ²)s²,
    # ∇R = (θ s² − ψ(θ² + ψ²)s²(1 − s), ψ s² − θ(θ² + ψ²)s²(1 − s)).
    g, gp = 0.7, 0.4
    for th, ps in [(0.7, -1.3), (-2.0, 0.4), (1.1, 0.9)]:
        u = th - gp * ps
        want = (-ps - g * u, u - g * (ps - gp * u))
        got = d.consensus_field(jnp.float64(th), jnp.float64(ps), "nash", "wgan", gp=gp,
                                consensus=g)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        s = 1.0 / (1.0 + np.exp(th * ps))
        r2 = th * th + ps * ps
        grad = (th * s * s - ps * r2 * s * s * (1 - s), ps * s * s - th * r2 * s * s * (1 - s))
        want = (-ps * s - g * grad[0], th * s - g * grad[1])
        got = d.consensus_field(jnp.float64(th), jnp.float64(ps), "nash", "gan", consensus=g)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss,scheme", list(itertools.product(
    d.LOSSES, ["simultaneous", "alternating"])))
def test_consensus_update_jacobian(loss, scheme):
    for (gp, sigma), g in itertools.product(REGS, CONSENSUS):
        J = _consensus_jac(_step_of(scheme, loss), gp, sigma, g)
        np.testing.assert_allclose(J, d.update_jacobian(loss, scheme, 0.2, gp, sigma, g),
                                   atol=1e-12)
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)),
                                   d.update_eigenvalues(loss, scheme, 0.2, gp, sigma, g),
                                   atol=1e-12)


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_consensus_simultaneous_steps_contract_on_an_interval_of_weights(loss):
    # update eigenvalues 1 + h(−γa² ± ia): modulus² (1 − hγa²)² + h²a² < 1 iff
    # hγ²a² − 2γ + h < 0, i.e. γ between γ± = (1 ± √(1 − h²a²))/(ha²); at h = 0.2:
    # (0.1010, 9.899) for WGAN (a = 1), (0.1003, 39.90) for the GAN loss (a = ½)
    h, a = 0.2, (1.0 if loss == "wgan" else 0.5)
    lo, hi = (1 + np.array([-1.0, 1.0]) * np.sqrt(1 - h * h * a * a)) / (h * a * a)
    for g, want in ((lo, 1.0), (hi, 1.0)):
        np.testing.assert_allclose(np.abs(d.update_eigenvalues(loss, h=h, consensus=g)), want,
                                   rtol=1e-12)
    assert np.abs(d.update_eigenvalues(loss, h=h, consensus=np.sqrt(lo * hi))).max() < 1
    assert np.abs(d.update_eigenvalues(loss, h=h, consensus=0.5 * lo)).min() > 1
    assert np.abs(d.update_eigenvalues(loss, h=h, consensus=2 * hi)).min() > 1


def test_consensus_simultaneous_wgan_norm_shrinks_exactly():
    # WGAN without clipping: w = (−ψ − γθ, θ − γψ) is linear, a rotation-contraction, so each
    # simultaneous step multiplies the norm by |1 + h(−γ + i)| = √((1 − hγ)² + h²) exactly:
    # √0.68 at h = 0.2, γ = 1 (the unregularised steps grow by √1.04)
    tr = d.trajectory(d.DiracGAN(loss="wgan", consensus=1.0, dtype="float64"), 200)
    np.testing.assert_allclose(tr["norm"][1:] / tr["norm"][:-1], np.sqrt(0.68), rtol=1e-12)
    # the GAN loss converges too (nonlinear f': no exact rate)
    tr = d.trajectory(d.DiracGAN(loss="gan", consensus=1.0, dtype="float64"), 500)
    assert tr["norm"][-1] < 1e-3 * tr["norm"][0]


def test_consensus_config_reaches_the_system():
    from meanfield.io import config
    from meanfield.io import experiment

    cfg = config.load(None, ["system.kind=dirac", "system.consensus=2.5"])
    assert experiment.build_system(cfg).consensus == 2.5
    with pytest.raises(config.ConfigError, match="system.consensus"):
        config.load(None, ["system.kind=dirac", "system.consensus=-1"])
    # Only the Dirac GAN's fields are valid in its [system], and only they are written back.
    with pytest.raises(config.ConfigError, match="system.N: unknown key"):
        config.load(None, ["system.kind=dirac", "system.N=2"])
    assert set(config.to_dict(cfg)) == {"system", "run"}
    assert set(config.to_dict(cfg)["system"]) == {f.name for f in dataclasses.fields(cfg.system)}
    assert "target" not in config.dumps(cfg) and "clip = 0.5" in config.dumps(cfg)
