"""The JSD flow's Fokker–Planck solver (meanfield/systems/jsd_flow/fokker_planck.py): mass to
round-off, JSD non-increasing at every step for any Δt, first order in time and second in space
(self-convergence ratios), the stationary solution, and [HZ]'s ratio bound in closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from meanfield.systems.jsd_flow import fokker_planck as fp

RHO_D = stats.norm(0.0, 1.0).pdf
RHO_0 = stats.norm(1.5, 0.5).pdf


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def setup(n=200, dt=0.05, a=-7.0, b=7.0):
    g = fp.grid(a, b, n)
    pr = fp.problem(g, RHO_D, dt)
    return g, pr, jnp.asarray(RHO_0(g.y))


@pytest.mark.parametrize("dt", [0.01, 0.5])
def test_mass_is_conserved_and_jsd_never_increases(dt):
    g, pr, u0 = setup(dt=dt)
    us, ks = jax.jit(lambda u: fp.solve(u, pr, 40))(u0)
    mass = g.h * np.asarray(us).sum(1)
    np.testing.assert_allclose(mass, mass[0], rtol=1e-13)
    j = np.array([float(fp.jsd(u, pr.rho, g.h)) for u in us])
    assert np.all(np.diff(j) <= 1e-15 * j[0]), np.diff(j).max()
    assert j[-1] < 0.9 * j[0]
    assert int(np.max(ks)) < 50


def test_the_target_is_stationary_and_the_flow_converges_to_it():
    g, pr, u0 = setup(dt=0.1)
    np.testing.assert_allclose(fp.generator(jnp.ones(len(g.y)), pr), 0.0, atol=1e-14)
    us, _ = jax.jit(lambda u: fp.solve(u, pr, 80, every=80))(u0)  # t = 8
    j0, j8 = (float(fp.jsd(u, pr.rho, g.h)) for u in us)
    assert j8 < j0 / 20, (j0, j8)


def test_first_order_in_time():
    """Differences between runs with Δt and Δt/2 (same grid) halve with Δt."""
    T, ends = 0.5, []
    for k in (8, 16, 32, 64):
        g, pr, u0 = setup(n=100, dt=T / k)
        ends.append(np.asarray(jax.jit(lambda u: fp.solve(u, pr, k, every=k))(u0)[0][-1]))
    diffs = [np.abs(ends[i] - ends[i + 1]).max() for i in range(3)]
    ratios = [diffs[i] / diffs[i + 1] for i in range(2)]
    assert all(1.8 < r < 2.2 for r in ratios), ratios


def test_second_order_in_space():
    """With Δt = c h² both errors are O(h²): differences between grids n and 2n (the fine grid
    averaged over pairs of cells, its values at the coarse centres to O(h²)) quarter with h."""
    T, ends = 0.25, []
    for n in (40, 80, 160, 320):
        g = fp.grid(-7.0, 7.0, n)
        steps = int(round(T / (0.5 * g.h ** 2)))
        pr = fp.problem(g, RHO_D, T / steps)
        u0 = jnp.asarray(RHO_0(g.y))
        ends.append(np.asarray(jax.jit(lambda u: fp.solve(u, pr, steps, every=steps))(u0)[0][-1]))
    diffs = [np.abs(ends[i] - 0.5 * (ends[i + 1][0::2] + ends[i + 1][1::2])).max()
             for i in range(3)]
    ratios = [diffs[i] / diffs[i + 1] for i in range(2)]
    assert all(3.4 < r < 4.6 for r in ratios), (diffs, ratios)


def test_ratio_bound_closed_form():
    """max N(1.5, 0.5²)/N(0, 1) is at y = 2: β = 2e^{3/2}."""
    g = fp.grid(-7.0, 7.0, 14001)
    assert fp.ratio_bound(RHO_0(g.y), RHO_D(g.y)) == pytest.approx(2 * np.exp(1.5), rel=1e-6)


def test_kde_velocity_matches_the_smoothed_closed_form():
    """Particles at the midpoint quantiles of N(m, s²): their KDE is N(m, s² + b²) up to the
    quantisation, so the velocity is −½∂ln(q/(ρ_d + q)) with q = N(m, s² + b²) (to 2e-3)."""
    from meanfield.systems.jsd_flow import particles as pt

    m, s, b, n = 1.5, 0.5, 0.2, 4000
    x = jnp.asarray(stats.norm(m, s).ppf((np.arange(n) + 0.5) / n))
    y = jnp.linspace(0.5, 2.5, 11)  # within 2 std of m: the quantised tails are thin
    log_rho_d = lambda z: jax.scipy.stats.norm.logpdf(z)  # noqa: E731
    v = pt.velocity(y, x, b, log_rho_d)
    sq = np.sqrt(s * s + b * b)

    def first_variation(z):
        lq = jax.scipy.stats.norm.logpdf(z, m, sq)
        return 0.5 * (lq - jnp.logaddexp(log_rho_d(z), lq))

    exact = -jax.vmap(jax.grad(first_variation))(y)
    np.testing.assert_allclose(v, exact, rtol=0, atol=2e-3)
    assert float(v[0]) < -0.1  # between the two laws: toward ρ_d's mass at 0


def test_particle_ode_decreases_jsd_and_tracks_the_pde():
    """400 particles (midpoint quantiles of ρ₀), bandwidth 0.2, to t = 1: the mean and variance
    are within 0.05 of the Fokker–Planck solution's (the KDE's O(b²) bias and Euler's O(Δt))."""
    from meanfield.systems.jsd_flow import particles as pt

    n = 400
    x0 = jnp.asarray(stats.norm(1.5, 0.5).ppf((np.arange(n) + 0.5) / n))
    xs = np.asarray(jax.jit(lambda x: pt.simulate(x, jax.scipy.stats.norm.logpdf, 0.2, 0.02,
                                                 50, every=50))(x0))
    g, pr, u0 = setup(n=400, dt=0.02)
    u1 = np.asarray(jax.jit(lambda u: fp.solve(u, pr, 50, every=50))(u0)[0][-1])
    mean = g.h * np.sum(g.y * u1)
    var = g.h * np.sum(g.y ** 2 * u1) - mean ** 2
    assert abs(xs[-1].mean() - mean) < 0.05 and abs(xs[-1].var() - var) < 0.05, (
        xs[-1].mean(), mean, xs[-1].var(), var)
    assert xs[-1].mean() < 1.4  # it moved toward ρ_d
