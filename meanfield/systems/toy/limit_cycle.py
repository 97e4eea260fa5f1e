"""Where the clipped toy game (docs/model.md §5) goes in the long run: the limit orbit H = c²/(2γ).

Setting: θ' = ωρ(θ), ω' = γ Π_Q(½ − F(θ)) with Q = [−c, c], a latent with median m = 0 and
H = A(θ) + ω²/(2γ), A(0) = 0, A even (both latents of :mod:`meanfield.systems.toy.game` are symmetric). This is
the lecture's sign (``fake_minus_real``); under the WGAN sign (``sign="wgan"`` in :mod:`meanfield.systems.toy.game`) the reduced flow is
its image under ω ↦ −ω, which preserves Q and H, so everything below holds with ω replaced by −ω.

**The argument.**

1. Inside the band (|ω| < c) H is conserved, so a solution runs along its level set
   {H = H_0}, a closed curve around (0, 0) (A is convex-like: A' = (F − ½)/ρ has the sign of θ).
   On a level set |ω| is largest where A is smallest, i.e. at θ = 0, where |ω| = √(2γH_0). So the
   level set stays inside the band iff H_0 < H* := c²/(2γ); the level H = H* touches the faces
   exactly at the two points (0, ±c), tangentially (ω' = γ(½ − F(0)) = 0 there).
2. An orbit with H_0 > H* reaches a face. Take ω = +c (the other face is symmetric): on the
   upper half of the level set ω increases while θ < 0, so the contact happens at some θ_1 < 0,
   where the field points outward (½ − F(θ_1) > 0). Projection cuts ω', so the solution slides
   along the face with ω ≡ c, θ' = cρ(θ) > 0. The outward push persists exactly while θ < 0;
   θ reaches 0 in the finite time ∫_{θ_1}^0 dθ/(cρ(θ)) (ρ(0) > 0); for the logistic latent this is
   (2|θ_1| + 2 sinh|θ_1|)/c, since 1/ρ = 2 + 2 cosh θ.
3. At (0, c) the field turns inward (½ − F(θ) < 0 for θ > 0) and the solution re-enters the band
   with H = A(0) + c²/(2γ) = H*. From then on it runs along the level set H = H*, which never
   crosses the faces again (step 1): the solution is periodic from the exit time on.

So every orbit with H_0 ≥ H* ends, *in finite time* (at most one passage to a face), on the single
orbit H = H* = c²/(2γ); every orbit with H_0 < H* is already periodic on its own level set. The
clipped flow is therefore eventually periodic for every initial condition, as the lecture states (docs/model.md §5), but the
level H* is not an attractor from inside: the family of interior orbits is neutral. Its period is

    T(H) = 2 ∫_{−b}^{b} dθ / (ρ(θ) √(2γ(H − A(θ)))),     A(±b) = H,

(:func:`orbit_period`, Gauss–Chebyshev quadrature, spectrally accurate), which tends to the
small-orbit period 2π/(ρ(0)√γ) as H → 0. Defaults (logistic, γ = 1, c = 1): H* = 1/2, turning
points ±arccosh(3/2) = ±0.9624, T(H*) = 26.63667 (small-orbit period 8π = 25.13274).

**The GAN algorithm** (projected explicit Euler) is different inside: explicit Euler on a centre
multiplies the energy by 1 + O(Δt²) per step, so every interior orbit spirals *out* at rate O(Δt)
per unit time, reaches a face, and is reset near H* at the exit (the exit point θ ∈ [0, Δt cρ(0))
costs only A(θ) = O(Δt²)). The discrete scheme has a genuine attracting cycle, from inside and
outside, whose energy oscillates in [H*, H* + O(Δt)] and tends to H* as Δt → 0.

:func:`clipped_flow` integrates the exact clipped flow phase by phase (DOP853 with event location
in the band, the one-dimensional sliding ODE on a face), and :func:`measure_limit_cycle` reads the
eventual orbit's energy and period from either the exact flow or the projected Euler scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, optimize, special

from meanfield.systems.toy import game as toy


def _np(fn, x, latent):
    """Evaluate a :mod:`meanfield.systems.toy.game` function in float64 on host arrays."""
    with jax.enable_x64(True):
        return np.asarray(fn(jnp.asarray(x, jnp.float64), latent))


def limit_energy(gamma: float = 1.0, c: float = 1.0, latent: str = "logistic") -> float:
    """H* = A(m) + c²/(2γ) = c²/(2γ): the energy of the orbit every clipped orbit ends on."""
    return float(_np(toy.A, toy.median(latent), latent)) + c * c / (2.0 * gamma)


def turning_point(H: float, latent: str = "logistic") -> float:
    """b > 0 with A(b) = H: the orbit of energy H spans θ ∈ [−b, b] (A is even)."""
    if H <= 0:
        return 0.0
    if latent == "logistic":
        # cosh b − 1 = 2 sinh²(b/2); arccosh(1 + H) would lose half the digits for small H
        return float(2.0 * np.arcsinh(np.sqrt(0.5 * H)))
    # A(θ) ≥ θ²/2 for both latents, so the root lies in (0, √(2H)]
    hi = np.sqrt(2.0 * H)
    return float(optimize.brentq(lambda b: float(_np(toy.A, b, latent)) - H, 0.0, hi,
                                 xtol=1e-15 * hi, rtol=1e-15))


def orbit_period(H: float, gamma: float = 1.0, latent: str = "logistic", n: int = 256) -> float:
    """Period of the unclipped orbit of energy ``H`` > 0.

    T(H) = 2∫_{−b}^{b} dθ/(ρ√(2γ(H − A))). With θ = b x the integrand is g(x)/√(1 − x²) with g
    smooth, so n-point Gauss–Chebyshev quadrature converges spectrally.
    """
    b = turning_point(H, latent)
    k = np.arange(1, n + 1)
    x = np.cos((2 * k - 1) * np.pi / (2 * n))
    th = b * x
    gap = np.maximum(H - _np(toy.A, th, latent), 1e-300)
    g = b * np.sqrt(1.0 - x * x) / (_np(toy.rho, th, latent) * np.sqrt(2.0 * gamma * gap))
    return float(2.0 * np.pi / n * np.sum(g))


@dataclass(frozen=True)
class ClippedFlow:
    """A solution of the exact clipped flow.

    Attributes:
        t, theta, omega: the solution on a uniform grid, each ``[n]``.
        crossings: times at which θ crosses the median upwards (with ω > 0), ``[k]``.
        crossing_omega: ω at those times, ``[k]``; the energy there is ω²/(2γ) exactly.
        face_intervals: ``(t_in, t_out)`` of every sliding phase on a face.
    """

    t: np.ndarray
    theta: np.ndarray
    omega: np.ndarray
    crossings: np.ndarray
    crossing_omega: np.ndarray
    face_intervals: tuple[tuple[float, float], ...]


def clipped_flow(theta0: float, omega0: float, T: float, *, gamma: float = 1.0, c: float = 1.0,
                 latent: str = "logistic", n_out: int = 4001, rtol: float = 1e-12,
                 atol: float = 1e-13) -> ClippedFlow:
    """Integrate the clipped reduced flow exactly (to ``rtol``) phase by phase on [0, T].

    In the band: DOP853 with events |ω| = c (entering a face) and θ = 0 upwards (crossings).
    On the face ω = ±c: θ' = ±cρ(θ) until θ reaches the median, where the field turns inward.

    Args:
        theta0, omega0: initial point (``omega0`` is clipped to [−c, c]).
        T: horizon.
        gamma, c, latent: game parameters.
        n_out: points of the uniform output grid.
        rtol, atol: tolerances of the band and face solvers.
    """
    m = toy.median(latent)

    # host-side scalar F and ρ: the solvers call them tens of thousands of times
    if latent == "logistic":
        def Fv(th):
            return special.expit(th)

        def rho(th):
            s = special.expit(th)
            return s * (1.0 - s)
    else:
        Fv = special.ndtr

        def rho(th):
            return np.exp(-0.5 * th * th) / np.sqrt(2.0 * np.pi)

    def band(t, y):
        return [y[1] * rho(y[0]), gamma * (0.5 - Fv(y[0]))]

    def hit_top(t, y):
        return y[1] - c
    hit_top.terminal, hit_top.direction = True, 1

    def hit_bottom(t, y):
        return y[1] + c
    hit_bottom.terminal, hit_bottom.direction = True, -1

    def cross(t, y):
        return y[0] - m
    cross.terminal, cross.direction = False, 1

    grid = np.linspace(0.0, T, n_out)
    th_out, om_out = np.empty(n_out), np.empty(n_out)
    crossings, cross_om, faces = [], [], []
    t, th, om = 0.0, float(theta0), float(np.clip(omega0, -c, c))
    while t < T:
        sign = 1.0 if om >= c else (-1.0 if om <= -c else 0.0)
        outward = sign != 0.0 and sign * (0.5 - Fv(th)) > 0
        if outward:
            # sliding: ω ≡ sign·c, θ' = sign·cρ(θ) until θ reaches m
            def slide(t, y):
                return [sign * c * rho(y[0])]

            def leave(t, y):
                return y[0] - m
            leave.terminal, leave.direction = True, sign
            sol = integrate.solve_ivp(slide, (t, T), [th], method="DOP853", events=leave,
                                      dense_output=True, rtol=rtol, atol=atol)
            t_end = float(sol.t[-1])
            sel = (grid >= t) & (grid <= t_end)
            th_out[sel] = sol.sol(grid[sel])[0]
            om_out[sel] = sign * c
            faces.append((t, t_end))
            if sol.status == 1:
                th = m  # exit exactly at the median
                if sign > 0:
                    crossings.append(t_end)
                    cross_om.append(c)
            else:
                th = float(sol.y[0, -1])
            t, om = t_end, sign * c
            if sol.status == 1:
                # step just inside so that the exit point does not re-trigger the face event
                om = sign * c * (1.0 - 1e-15)
            continue
        sol = integrate.solve_ivp(band, (t, T), [th, om], method="DOP853",
                                  events=[hit_top, hit_bottom, cross], dense_output=True,
                                  rtol=rtol, atol=atol)
        t_end = float(sol.t[-1])
        sel = (grid >= t) & (grid <= t_end)
        y = sol.sol(grid[sel])
        th_out[sel], om_out[sel] = y[0], y[1]
        for tc, yc in zip(sol.t_events[2], sol.y_events[2]):
            if tc > t:
                crossings.append(float(tc))
                cross_om.append(float(yc[1]))
        th, om = float(sol.y[0, -1]), float(sol.y[1, -1])
        if sol.status == 1:
            om = float(np.clip(np.round(om / c), -1, 1) * c)  # land exactly on the face
        t = t_end
    return ClippedFlow(grid, th_out, np.clip(om_out, -c, c), np.asarray(crossings),
                       np.asarray(cross_om), tuple(faces))


@dataclass(frozen=True)
class LimitCycle:
    """The eventual orbit of one solution.

    Attributes:
        energy: H on the eventual orbit (exact flow: at the last upward crossing of θ = 0, where
            H = ω²/(2γ); Euler: mean of H over the last period).
        period: time between the last two upward crossings of θ = 0 (Euler: mean of the last
            ``n_periods`` periods).
        energy_min, energy_max: range of H over the last period (equal for the exact flow).
        initial_energy: H at t = 0.
    """

    energy: float
    period: float
    energy_min: float
    energy_max: float
    initial_energy: float


def upward_crossings(t: np.ndarray, theta: np.ndarray, m: float) -> np.ndarray:
    """Linearly interpolated times at which θ crosses m upwards, ``[k]``."""
    d = theta - m
    i = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    return t[i] + (t[i + 1] - t[i]) * (-d[i]) / (d[i + 1] - d[i])


def measure_limit_cycle(theta0: float, omega0: float, *, gamma: float = 1.0, c: float = 1.0,
                        latent: str = "logistic", method: str = "exact", T: float = 300.0,
                        dt: float = 0.01, n_periods: int = 3) -> LimitCycle:
    """Energy and period of the orbit a clipped toy-game solution ends on.

    Args:
        theta0, omega0: initial point.
        gamma, c, latent: game parameters.
        method: ``"exact"`` (:func:`clipped_flow`) or ``"euler"`` (the GAN algorithm's projected
            explicit Euler with step ``dt``, float64).
        T: horizon; must cover the transient (Euler from inside: the outward spiral takes a time
            of order log(H*/H_0)/(Δt ρ(0)² γ)).
        dt: Euler step.
        n_periods: periods averaged for the Euler period.

    Raises:
        RuntimeError: when fewer than two crossings (one full period) happen in [0, T].
    """
    m = toy.median(latent)
    with jax.enable_x64(True):
        H0 = float(toy.energy(jnp.float64(theta0), jnp.float64(np.clip(omega0, -c, c)), gamma,
                              latent))
    if method == "exact":
        sol = clipped_flow(theta0, omega0, T, gamma=gamma, c=c, latent=latent)
        if len(sol.crossings) < 2:
            raise RuntimeError("fewer than two crossings of the median; increase T")
        t0, t1 = sol.crossings[-2], sol.crossings[-1]
        H = sol.crossing_omega[-1] ** 2 / (2.0 * gamma)
        sel = (sol.t >= t0) & (sol.t <= t1)
        with jax.enable_x64(True):
            Hs = np.asarray(toy.energy(jnp.asarray(sol.theta[sel]), jnp.asarray(sol.omega[sel]),
                                       gamma, latent))
        return LimitCycle(float(H), float(t1 - t0), float(Hs.min()), float(Hs.max()), H0)
    if method != "euler":
        raise ValueError(f"unknown method {method!r}; expected 'exact' or 'euler'")
    n = int(np.ceil(T / dt))
    with jax.enable_x64(True):
        th, om = toy.reduced_trajectory(theta0, omega0, dt, n, gamma=gamma, c=c, latent=latent,
                                        integrator="euler", dtype=jnp.float64)
        Hs = np.asarray(toy.energy(th, om, gamma, latent))
    th = np.asarray(th)
    t = np.arange(n + 1) * dt
    cr = upward_crossings(t, th, m)
    if len(cr) < n_periods + 1:
        raise RuntimeError("too few crossings of the median; increase T")
    sel = (t >= cr[-2]) & (t <= cr[-1])
    return LimitCycle(float(Hs[sel].mean()), float(np.mean(np.diff(cr[-n_periods - 1:]))),
                      float(Hs[sel].min()), float(Hs[sel].max()), H0)


def summary_fields(game: toy.ToyGame, t: np.ndarray, observables: dict[str, np.ndarray]) -> dict:
    """The ``summary.json`` entries of a toy-game run: the orbit it ends on, read from the
    recorded centre of mass (replica mean).

    ``limit_cycle_energy`` is the mean of H over the last full period (between the last two
    upward crossings of θ through the latent's median) and ``limit_cycle_period`` that period;
    both are None when the run holds fewer than two crossings. For a clipped game the clipped
    flow's limit orbit is given next to them: ``limit_cycle_energy_theory`` H* = c²/(2γ) and
    ``limit_cycle_period_theory`` T(H*). ``sign`` names the game (``"fake_minus_real"`` or
    ``"wgan"``), so that every result says which.

    Args:
        game: the run's :class:`~meanfield.systems.toy.game.ToyGame`.
        t: recorded times ``[n]``.
        observables: ``theta_mean`` and ``energy``, each ``[R, n]``.
    """
    t = np.asarray(t, float)
    theta = np.asarray(observables["theta_mean"], float).mean(axis=0)
    H = np.asarray(observables["energy"], float).mean(axis=0)
    cr = upward_crossings(t, theta, toy.median(game.latent))
    out: dict = {"sign": game.sign, "limit_cycle_energy": None, "limit_cycle_period": None}
    if len(cr) >= 2:
        last = (t >= cr[-2]) & (t <= cr[-1])
        out.update(limit_cycle_energy=float(H[last].mean()),
                   limit_cycle_period=float(cr[-1] - cr[-2]),
                   limit_cycle_energy_range=[float(H[last].min()), float(H[last].max())])
    if game.clip is not None:
        H_star = limit_energy(game.gamma, game.clip, game.latent)
        out.update(limit_cycle_energy_theory=H_star,
                   limit_cycle_period_theory=orbit_period(H_star, game.gamma, game.latent))
    return out
