"""Figures and numbers for the Dirac GAN and the bilinear game (docs/model.md §6).

Panels: for each loss (GAN, non-saturating, WGAN), the Nash-flow vector field with trajectories of
the continuous flow (RK4), simultaneous and alternating steps (h = 0.2 from θ = ψ = 1, 500 steps),
and the regularised variants (gradient penalty, instance noise, consensus optimisation, clipping);
plus the bilinear game
F = θ_D·θ_G under the Nash and Morse flows (Mescheder et al. 2018; docs/model.md §6).

Run as ``python experiments/dirac.py [OUTDIR] [--smoke]``; :func:`make_figures` returns the measured numbers
(eigenvalues, final norms, the clipped orbit's radius) and writes ``numbers.json``.
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
from meanfield.systems.dirac import gan as d  # noqa: E402

H, STEPS = 0.2, 500
GP, SIGMA, CLIP, CONSENSUS = 0.5, 0.7, 0.5, 1.0

VARIANTS = {
    # name: (DiracGAN keyword arguments, label)
    "nash_flow": (dict(scheme="nash_flow", h=0.01, theta0=1.0, psi0=1.0), "Nash flow (RK4)"),
    "simultaneous": (dict(scheme="simultaneous"), f"simultaneous, h = {H}"),
    "alternating": (dict(scheme="alternating"), f"alternating, h = {H}"),
    "gradient_penalty": (dict(scheme="simultaneous", gp=GP), f"simultaneous + GP γ = {GP}"),
    "instance_noise": (dict(scheme="simultaneous", noise=SIGMA),
                       f"simultaneous + noise σ = {SIGMA}"),
    "consensus": (dict(scheme="simultaneous", consensus=CONSENSUS),
                  f"simultaneous + consensus γ = {CONSENSUS}"),
    "clipped": (dict(scheme="simultaneous", clip=CLIP), f"simultaneous, ψ clipped to ±{CLIP}"),
}


def _field_panel(ax, vf, lim=2.5, clip=None):
    th, ps = np.meshgrid(np.linspace(-lim, lim, 25), np.linspace(-lim, lim, 25))
    u, v = jax.vmap(jax.vmap(vf))(jnp.asarray(th), jnp.asarray(ps))
    ax.streamplot(th, ps, np.asarray(u), np.asarray(v), color="0.75", density=0.9, linewidth=0.6)
    if clip is not None:
        for lo, hi in ((clip, 10), (-10, -clip)):
            ax.fill_between([-lim, lim], lo, hi, color="0.88", zorder=0, lw=0)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
    ax.set_aspect("equal")


def dirac_grid(out: Path) -> dict:
    res = {}
    fig, axes = plt.subplots(len(d.LOSSES), len(VARIANTS), figsize=(3.1 * len(VARIANTS), 9.6))
    for i, loss in enumerate(d.LOSSES):
        for j, (name, (kw, label)) in enumerate(VARIANTS.items()):
            ax = axes[i, j]
            system = d.DiracGAN(loss=loss, dtype="float64", **kw)
            n = STEPS if name != "nash_flow" else int(STEPS * H / system.h)
            tr = d.trajectory(system, n)
            vf = lambda th, ps, s=system: d.consensus_field(  # noqa: E731
                th, ps, "nash", loss, s.gp, s.noise, s.consensus)
            _field_panel(ax, vf, clip=system.clip)
            ax.plot(tr["theta"], tr["psi"], lw=0.8, color="C3")
            ax.plot(tr["theta"][:1], tr["psi"][:1], "ko", ms=3)
            ax.plot([0], [0], "b*", ms=6)
            if i == 0:
                ax.set_title(label, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{loss}\nψ")
            if i == len(d.LOSSES) - 1:
                ax.set_xlabel("θ")
            ev = d.equilibrium_eigenvalues(loss, "nash", system.gp, system.noise,
                                           system.consensus)
            res[f"{loss}/{name}"] = {"final_norm": float(tr["norm"][-1]),
                                     "flow_eigenvalues": [str(complex(e)) for e in ev]}
            if name in ("simultaneous", "alternating", "consensus"):
                ue = d.update_eigenvalues(loss, system.scheme, H, consensus=system.consensus)
                res[f"{loss}/{name}"]["update_eigenvalue_moduli"] = np.abs(ue).tolist()
    fig.suptitle(f"Dirac GAN: trajectories from (θ, ψ) = (1, 1), {STEPS} steps (flow: t = "
                 f"{STEPS * H:g}); streamlines: the variant's Nash field; shaded: clipped region")
    fig.tight_layout()
    fig.savefig(out / "dirac_variants.png", dpi=110)
    plt.close(fig)
    return res


def bilinear_figure(out: Path) -> dict:
    """The bilinear game F = θ_D·θ_G: Nash flow (centre) and Morse flow (saddle)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    res = {}
    for ax, flow in zip(axes, d.FLOWS):
        vf = lambda tg, td, f=flow: d.bilinear_field(td, tg, f)[::-1]  # noqa: E731
        _field_panel(ax, vf, lim=2.0)
        for r0 in (0.5, 1.0, 1.5):
            system = d.DiracGAN(loss="wgan", scheme=f"{flow}_flow", h=0.01, theta0=r0, psi0=0.2,
                                dtype="float64")
            tr = d.trajectory(system, 700)
            ax.plot(tr["theta"], tr["psi"], lw=1)
        ev = d.equilibrium_eigenvalues("wgan", flow)
        res[f"bilinear/{flow}_eigenvalues"] = [str(complex(e)) for e in ev]
        ax.set(xlabel="θ_G", ylabel="θ_D", title=f"F = θ_D·θ_G, {flow} flow, eigenvalues "
               + ", ".join(f"{complex(e):.3g}" for e in ev))
    fig.tight_layout()
    fig.savefig(out / "dirac_bilinear.png", dpi=110)
    plt.close(fig)
    return res


def clipped_orbit(out: Path) -> dict:
    """The clipped Nash flow ends on the circle of radius c; the discrete steps oscillate above."""
    res = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for loss in ("gan", "wgan"):
        tr = d.trajectory(d.DiracGAN(loss=loss, scheme="nash_flow", h=0.01, clip=CLIP,
                                     dtype="float64"), 6000)
        t = np.arange(len(tr["norm"])) * 0.01
        ax.plot(t, tr["norm"], label=f"{loss}: clipped Nash flow (RK4)")
        res[f"{loss}/clipped_flow_late_radius"] = [float(tr["norm"][-2500:].min()),
                                                   float(tr["norm"][-2500:].max())]
        trs = d.trajectory(d.DiracGAN(loss=loss, clip=CLIP, dtype="float64"), 3000)
        ax.plot(np.arange(len(trs["norm"])) * H, trs["norm"], lw=0.7,
                label=f"{loss}: simultaneous h = {H}, clipped")
        res[f"{loss}/clipped_simultaneous_late_radius"] = [float(trs["norm"][-500:].min()),
                                                           float(trs["norm"][-500:].max())]
    ax.axhline(CLIP, color="k", ls="--", lw=0.8, label="c")
    ax.set(xlabel="t", ylabel="|(θ, ψ)|", yscale="log", title=f"clipping ψ to ±{CLIP}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "dirac_clipped.png", dpi=110)
    plt.close(fig)
    return res


def make_figures(out_dir) -> dict:
    """Draw every Dirac-GAN figure into ``out_dir`` and return the measured numbers."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(True):
        res = {}
        res.update(dirac_grid(out))
        res.update(bilinear_figure(out))
        res.update(clipped_orbit(out))
        wg = d.trajectory(d.DiracGAN(loss="wgan", dtype="float64"), STEPS)
        res["wgan/simultaneous_norm_ratio_per_step"] = float(
            np.mean(wg["norm"][1:] / wg["norm"][:-1]))
        res["wgan/simultaneous_norm_ratio_theory"] = float(np.sqrt(1 + H * H))
        al = d.trajectory(d.DiracGAN(loss="wgan", scheme="alternating", dtype="float64"), STEPS)
        Q = np.asarray(d.alternating_invariant(al["theta"], al["psi"], H))
        res["wgan/alternating_invariant_range"] = [float(Q.min()), float(Q.max())]
        # consensus makes the WGAN field linear and contracting: |1 + h(−γ + i)| per step
        co = d.trajectory(d.DiracGAN(loss="wgan", consensus=CONSENSUS, dtype="float64"), STEPS)
        res["wgan/consensus_norm_ratio_per_step"] = float(
            np.mean(co["norm"][1:] / co["norm"][:-1]))
        res["wgan/consensus_norm_ratio_theory"] = float(np.hypot(1 - H * CONSENSUS, H))
    (out / "numbers.json").write_text(json.dumps(res, indent=2))
    return res


def main(argv=None) -> int:
    global STEPS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="results/dirac-study", help="output folder")
    p.add_argument("--smoke", action="store_true",
                   help="50 steps instead of 500: every figure and number, in a few seconds")
    args = p.parse_args(argv)
    if args.smoke:
        STEPS = 50
    with study_folder(args.out) as folder:
        numbers = make_figures(folder)
    for k, v in numbers.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
