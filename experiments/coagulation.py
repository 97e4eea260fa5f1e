"""Coagulation of critic particles at the clipping boundary (docs/model.md §4): the study.

Sweeps the clip c and the critic ratio n_c from a base config (default ``configs/coagulation.toml``)
for two initial critic clouds, given in units of c so that every c starts from the same picture:

- ``edge``: the base config's critic laws rescaled by c / ``dynamics.clip`` (the collapse example:
  α = γ = +c, β ~ N(−c/2, (c/4)²));
- ``centered``: α, β, γ ~ N(0, (``--centered-std``·c)²) clipped into Q (a generic, symmetric cloud).

Why the centred cloud ends as *two* atoms ±ω* (``docs/coagulation.md``): the sigmoid has
s(−u) = 1 − s(u), so φ(x; −ω) = −α s(−βx − γ) = φ(x; ω) − α. Flipping a critic particle changes
f_ν by a constant, which cancels in E f(fake) − E f(real): the generator does not see the flip, and
the critic velocity V(ω) = ∇_ω[E φ(g(z); ω) − E φ(x; ω)] (a function of μ alone) is odd,
V(−ω) = −V(ω); so is the projection onto the symmetric box Q. Hence ω(t) and −ω(t) are both
critic paths in the same generator trajectory, and every attractor has an antipodal twin. A cloud
that is symmetric in law puts particles in both basins and ends on both atoms; flipping one basin
at t = 0 gives one atom and the very same generator (``tests/test_critic_symmetry.py``). The table
reports, for each cell, the share of the final critic mass whose mirror image is occupied too.

Every (family, c, n_c) is one leaf of a stacked WGAN, so each of the two dynamics (population, and
SGD with the config's batch size) is one compiled program (``simulate(..., system_batched=True)``).
Writes under ``--out``: ``study.npz`` (every recorded observable ``[S, n_rec, ...]`` and critic
snapshots, with the grid labels), ``table.json`` and ``table.md`` (t_0, or the final number of atoms,
against c and n_c), and ``figures/``.

Run: ``python experiments/coagulation.py [--config FILE] [--out DIR] [--set table.key=value ...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import PillowWriter  # noqa: E402

from meanfield.metrics import coagulation  # noqa: E402
from meanfield.io import config  # noqa: E402
from meanfield.io import experiment  # noqa: E402
from meanfield.io import results  # noqa: E402
from meanfield.cli import study_folder  # noqa: E402
from meanfield.core.driver import make_schedule, replica_keys, simulate  # noqa: E402
from meanfield.networks.initial import BlockLaw  # noqa: E402
from meanfield.systems.wgan.payoff import velocities  # noqa: E402
from meanfield.networks.readout import activation  # noqa: E402
from meanfield.systems.wgan.system import WGANInit  # noqa: E402

NAMES = ("α", "β", "γ")


def family_init(cfg: config.Config, family: str, c: float, centered_std: float) -> WGANInit:
    """Initial laws of one family at clip ``c`` (generator laws from the config, as given)."""
    i = cfg.system.init
    gen = dict(a=BlockLaw(i.a_mean, i.a_std), b=BlockLaw(i.b_mean, i.b_std),
               c=BlockLaw(i.c_mean, i.c_std))
    if family == "centered":
        law = BlockLaw(0.0, centered_std * c)
        return WGANInit(**gen, alpha=law, beta=law, gamma=law)
    r = c / cfg.system.dynamics.clip
    return WGANInit(**gen, alpha=BlockLaw(r * i.alpha_mean, r * i.alpha_std),
                    beta=BlockLaw(r * i.beta_mean, r * i.beta_std),
                    gamma=BlockLaw(r * i.gamma_mean, r * i.gamma_std))


def grid_systems(cfg, families, clips, n_critics, centered_std, population: bool):
    """Stacked WGAN over families × clips × n_critics (leaves differ, statics shared)."""
    base = experiment.build_system(config.from_dict(config.apply_overrides(
        config.to_dict(cfg), [f"system.dynamics.population={str(population).lower()}"])))
    labels, systems = [], []
    for fam in families:
        for c in clips:
            for nc in n_critics:
                labels.append((fam, c, nc))
                systems.append(replace(base, clip=jnp.asarray(c, base.clip.dtype),
                                            n_critic=jnp.asarray(nc, jnp.int32),
                                            initial=family_init(cfg, fam, c, centered_std)))
    return labels, jax.tree.map(lambda *x: jnp.stack(x), *systems), base


def rigid_prediction(base, gen, crit, c, nc) -> float:
    """t_0 if every particle kept its t = 0 velocity in β: max_j distance to the face / speed.

    The rigid-translation reading of the collapse example (α, γ clamped, β free): exact in the
    limit c → 0, where V_β = c s'(0)(E g − E x) + O(c²) is the same for every particle.
    """
    s = activation(base.act)
    _, v = velocities(jnp.asarray(gen), jnp.asarray(crit), base.rule, s)
    vb = np.asarray(v[:, 1], float) * nc * base.N / base.M
    target = np.where(vb < 0, -c, c)
    return float(np.max((target - np.asarray(crit[:, 1])) / vb))


def run_grid(cfg, args, population: bool):
    labels, system, base = grid_systems(cfg, args.families, args.clips, args.n_critics,
                                        args.centered_std, population)
    r = cfg.run
    # Quadratic spacing: most frames early, where the collapse happens.
    snaps = tuple(r.T * np.linspace(0.0, 1.0, args.frames) ** 2)
    sched = make_schedule(base.dt, r.T, r.n_records, snaps)
    # Same initial particles for every grid point (then rescaled by c), distinct sampling noise.
    ik, nk = replica_keys(r.seed, len(labels), shared_init=True)
    traj = simulate(system, sched, ik, nk, system_batched=True,
                    chunk_records=r.chunk_records or None)
    return labels, traj, base


def mirrored_mass(crit: np.ndarray, c: float, tol: float = 1e-6) -> float:
    """Share of the particles ``crit [M, d]`` whose mirror image −ω_j lies within ``tol``·c of
    some particle: 1 for a cloud of antipodal pairs of atoms, 0 for one atom off the origin."""
    crit = np.asarray(crit, float)
    d = np.linalg.norm(crit[:, None, :] + crit[None, :, :], axis=-1)
    return float(np.mean(d.min(axis=1) <= tol * c))


def table_rows(labels, traj, base, dynamics: str):
    t, o = traj.t, traj.observables
    t0 = coagulation.collapse_time(t, o["distinct_atoms"])
    t0_coarse = coagulation.collapse_time(t, o["distinct_atoms_coarse"])
    rows = []
    for k, (fam, c, nc) in enumerate(labels):
        row = {"dynamics": dynamics, "family": fam, "clip": c, "n_critic": nc,
               "collapse_time": None if np.isnan(t0[k]) else float(t0[k]),
               "collapse_time_coarse": None if np.isnan(t0_coarse[k]) else float(t0_coarse[k]),
               "final_distinct_atoms": int(o["distinct_atoms"][k, -1]),
               "final_distinct_atoms_coarse": int(o["distinct_atoms_coarse"][k, -1]),
               "initial_distinct_atoms": int(o["distinct_atoms"][k, 0]),
               "final_vertex_mass": float(o["vertex_mass"][k, -1]),
               "final_diameter_over_c": float(o["critic_diameter"][k, -1] / c),
               "w1_initial": float(o["w1"][k, 0]), "w1_final": float(o["w1"][k, -1]),
               "final_mirrored_mass": mirrored_mass(traj.snapshots["critic"][k, -1], c)}
        if fam == "edge":
            row["rigid_prediction"] = rigid_prediction(
                base, traj.snapshots["gen"][k, 0], traj.snapshots["critic"][k, 0], c, nc)
        rows.append(row)
    return rows


def markdown(rows, clips, n_critics) -> str:
    """One table per (dynamics, family): rows c, columns n_c; cell t_0 or "no (A atoms)"."""
    out = []
    for dyn in sorted({r["dynamics"] for r in rows}):
        for fam in sorted({r["family"] for r in rows}):
            sel = {(r["clip"], r["n_critic"]): r for r in rows
                   if r["dynamics"] == dyn and r["family"] == fam}
            if not sel:
                continue
            extra = ("; rigid-translation prediction in brackets" if fam == "edge" else
                     "; then the share of the final critic mass whose mirror image −ω is "
                     "occupied too (within 1e-6·c)")
            out.append(f"\n**{dyn}, {fam} critic**: t_0 (first recorded time with one atom), or "
                       f"`— (A)`: no collapse by T, A atoms at T{extra}\n")
            out.append("| c | " + " | ".join(f"n_c = {n}" for n in n_critics) + " |")
            out.append("|---" * (len(n_critics) + 1) + "|")
            for c in clips:
                cells = []
                for n in n_critics:
                    r = sel[(c, n)]
                    cell = (f"{r['collapse_time']:.3g}" if r["collapse_time"] is not None
                            else f"— ({r['final_distinct_atoms']})")
                    if "rigid_prediction" in r:
                        cell += f" [{r['rigid_prediction']:.3g}]"
                    if fam == "centered":
                        cell += f", {100 * r['final_mirrored_mass']:.0f}% mirrored"
                    cells.append(cell)
                out.append(f"| {c:g} | " + " | ".join(cells) + " |")
            if fam == "centered":
                out.append("\nThe centred cloud ends on antipodal pairs of atoms ±ω* because "
                           "flipping a critic neuron, ω ↦ −ω, changes f only by the constant −α "
                           "(s(−u) = 1 − s(u)): the generator does not see it and the critic "
                           "velocity is odd, so every attractor has a twin −ω* and a symmetric "
                           "cloud feeds both. Flipping the particles of one basin at t = 0 "
                           "gives one atom and the same generator trajectory "
                           "(docs/coagulation.md).")
    return "\n".join(out) + "\n"


# -- figures ------------------------------------------------------------------------------------
def _box_panels(axes, crit, c, color="C0"):
    """Three 2-D projections of critic particles ``[M, 3]`` in units of c, the box drawn at ±1."""
    pairs = ((0, 1), (0, 2), (1, 2))
    for ax, (i, j) in zip(axes, pairs):
        ax.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "k-", lw=0.8)
        ax.scatter(crit[:, i] / c, crit[:, j] / c, s=8, alpha=0.5, color=color, lw=0)
        ax.set_xlim(-1.15, 1.15)
        ax.set_ylim(-1.15, 1.15)
        ax.set_aspect("equal")
        ax.set_xlabel(f"{NAMES[i]}/c", fontsize=8)
        ax.set_ylabel(f"{NAMES[j]}/c", fontsize=8)
        ax.tick_params(labelsize=7)


def draw_projections(path, crit_snaps, snap_t, times, c, title, atoms=None):
    idx = [int(np.argmin(np.abs(snap_t - s))) for s in times]
    fig, axes = plt.subplots(3, len(idx), figsize=(2.3 * len(idx), 6.6), squeeze=False)
    for col, k in enumerate(idx):
        _box_panels(axes[:, col], crit_snaps[k], c)
        lab = f"t = {snap_t[k]:.3g}"
        if atoms is not None:
            lab += f"\n{atoms[k]} atoms"
        axes[0, col].set_title(lab, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_gif(path, crit_snaps, snap_t, c, title, atoms):
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.2))
    writer = PillowWriter(fps=6)
    with writer.saving(fig, str(path), dpi=80):
        for k in range(len(snap_t)):
            for ax in axes:
                ax.clear()
            _box_panels(axes, crit_snaps[k], c)
            fig.suptitle(f"{title}   t = {snap_t[k]:.3g}, {atoms[k]} distinct atoms", fontsize=9)
            fig.tight_layout()
            writer.grab_frame()
    plt.close(fig)


def draw_timeseries(path, t, o, labels, family, n_c, title):
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.4))
    for k, (fam, c, nc) in enumerate(labels):
        if fam != family or nc != n_c:
            continue
        axes[0].plot(t, o["vertex_mass"][k], label=f"c = {c:g}")
        axes[1].plot(t, o["clamped_mass"][k, :, 0], label=f"c = {c:g}")
        axes[2].plot(t, o["distinct_atoms"][k], label=f"c = {c:g}")
        axes[3].plot(t, o["w1"][k], label=f"c = {c:g}")
    axes[0].set_title("vertex mass (3 clamped coordinates)")
    axes[1].set_title("interior mass (0 clamped)")
    axes[2].set_title("distinct critic atoms")
    axes[2].set_yscale("log")
    axes[3].set_title("W₁(g_μ#λ, P*)")
    for ax in axes:
        ax.set_xlabel("mean-field time t")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_sweep(path, rows, clips, n_critics, T):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for n in n_critics:
        for dyn, mk in (("population", "o-"), ("sgd", "s--")):
            sel = [r for r in rows if r["family"] == "edge" and r["n_critic"] == n
                   and r["dynamics"] == dyn]
            if not sel:
                continue
            y = [r["collapse_time"] if r["collapse_time"] is not None else np.nan for r in sel]
            axes[0].plot([r["clip"] for r in sel], y, mk, label=f"{dyn}, n_c = {n}")
            if dyn == "population":
                axes[0].plot([r["clip"] for r in sel], [r["rigid_prediction"] for r in sel], "k:",
                             lw=0.8)
            sel = [r for r in rows if r["family"] == "centered" and r["n_critic"] == n
                   and r["dynamics"] == dyn]
            if not sel:
                continue
            axes[1].plot([r["clip"] for r in sel], [r["final_distinct_atoms"] for r in sel], mk,
                         label=f"{dyn}, n_c = {n}")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("c")
    axes[0].set_title("edge critic: collapse time t_0 (dotted: rigid translation)", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log")
    if axes[1].lines:
        axes[1].set_yscale("log")
    axes[1].set_xlabel("c")
    axes[1].set_title(f"centered critic: distinct atoms at T = {T:g}", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_collapse_example(path, traj, labels, k, c, row):
    """β_j(t) of every critic particle from the snapshots, with the rigid-translation lines."""
    st = traj.snapshot_t
    crit = traj.snapshots["critic"][k]  # [S, M, 3]
    o, t = traj.observables, traj.t
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].plot(st, crit[:, :, 1] / c, color="C0", lw=0.5, alpha=0.5)
    axes[0].axhline(-1, color="k", lw=0.8)
    axes[0].axhline(1, color="k", lw=0.8)
    if row["collapse_time"] is not None:
        for ax in axes:
            ax.axvline(row["collapse_time"], color="C3", ls="--", lw=0.8)
    axes[0].axvline(row["rigid_prediction"], color="k", ls=":", lw=0.8)
    axes[0].set_title("β_j(t)/c (α = γ = +c); red: t_0, dotted: rigid prediction", fontsize=9)
    axes[1].plot(t, o["distinct_atoms"][k])
    axes[1].set_yscale("log")
    axes[1].set_title("distinct atoms", fontsize=9)
    axes[2].plot(t, o["w1"][k])
    axes[2].set_title("W₁(g_μ#λ, P*)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("mean-field time t")
    fig.suptitle(f"collapse example: {labels[k][0]} critic, c = {c:g}, n_c = {labels[k][2]}, "
                 "population dynamics", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/coagulation.toml")
    p.add_argument("--out", default="results/coagulation-study")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    p.add_argument("--clips", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0])
    p.add_argument("--n-critics", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--families", nargs="+", default=["edge", "centered"])
    p.add_argument("--centered-std", type=float, default=0.5,
                   help="std of the centered family's critic laws, in units of c")
    p.add_argument("--frames", type=int, default=41, help="critic snapshots (GIF frames)")
    p.add_argument("--no-sgd", action="store_true", help="population runs only")
    args = p.parse_args(argv)
    try:
        cfg = config.load(args.config, args.set)
    except config.ConfigError as e:
        sys.exit(f"coagulation: error: {e}")
    with study_folder(args.out) as out:
        return study(cfg, args, out)


def study(cfg: config.Config, args, out: Path) -> int:
    """The whole study into the owned folder ``out`` (see the module docstring)."""
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows, timing, arrays = [], {}, {}
    dyns = ["population"] + ([] if args.no_sgd else ["sgd"])
    trajs = {}
    with experiment.precision(cfg):
        for dyn in dyns:
            t0 = time.perf_counter()
            labels, traj, base = run_grid(cfg, args, population=(dyn == "population"))
            timing[dyn] = {"wall_seconds": time.perf_counter() - t0,
                           "compile_seconds": traj.compile_seconds,
                           "run_seconds": traj.run_seconds, "steps": traj.schedule.n_steps,
                           "systems": len(labels)}
            print(f"{dyn}: {len(labels)} systems x {traj.schedule.n_steps} steps to "
                  f"T = {traj.schedule.T:g} in {timing[dyn]['wall_seconds']:.1f} s "
                  f"(compile {traj.compile_seconds:.1f} s)")
            rows += table_rows(labels, traj, base, dyn)
            trajs[dyn] = traj
            for k, v in traj.observables.items():
                arrays[f"{dyn}/{k}"] = v
            arrays[f"{dyn}/snapshot_critic"] = traj.snapshots["critic"]
        arrays["t"], arrays["snapshot_t"] = traj.t, traj.snapshot_t
        arrays["labels"] = np.asarray([f"{f}|{c:g}|{n}" for f, c, n in labels])
        results.atomic_save_npz(out / "study.npz", arrays)

        # Figures: the population runs.
        traj = trajs["population"]
        o, st = traj.observables, traj.snapshot_t
        atoms_at = lambda k: o["distinct_atoms"][k][np.searchsorted(traj.t, st - 1e-9)]  # noqa: E731
        find = {lab: k for k, lab in enumerate(labels)}
        T = traj.schedule.T
        times = np.quantile(st, [0, 0.05, 0.1, 0.25, 0.5, 1.0])
        nc0 = args.n_critics[0]
        for fam in args.families:
            for c in (min(args.clips), max(args.clips)):
                k = find[(fam, c, nc0)]
                draw_projections(fig_dir / f"projections_{fam}_c{c:g}.png",
                                 traj.snapshots["critic"][k], st, times, c,
                                 f"{fam} critic, c = {c:g}, n_c = {nc0}, population (box [−c, c]²)",
                                 atoms_at(k))
            draw_timeseries(fig_dir / f"timeseries_{fam}.png", traj.t, o, labels, fam, nc0,
                            f"{fam} critic, n_c = {nc0}, population dynamics")
        if "centered" in args.families:
            k = find[("centered", max(args.clips), nc0)]
            draw_gif(fig_dir / "flattening.gif", traj.snapshots["critic"][k], st, max(args.clips),
                     f"centered critic, c = {max(args.clips):g}, n_c = {nc0}", atoms_at(k))
        if "edge" in args.families:
            draw_sweep(fig_dir / "collapse_vs_c.png", rows, args.clips, args.n_critics, T)
            c_ex = (cfg.system.dynamics.clip if cfg.system.dynamics.clip in args.clips
                    else args.clips[0])
            k = find[("edge", c_ex, nc0)]
            row = next(r for r in rows if r["dynamics"] == "population" and r["family"] == "edge"
                       and r["clip"] == c_ex and r["n_critic"] == nc0)
            draw_collapse_example(fig_dir / "collapse_example.png", traj, labels, k, c_ex, row)

    md = markdown(rows, args.clips, args.n_critics)
    wall = time.perf_counter() - t_start
    timing["total_wall_seconds"] = wall
    results.atomic_write_text(out / "table.md", md)
    results.atomic_write_text(out / "table.json", results.dumps_json(
        {"rows": rows, "timing": timing, "T": T, "config": config.to_dict(cfg),
         "clips": args.clips, "n_critics": args.n_critics, "centered_std": args.centered_std,
         "device": str(jax.devices()[0])}))
    print(md)
    print(f"wrote {out} in {wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
