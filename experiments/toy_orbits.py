"""Figures and numbers for the toy game of the mean-field lecture (docs/model.md §5).

Every figure uses the lecture's sign (the critic ascends E f(fake) − E f(real)) except
``toy_sign.png``, which sets it against the WGAN sign (``docs/toy_game.md``).

Energy convention on every plot: H = A(θ) + ω²/(2γ), A(0) = 0 (A = cosh θ − 1 for the logistic
latent); the lecture's cosh θ + |ω|²/γ corresponds to critic speed γ/2.

Run as ``python experiments/toy_orbits.py [OUTDIR] [--smoke]``; :func:`make_figures` returns the measured
numbers (limit-cycle energy and period, fitted Euler order, ...) and writes ``numbers.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meanfield.cli import study_folder  # noqa: E402
from meanfield.systems.toy import limit_cycle as lc  # noqa: E402
from meanfield.systems.toy import game as toy  # noqa: E402

CONVENTION = "H = A(θ) + ω²/(2γ), A(0) = 0"


def _band(ax, c, xlim):
    """Shade the region |ω| > c that the projection forbids and mark the faces."""
    big = 10 * max(1.0, c)
    for lo, hi in ((c, big), (-big, -c)):
        ax.fill_between(xlim, lo, hi, color="0.85", zorder=0, lw=0)
    for s in (c, -c):
        ax.axhline(s, color="0.4", lw=0.8, ls="--", zorder=1)


def _quiver(ax, gamma, latent, xlim, ylim, c=None):
    th, om = np.meshgrid(np.linspace(*xlim, 21), np.linspace(*ylim, 17))
    u, v = toy.projected_field(jnp.asarray(th), jnp.asarray(om), gamma, c, latent) \
        if c is not None else toy.toy_vector_field(jnp.asarray(th), jnp.asarray(om), gamma, latent)
    u, v = np.asarray(u), np.asarray(v)
    n = np.hypot(u / np.ptp(xlim), v / np.ptp(ylim)) + 1e-12
    ax.quiver(th, om, u / n, v / n, n, cmap="Greys", alpha=0.6, angles="xy", pivot="mid",
              scale=30, width=0.003)


def phase_portraits(out: Path, latent: str = "logistic", c: float = 1.0) -> dict:
    """Vector field, unclipped orbits (RK4) and clipped orbits (exact) for γ = 1 and γ = 10."""
    res = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, gamma in zip(axes, (1.0, 10.0)):
        Hstar = lc.limit_energy(gamma, c, latent)
        b_star = lc.turning_point(Hstar, latent)
        xlim = (-3.0 * max(b_star, 0.6), 3.0 * max(b_star, 0.6))
        ylim = (-1.6 * c, 1.6 * c)
        _band(ax, c, xlim)
        _quiver(ax, gamma, latent, xlim, ylim)
        # unclipped orbits at several energies, by RK4 (dashed where they leave the band)
        for frac in (0.25, 0.6, 1.0, 1.6):
            H = frac * Hstar
            b = lc.turning_point(H, latent)
            T = lc.orbit_period(H, gamma, latent)
            th, om = toy.reduced_trajectory(-b, 0.0, T / 2000, 2000, gamma=gamma, c=None,
                                            latent=latent, integrator="rk4")
            ax.plot(th, om, color="C0", lw=1.2, ls="-" if frac <= 1 else ":",
                    label="unclipped orbits (RK4)" if frac == 0.25 else None)
        # clipped exact flow from outside: slides on a face, exits on H*
        sol = lc.clipped_flow(-1.8 * b_star, 0.0, 3 * lc.orbit_period(Hstar, gamma, latent),
                              gamma=gamma, c=c, latent=latent)
        ax.plot(sol.theta, sol.omega, color="C3", lw=1.0, label="clipped flow (exact)")
        ax.set(xlim=xlim, ylim=ylim, xlabel="θ", ylabel="ω",
               title=f"γ = {gamma:g}, c = {c:g}, {latent} latent; H* = c²/2γ = {Hstar:g}")
        ax.legend(loc="lower right", fontsize=8)
        res[f"H_star_gamma{gamma:g}"] = Hstar
        res[f"period_H_star_gamma{gamma:g}"] = lc.orbit_period(Hstar, gamma, latent)
    fig.suptitle(f"Toy game phase portraits (shaded: |ω| > c, cut by the projection). {CONVENTION}")
    fig.tight_layout()
    fig.savefig(out / f"toy_phase_{latent}.png", dpi=120)
    plt.close(fig)
    return res


def orbits_vs_time(out: Path, latent: str = "logistic") -> None:
    """θ(t), ω(t) of unclipped orbits for γ = 1 and γ = 10 (the lecture's 'periodic orbits')."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 6), sharex="col")
    for j, gamma in enumerate((1.0, 10.0)):
        for theta0 in (0.25, 0.5, 1.0, 2.0):
            th, om = toy.reduced_trajectory(-theta0, 0.0, 0.01, 6000, gamma=gamma, c=None,
                                            latent=latent, integrator="rk4")
            t = np.arange(6001) * 0.01
            axes[0, j].plot(t, th, lw=1, label=f"θ0 = −{theta0:g}")
            axes[1, j].plot(t, om, lw=1)
        axes[0, j].set(title=f"unclipped orbits, γ = {gamma:g}", ylabel="θ")
        axes[1, j].set(xlabel="t", ylabel="ω")
        axes[0, j].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"toy_orbits_time_{latent}.png", dpi=120)
    plt.close(fig)


def energy_figure(out: Path) -> dict:
    """H(t): RK4 (conserved), projected Euler (O(Δt) drift), clipped exact and Euler runs."""
    res = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    T, dt = 100.0, 0.01
    n = int(T / dt)
    t = np.arange(n + 1) * dt
    th, om = toy.reduced_trajectory(-0.8, 0.0, dt, n, c=None, integrator="rk4")
    H = np.asarray(toy.energy(th, om))
    res["rk4_max_rel_energy_drift_t100"] = float(np.max(np.abs(H / H[0] - 1)))
    ax.plot(t, H / H[0] - 1, label=f"RK4, Δt = {dt:g}")
    for dt_e in (0.04, 0.02, 0.01):
        ne = int(T / dt_e)
        th, om = toy.reduced_trajectory(-0.8, 0.0, dt_e, ne, c=1.0, integrator="euler")
        H = np.asarray(toy.energy(th, om))
        ax.plot(np.arange(ne + 1) * dt_e, H / H[0] - 1, label=f"projected Euler, Δt = {dt_e:g}")
    ax.set(xlabel="t", ylabel="H(t)/H(0) − 1", title="θ0 = −0.8, ω0 = 0 (inside the band), γ = 1")
    ax.legend(fontsize=8)

    ax = axes[1]
    for (th0, om0), col in (((-2.0, 0.0), "C3"), ((-0.5, 0.0), "C0")):
        sol = lc.clipped_flow(th0, om0, 150.0)
        ax.plot(sol.t, np.asarray(toy.energy(jnp.asarray(sol.theta), jnp.asarray(sol.omega))),
                color=col, label=f"exact clipped flow from ({th0:g}, {om0:g})")
        ne = int(1500 / 0.05)
        th, om = toy.reduced_trajectory(th0, om0, 0.05, ne, c=1.0, integrator="euler")
        ax.plot(np.arange(ne + 1) * 0.05, np.asarray(toy.energy(th, om)), color=col, lw=0.6,
                alpha=0.6, label=f"projected Euler Δt = 0.05 from ({th0:g}, {om0:g})")
    ax.axhline(0.5, color="k", ls="--", lw=0.8, label="H* = c²/2γ = 0.5")
    ax.set(xlabel="t (linear to 1, then log)", ylabel="H", yscale="log", xscale="symlog",
           xlim=(0, 1600), title="clipped game (c = 1, γ = 1, logistic)")
    ax.legend(fontsize=7)
    fig.suptitle(CONVENTION)
    fig.tight_layout()
    fig.savefig(out / "toy_energy.png", dpi=120)
    plt.close(fig)
    return res


def euler_order(out: Path) -> dict:
    """Fit the order of the projected Euler's energy error at T = 20 (orbit inside the band)."""
    T = 20.0
    dts = np.array([0.08, 0.04, 0.02, 0.01, 0.005, 0.0025])
    errs = []
    for dt in dts:
        n = int(round(T / dt))
        th, om = toy.reduced_trajectory(-0.5, 0.0, float(dt), n, c=1.0, integrator="euler")
        errs.append(abs(float(toy.energy(th[-1], om[-1]) - toy.energy(th[0], om[0]))))
    errs = np.array(errs)
    order, logc = np.polyfit(np.log(dts), np.log(errs), 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(dts, errs, "o-", label="|H(T) − H(0)|")
    ax.loglog(dts, np.exp(logc) * dts**order, "k--", label=f"fit: order {order:.3f}")
    ax.set(xlabel="Δt", ylabel="energy error at T = 20", title="projected explicit Euler")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "toy_euler_order.png", dpi=120)
    plt.close(fig)
    return {"euler_energy_order": float(order), "euler_energy_errors": errs.tolist(),
            "euler_dts": dts.tolist()}


def limit_cycle_figure(out: Path) -> dict:
    """Eventual orbits from inside and outside, exact flow and the GAN algorithm."""
    res = {"limit_cycle_energy_theory": lc.limit_energy(),
           "limit_cycle_period_theory": lc.orbit_period(lc.limit_energy())}
    starts = {"outside": (-2.0, 0.0), "outside_on_face": (1.5, 1.0), "inside": (-0.5, 0.0)}
    for name, (th0, om0) in starts.items():
        ex = lc.measure_limit_cycle(th0, om0, method="exact", T=200.0)
        res[f"exact_{name}"] = {"initial_energy": ex.initial_energy, "energy": ex.energy,
                                "period": ex.period}
    res["limit_cycle_energy"] = res["exact_outside"]["energy"]
    res["limit_cycle_period"] = res["exact_outside"]["period"]
    euler = {}
    for dt in (0.1, 0.05, 0.025, 0.0125):
        for name in ("outside", "inside"):
            cyc = lc.measure_limit_cycle(*starts[name], method="euler", dt=dt, T=3000.0)
            euler[f"dt={dt:g},{name}"] = {"energy": cyc.energy, "energy_min": cyc.energy_min,
                                          "energy_max": cyc.energy_max, "period": cyc.period}
    res["euler_limit_cycles"] = euler
    ex_dts = np.array([0.1, 0.05, 0.025, 0.0125])
    excess = np.array([euler[f"dt={dt:g},outside"]["energy"] - 0.5 for dt in ex_dts])
    res["euler_limit_energy_excess_order"] = float(np.polyfit(np.log(ex_dts), np.log(excess), 1)[0])

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    xlim, c = (-2.5, 2.5), 1.0
    for ax, method in zip(axes, ("exact", "euler")):
        _band(ax, c, xlim)
        _quiver(ax, 1.0, "logistic", xlim, (-1.5, 1.5), c=c)
        for (name, (th0, om0)), col in zip(starts.items(), ("C3", "C1", "C0")):
            if method == "exact":
                sol = lc.clipped_flow(th0, om0, 60.0)
                ax.plot(sol.theta, sol.omega, color=col, lw=1, label=f"from ({th0:g}, {om0:g})")
            else:
                th, om = toy.reduced_trajectory(th0, om0, 0.05, 30000, c=c, integrator="euler")
                ax.plot(th, om, color=col, lw=0.4, alpha=0.7, label=f"from ({th0:g}, {om0:g})")
        b = lc.turning_point(0.5)
        s = np.linspace(-b, b, 400)
        w = np.sqrt(np.maximum(2 * (0.5 - (np.cosh(s) - 1)), 0))
        ax.plot(np.r_[s, s[::-1]], np.r_[w, -w[::-1]], "k--", lw=1.2, label="H* = 0.5")
        ax.set(xlim=xlim, ylim=(-1.5, 1.5), xlabel="θ", ylabel="ω",
               title=("exact clipped flow" if method == "exact"
                      else "GAN algorithm (projected Euler, Δt = 0.05, t ≤ 1500)"))
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Long-run orbits of the clipped toy game (logistic, γ = 1, c = 1). {CONVENTION}")
    fig.tight_layout()
    fig.savefig(out / "toy_limit_cycle.png", dpi=120)
    plt.close(fig)
    return res


def particle_figure(out: Path) -> dict:
    """A concentrated generator cloud (N = 64) splits into two atoms; N = 1 is the reduced ODE."""
    res = {}
    dt, n = 1e-3, 30_000
    t = np.arange(n + 1) * dt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ref = toy.reduced_trajectory(-1.0, 0.0, dt, n, c=None, integrator="rk4")
    for N, col in ((1, "C0"), (64, "C3")):
        game = toy.ToyGame(N=N, M=1, clip=None, dt=dt, integrator="rk4", theta0=-1.0,
                           omega0=0.0, theta_spread=1e-4, dtype="float64")
        s0 = game.init(jax.random.key(0))
        _, hist = jax.jit(lambda s: jax.lax.scan(lambda s, _: (game.step(s, None), s), s, None,
                                                 length=n + 1))(s0)
        th, om = np.asarray(hist.theta), np.asarray(hist.omega)[:, 0]
        axes[0].plot(t, th.mean(axis=1), color=col, label=f"θ̄, N = {N}")
        axes[1].plot(t, om, color=col, label=f"ω, N = {N}")
        if N > 1:
            axes[0].plot(t, th.min(axis=1), color=col, lw=0.6, ls=":", label="min/max θ_i")
            axes[0].plot(t, th.max(axis=1), color=col, lw=0.6, ls=":")
            res["particles_N64_final_theta_range"] = [float(th[-1].min()), float(th[-1].max())]
            res["particles_N64_final_omega"] = float(om[-1])
    axes[0].plot(t, ref[0], "k--", lw=0.8, label="reduced ODE")
    axes[1].plot(t, ref[1], "k--", lw=0.8, label="reduced ODE")
    axes[0].set(xlabel="t", title="generator: centre of mass and cloud (spread 1e-4 at t = 0)")
    axes[1].set(xlabel="t", title="critic (M = 1), γ = 1, unclipped")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "toy_particles.png", dpi=120)
    plt.close(fig)
    return res


def _sign_cloud(sign: str, omega0: float, T: float = 10.0, dt: float = 1e-3):
    """θ_i(t) ``[n + 1, 64]`` and ω(t) ``[n + 1]`` of a spread generator cloud under ``sign``."""
    game = toy.ToyGame(N=64, M=1, dt=dt, theta0=-2.0, omega0=omega0, theta_spread=0.17,
                       dtype="float64", sign=sign)
    n = int(round(T / dt))
    hist = jax.jit(lambda s: jax.lax.scan(lambda s, _: (game.step(s, None), s), s, None,
                                          length=n + 1)[1])(game.init(jax.random.key(0)))
    return np.arange(n + 1) * dt, np.asarray(hist.theta), np.asarray(hist.omega)[:, 0]


def sign_figure(out: Path) -> dict:
    """A spread generator cloud under the lecture's sign (splits) and the WGAN sign (aggregates).

    N = 64, θ_i ~ N(−2, 0.17²), one critic particle from ω_0 = ±0.3, logistic, γ = c = 1, the GAN
    algorithm (projected Euler) at Δt = 10⁻³.
    """
    res = {}
    runs = {(sign, om): _sign_cloud(sign, om) for sign in toy.SIGNS for om in (0.3, -0.3)}
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    titles = {"wgan": "WGAN sign: critic ascends E f(real) − E f(fake)",
              "fake_minus_real": "the lecture's sign: critic ascends E f(fake) − E f(real)"}
    for ax, sign in zip(axes[0], ("wgan", "fake_minus_real")):
        t, th, _ = runs[(sign, 0.3)]
        ax.plot(t[::20], th[::20], color="C0" if sign == "wgan" else "C3", lw=0.4, alpha=0.6)
        ax.set(xlabel="t", ylabel="θ_i(t)", title=f"{titles[sign]}\n64 generator particles, "
                                                 "ω_0 = 0.3")
    for (sign, om), (t, th, omega) in runs.items():
        sd = th.std(axis=1)
        col = "C0" if sign == "wgan" else "C3"
        ls = "-" if om > 0 else "--"
        axes[1, 0].semilogy(t, sd, color=col, ls=ls, label=f"{sign}, ω_0 = {om:g}")
        axes[1, 1].plot(t, omega, color=col, ls=ls, label=f"{sign}, ω_0 = {om:g}")
        key = f"sign_{sign}_omega0_{om:g}"
        below = np.nonzero(sd < 1e-3)[0]
        s = np.sort(th[-1])
        res[key] = {"initial_std": float(sd[0]), "final_std": float(sd[-1]),
                    "first_time_std_below_1e-3": float(t[below[0]]) if len(below) else None,
                    "final_largest_gap": float(np.diff(s).max()),
                    "final_largest_gap_after_rank": int(np.argmax(np.diff(s))) + 1}
    axes[1, 0].axhline(1e-3, color="k", lw=0.6, ls=":")
    axes[1, 0].set(xlabel="t", ylabel="std of the θ_i", title="spread of the generator cloud "
                   "(dotted: 10⁻³)")
    axes[1, 1].set(xlabel="t", ylabel="ω(t)", title="the critic (M = 1, clipped to [−1, 1])")
    for ax in axes[1]:
        ax.legend(fontsize=8)
    fig.suptitle("Toy game, N = 64, θ_i ~ N(−2, 0.17²), logistic, γ = c = 1, projected Euler "
                 "Δt = 10⁻³\nthe WGAN sign aggregates the cloud into a Dirac in finite time; "
                 "the lecture's sign splits it at its median")
    fig.tight_layout()
    fig.savefig(out / "toy_sign.png", dpi=120)
    plt.close(fig)
    return res


def make_figures(out_dir, latents=toy.LATENTS) -> dict:
    """Draw every toy-game figure into ``out_dir`` and return the measured numbers (the phase
    portraits and orbit periods for each of ``latents``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = {"energy_convention": CONVENTION}
    with jax.enable_x64(True):
        for latent in latents:
            r = phase_portraits(out, latent)
            res.update({f"{k}_{latent}": v for k, v in r.items()})
            orbits_vs_time(out, latent)
        res.update(energy_figure(out))
        res.update(euler_order(out))
        res.update(limit_cycle_figure(out))
        res.update(particle_figure(out))
        res.update(sign_figure(out))
        for gamma in (1.0, 10.0):
            for latent in latents:
                rho0 = float(toy.rho(jnp.float64(0.0), latent))
                res[f"small_orbit_period_theory_{latent}_gamma{gamma:g}"] = 2 * np.pi / (
                    rho0 * np.sqrt(gamma))
                res[f"small_orbit_period_quadrature_{latent}_gamma{gamma:g}"] = lc.orbit_period(
                    1e-10, gamma, latent)
    (out / "numbers.json").write_text(json.dumps(res, indent=2))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="results/toy-study", help="output folder")
    p.add_argument("--smoke", action="store_true",
                   help="the logistic latent only: every figure and number, in less time")
    args = p.parse_args(argv)
    with study_folder(args.out) as folder:
        numbers = make_figures(folder, ("logistic",) if args.smoke else toy.LATENTS)
    for k, v in numbers.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
