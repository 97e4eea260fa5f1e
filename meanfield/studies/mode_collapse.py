"""Mode collapse of the 1-D shallow WGAN on P* = ½N(−1, s²) + ½N(1, s²) (docs/mode_collapse.md).

The sweep study ``mode_collapse`` (``[sweep] study = "mode_collapse"``) runs the ``wgan`` kind over
the critic ratio n_c, the clip c (both vmapped: one compiled program per scheme and α), the step α
and the scheme, exactly as a plain sweep does, with the generator particles kept at every snapshot
time. It then computes, per replica and snapshot, the collapse statistics of
:mod:`meanfield.metrics.collapse` (mass p right of 0, balance b, W₁ to P*, E|x|) on the generated
points g_μ(z) at the run's evaluation latents, and classifies each replica at the horizon from the
last ``window`` fraction of the run (:class:`Rules`, applied in this order):

1. ``at_mean``: E|x| < ``at_mean_mean_abs`` at every time of the window: the law sits at P*'s
   mean, between the modes, covering neither (mostly the spike at 0 that the initial sampling
   gives, never left when c is small; its balance then only says on which side of 0 the spike's
   points happen to lie);
2. ``collapse``: b < ``collapse_balance`` at every time of the window (more than three quarters of
   the mass stays on one side of 0 for the whole window, whatever it does on that side);
3. ``oscillate``: over the window W₁ varies by more than ``oscillate_w1_range`` or b by more than
   ``oscillate_balance_range``;
4. ``converge``: W₁ < ``converge_w1`` at every time of the window (and, by 3., stable);
5. ``unresolved``: none of these (a slow drift that T does not settle).

``numbers.json`` holds the settings, the rules, one entry per cell (class fractions over replicas,
the majority class, the statistics at t = 0 next to those at T and over the window) and the
overall fractions; the figures are ``figures/map.png`` (the (n_c, c) plane coloured by class, one
panel per scheme and α), ``figures/histograms.png`` (generated histograms over time for one
replica of each class) and ``figures/histograms.gif`` (the same, animated).

The cells' folders are those of a plain sweep, so a rerun reads them back and only redraws.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.patches import Patch, Rectangle

from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.metrics import collapse
from meanfield.networks.readout import activation, generator
from meanfield.studies import sweep

CLASSES = ("converge", "oscillate", "collapse", "at_mean", "unresolved")  # ties: first wins
COLOURS = {"converge": "#4daf4a", "oscillate": "#ff7f00", "collapse": "#e41a1c",
           "at_mean": "#999999", "unresolved": "#377eb8"}
STATISTICS = ("p", "balance", "w1", "mean_abs")


@dataclasses.dataclass(frozen=True)
class Rules:
    """Classification thresholds (the ``[mode_collapse]`` table; docs/mode_collapse.md says why).

    Attributes:
        window: the last fraction of [0, T] the rules look at.
        at_mean_mean_abs: E|x| below this throughout the window: ``at_mean``.
        collapse_balance: b below this throughout the window: ``collapse``.
        oscillate_w1_range: max − min of W₁ over the window above this: ``oscillate``.
        oscillate_balance_range: max − min of b over the window above this: ``oscillate``.
        converge_w1: W₁ below this throughout the window: ``converge``.
    """

    window: float = 0.25
    at_mean_mean_abs: float = 0.5
    collapse_balance: float = 0.5
    oscillate_w1_range: float = 0.25
    oscillate_balance_range: float = 0.5
    converge_w1: float = 0.5


_EXTRA_KEYS = ("histogram_times", "gif_fps")


def rules_of(spec: sweep.SweepSpec) -> Rules:
    """The :class:`Rules` of the config's ``[mode_collapse]`` table (defaults for absent keys)."""
    table = {k: v for k, v in spec.extra.get("mode_collapse", {}).items() if k not in _EXTRA_KEYS}
    return Rules(**{k: float(v) for k, v in table.items()})


def check(spec: sweep.SweepSpec) -> None:
    """The ``[mode_collapse]`` table and what the statistics need (K = L = 1, snapshots).

    Raises:
        ConfigError: naming the key.
    """
    table = spec.extra.get("mode_collapse", {})
    names = [f.name for f in dataclasses.fields(Rules)] + list(_EXTRA_KEYS)
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise C.ConfigError(f"mode_collapse.{unknown[0]}: unknown key; expected one of "
                            f"{', '.join(names)}")
    for k, v in table.items():
        if k == "histogram_times":
            if (not isinstance(v, list) or not v
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0
                               for x in v)):
                raise C.ConfigError(f"mode_collapse.{k}: expected a non-empty list of times >= 0")
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise C.ConfigError(f"mode_collapse.{k}: expected a number > 0, got {v!r}")
    if not table.get("window", 0.25) <= 1:
        raise C.ConfigError("mode_collapse.window: expected a fraction of the run in (0, 1]")
    for cell in sweep.cells(spec):
        cfg = cell.config
        if cfg.kind != "wgan":
            raise C.ConfigError(f"system.kind: the mode-collapse study runs the wgan kind, got "
                                f"{cfg.kind!r}")
        if cfg.system.K != 1 or cfg.system.L != 1:
            raise C.ConfigError("system.K: the mode-collapse statistics are 1-D (K = L = 1)")
        r = cfg.run
        inside = [t for t in r.snapshot_times if t <= r.T]
        if 0.0 not in inside:
            raise C.ConfigError("run.snapshot_times: the study compares t = 0 with T; include 0.0")


# -- statistics and classification -------------------------------------------------------------

def _generated(gen, z):
    # g_μ(z) for sigmoid generators, the activation this study runs (checked in series()).
    return generator(gen, z, activation("sigmoid"))[..., 0]


@jax.jit
def _series(gen, z, target_sorted):
    # gen [R, S, N, 1, 3] -> statistics [R, S].
    one = lambda g: collapse.statistics(_generated(g, z), target_sorted)  # noqa: E731
    return jax.vmap(jax.vmap(one))(gen)


_points_all = jax.jit(jax.vmap(_generated, in_axes=(0, None)))


def _evaluation(cfg: C.Config) -> tuple[np.ndarray, np.ndarray]:
    """The run's evaluation latents ``[n, 1]`` and P*'s sorted cloud ``[n]`` (from the system)."""
    if cfg.system.activation != "sigmoid":
        raise C.ConfigError("system.activation: the mode-collapse study reads sigmoid generators")
    with experiment.precision(cfg):
        system = experiment.build_system(cfg)
        return np.asarray(system.eval_z), np.asarray(system.eval_x[0])


def series(cfg: C.Config, snapshot_gen: np.ndarray) -> dict[str, np.ndarray]:
    """The collapse statistics of every replica at every snapshot time.

    Args:
        cfg: the cell's config (its evaluation latents and P*'s cloud are rebuilt from it).
        snapshot_gen: generator particles ``[R, S, N, 1, 3]``.

    Returns:
        ``{"p", "balance", "w1", "mean_abs"}``, each ``[R, S]`` (float64 on the host).
    """
    z, x = _evaluation(cfg)
    with experiment.precision(cfg):
        out = _series(jnp.asarray(snapshot_gen), jnp.asarray(z), jnp.asarray(x))
    return {k: np.asarray(v, float) for k, v in out.items()}


def points(cfg: C.Config, gen: np.ndarray) -> np.ndarray:
    """Generated points at the evaluation latents for a stack of generators ``[S, N, 1, 3]`` →
    ``[S, n_eval]``."""
    z, _ = _evaluation(cfg)
    with experiment.precision(cfg):
        return np.asarray(_points_all(jnp.asarray(gen), jnp.asarray(z)), float)


def classify(t: np.ndarray, stats: dict[str, np.ndarray], rules: Rules = Rules()) -> str:
    """The class of one replica from its statistics over the last ``rules.window`` of the run.

    Args:
        t: snapshot times ``[S]``.
        stats: ``balance``, ``w1``, ``mean_abs``, each ``[S]``.
        rules: the thresholds.

    Returns:
        One of :data:`CLASSES`; ``unresolved`` when fewer than 3 snapshot times fall in the window
        (a shortened run, ``--set run.T=…``: no rule can be judged on fewer).
    """
    w = _window(np.asarray(t, float), rules)
    if w.sum() < 3:
        return "unresolved"
    b, w1, m = (np.asarray(stats[k], float)[w] for k in ("balance", "w1", "mean_abs"))
    if np.all(m < rules.at_mean_mean_abs):
        return "at_mean"
    if np.all(b < rules.collapse_balance):
        return "collapse"
    if np.ptp(w1) > rules.oscillate_w1_range or np.ptp(b) > rules.oscillate_balance_range:
        return "oscillate"
    if np.all(w1 < rules.converge_w1):
        return "converge"
    return "unresolved"


def _window(t: np.ndarray, rules: Rules) -> np.ndarray:
    return t >= (1.0 - rules.window) * t[-1] - 1e-12


def cell_entry(cell: sweep.Cell, t: np.ndarray, stats: dict[str, np.ndarray],
               rules: Rules) -> dict:
    """One cell of the map: class per replica, fractions, statistics at 0, at T, over the window."""
    R = stats["w1"].shape[0]
    classes = [classify(t, {k: v[r] for k, v in stats.items()}, rules) for r in range(R)]
    counts = {c: classes.count(c) for c in CLASSES}
    # Majority class; a tie goes to the class listed first in CLASSES.
    majority = max(CLASSES, key=lambda c: (counts[c], -CLASSES.index(c)))
    w = _window(t, rules)
    d = cell.config.system.dynamics
    return {
        "cell": cell.name, "n_critic": d.n_critic, "clip": d.clip, "lr": d.lr,
        "scheme": d.scheme, "class": majority,
        "fractions": {c: counts[c] / R for c in CLASSES},
        "replica_classes": classes,
        "initial": {k: stats[k][:, 0].tolist() for k in STATISTICS},
        "final": {k: stats[k][:, -1].tolist() for k in STATISTICS},
        "window_min": {k: stats[k][:, w].min(1).tolist() for k in ("balance", "w1")},
        "window_max": {k: stats[k][:, w].max(1).tolist() for k in ("balance", "w1")},
        # How far the dynamics moved W₁ from its t = 0 value (the check that they act by T).
        "w1_max_change": np.max(np.abs(stats["w1"] - stats["w1"][:, :1]), 1).tolist(),
    }


# -- the sweep study ---------------------------------------------------------------------------

def row(cell: sweep.Cell, summary: dict) -> dict:
    """The ``sweep.csv`` columns: those of a plain sweep (the classes are in ``numbers.json``)."""
    return sweep.plain_row(cell, summary)


def _target_density(cfg: C.Config, xs: np.ndarray) -> np.ndarray:
    with experiment.precision(cfg):
        return np.asarray(experiment.build_system(cfg).target.density(xs), float)


def finish(spec: sweep.SweepSpec, cell_list: list[sweep.Cell], out: Path, progress) -> dict:
    """Statistics, classes, ``numbers.json`` and the figures, from the cells on disk."""
    rules = rules_of(spec)
    extra = spec.extra.get("mode_collapse", {})
    progress.stage(f"collapse statistics of {len(cell_list)} cell(s)")
    entries, traces = [], {}
    for cell in cell_list:
        run = results.read_run(out / "cells" / cell.name)
        t = np.asarray(run.snapshot_t, float)
        gen = run.snapshot("gen")
        stats = series(cell.config, gen)
        entries.append(cell_entry(cell, t, stats, rules))
        traces[cell.name] = (t, stats, gen)
    base = cell_list[0].config
    s = base.system
    all_classes = [c for e in entries for c in e["replica_classes"]]
    initial_b = np.concatenate([e["initial"]["balance"] for e in entries])
    final_w1_change = np.concatenate([e["w1_max_change"] for e in entries])
    numbers = {
        "settings": {
            "N": s.N, "M": s.M, "batch_size": s.dynamics.batch_size, "T": base.run.T,
            "replicas": base.run.replicas, "seed": base.run.seed, "dtype": base.run.dtype,
            "target": C.to_dict(base)["system"]["target"], "init": C.to_dict(base)["system"]["init"],
            "n_eval": s.numerics.n_eval, "snapshot_times": traces[cell_list[0].name][0].tolist(),
            "axes": {a: list(v) for _, g in spec.grids for a, v in g.items()},
            "rules": dataclasses.asdict(rules),
        },
        "fractions": {c: all_classes.count(c) / len(all_classes) for c in CLASSES},
        "replicas_total": len(all_classes),
        "by_scheme": {sch: {c: sum(e["fractions"][c] for e in entries if e["scheme"] == sch)
                            / max(1, sum(e["scheme"] == sch for e in entries)) for c in CLASSES}
                      for sch in sorted({e["scheme"] for e in entries})},
        # What the initial sampling gives: the law at t = 0 is a spike at 0 (W₁ ≈ 1, E|x| ≈ 0)
        # whose balance is set by the seed; compare it with the class the dynamics lead to.
        "initial": {
            "balance_median": float(np.median(initial_b)),
            "balance_below_half_fraction": float(np.mean(initial_b < 0.5)),
            "w1_median": float(np.median(np.concatenate([e["initial"]["w1"] for e in entries]))),
            "mean_abs_median": float(np.median(np.concatenate([e["initial"]["mean_abs"]
                                                               for e in entries]))),
            "collapse_fraction_given_initial_balance_below_half":
                _conditional(entries, lambda b: b < 0.5),
            "collapse_fraction_given_initial_balance_at_least_half":
                _conditional(entries, lambda b: b >= 0.5),
        },
        "w1_max_change": {"min": float(final_w1_change.min()),
                          "median": float(np.median(final_w1_change))},
        # at_mean replicas whose W₁ never moved by 0.1 from t = 0: the dynamics did not act by T.
        "at_mean_never_moved": sum(ch < 0.1 for e in entries
                                   for ch, cls in zip(e["w1_max_change"], e["replica_classes"])
                                   if cls == "at_mean"),
        "cells": entries,
    }
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    (out / "figures").mkdir(exist_ok=True)
    progress.stage("figures: map, histograms, GIF")
    draw_map(out / "figures" / "map.png", entries, base)
    reps = representatives(entries)
    times = extra.get("histogram_times")
    draw_histograms(out / "figures" / "histograms.png", reps, traces, cell_list, times)
    draw_gif(out / "figures" / "histograms.gif", reps, traces, cell_list,
             fps=float(extra.get("gif_fps", 6)))
    numbers["representatives"] = [{"cell": c, "replica": r, "class": k} for k, c, r in reps]
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    return numbers


def _conditional(entries: list[dict], cond) -> float | None:
    hits = [cls == "collapse" for e in entries
            for b, cls in zip(e["initial"]["balance"], e["replica_classes"]) if cond(b)]
    return float(np.mean(hits)) if hits else None


def representatives(entries: list[dict]) -> list[tuple[str, str, int]]:
    """``(class, cell, replica)``: the first replica of each class found, in :data:`CLASSES`
    order."""
    out = []
    for cls in CLASSES:
        for e in entries:
            if cls in e["replica_classes"]:
                out.append((cls, e["cell"], e["replica_classes"].index(cls)))
                break
    return out


# -- figures -----------------------------------------------------------------------------------

def draw_map(path: Path, entries: list[dict], base: C.Config) -> None:
    """The (n_c, c) plane, one panel per (scheme, α); each cell split into one strip per replica,
    coloured by that replica's class, with the median W₁ and balance at T written in it."""
    panels = sorted({(e["scheme"], e["lr"]) for e in entries})
    ncs = sorted({e["n_critic"] for e in entries})
    clips = sorted({e["clip"] for e in entries})
    fig, axes = plt.subplots(1, len(panels), figsize=(0.9 * len(ncs) * len(panels) + 2.5
                                                      * len(panels), 0.75 * len(clips) + 1.8),
                             squeeze=False)
    for ax, (scheme, lr) in zip(axes[0], panels):
        for e in (e for e in entries if (e["scheme"], e["lr"]) == (scheme, lr)):
            i, j = ncs.index(e["n_critic"]), clips.index(e["clip"])
            R = len(e["replica_classes"])
            for r, cls in enumerate(e["replica_classes"]):
                ax.add_patch(Rectangle((i - 0.45 + 0.9 * r / R, j - 0.45), 0.9 / R, 0.9,
                                       color=COLOURS[cls], lw=0))
            ax.text(i, j, f"W₁ {np.median(e['final']['w1']):.2f}\nb {np.median(e['final']['balance']):.2f}",
                    ha="center", va="center", fontsize=7)
        ax.set(xlim=(-0.5, len(ncs) - 0.5), ylim=(-0.5, len(clips) - 0.5), xticks=range(len(ncs)),
               xticklabels=ncs, yticks=range(len(clips)), yticklabels=clips, xlabel="n_c",
               ylabel="clip c", title=f"{scheme}, α = {lr:g} (Δt = {lr / base.system.N:.3g})")
        ax.title.set_fontsize(9)
    present = [c for c in CLASSES if any(c in e["replica_classes"] for e in entries)]
    fig.legend(handles=[Patch(color=COLOURS[c], label=c) for c in present], loc="lower center",
               ncol=len(present), fontsize=8)
    s = base.system
    fig.suptitle(f"class at T = {base.run.T:g} per replica (strips), median W₁ and balance b at T; "
                 f"N = {s.N}, M = {s.M}, m = {s.dynamics.batch_size}", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hist(ax, pts, xs, dens, bins=60, lo=-3.0, hi=3.0):
    ax.hist(np.clip(pts, lo, hi), bins=bins, range=(lo, hi), density=True, color="C0", alpha=0.6)
    ax.plot(xs, dens, "k", lw=1)
    ax.axvline(0.0, color="0.6", lw=0.6)
    ax.set_yticks([])


def draw_histograms(path: Path, reps, traces, cell_list, times=None) -> None:
    """One row per representative replica: generated histograms at a few times (default 6 evenly
    spaced snapshots) against P*'s density, then W₁ and the balance over time."""
    cfgs = {c.name: c.config for c in cell_list}
    xs = np.linspace(-3, 3, 400)
    if not reps:
        return
    t0 = traces[reps[0][1]][0]
    if times is None:
        cols = np.unique(np.linspace(0, len(t0) - 1, min(6, len(t0))).round().astype(int))
    else:
        cols = np.unique([int(np.argmin(np.abs(t0 - x))) for x in times])
    fig, axes = plt.subplots(len(reps), len(cols) + 1, figsize=(2.2 * len(cols) + 3.6,
                                                               2.0 * len(reps)), squeeze=False)
    for row_axes, (cls, name, r) in zip(axes, reps):
        t, stats, gen = traces[name]
        cfg = cfgs[name]
        dens = _target_density(cfg, xs)
        pts = points(cfg, gen[r, cols])
        for ax, j, p in zip(row_axes, cols, pts):
            _hist(ax, p, xs, dens)
            ax.set_title(f"t = {t[j]:.3g}", fontsize=8)
        d = cfg.system.dynamics
        row_axes[0].set_ylabel(f"{cls}\nn_c={d.n_critic}, c={d.clip}\nα={d.lr:g}, {d.scheme[:4]}.",
                               fontsize=7)
        ax = row_axes[-1]
        ax.plot(t, stats["w1"][r], color="C3", label="W₁")
        ax.plot(t, stats["balance"][r], color="C2", label="balance b")
        ax.set_ylim(0, max(2.0, float(stats["w1"][r].max()) * 1.05))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper right")
    axes[-1][-1].set_xlabel("t", fontsize=8)
    fig.suptitle("generated g_μ#λ (one replica per class) against P*", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw_gif(path: Path, reps, traces, cell_list, fps: float = 6.0) -> None:
    """The representatives' generated histograms at every snapshot time, animated (PillowWriter)."""
    if not reps:
        return
    cfgs = {c.name: c.config for c in cell_list}
    xs = np.linspace(-3, 3, 400)
    pts_all = [points(cfgs[n], traces[n][2][r]) for _, n, r in reps]
    dens = [_target_density(cfgs[n], xs) for _, n, _ in reps]
    t = traces[reps[0][1]][0]
    fig, axes = plt.subplots(1, len(reps), figsize=(2.4 * len(reps), 2.4), squeeze=False)
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.12, top=0.78, wspace=0.15)
    axes = axes[0]

    def frame(j):
        for ax, (cls, name, r), pts, d in zip(axes, reps, pts_all, dens):
            ax.clear()
            _hist(ax, pts[min(j, len(pts) - 1)], xs, d)
            ax.set_ylim(0, 3.0)
            dyn = cfgs[name].system.dynamics
            ax.set_title(f"{cls}: n_c={dyn.n_critic}, c={dyn.clip}, α={dyn.lr:g}, "
                         f"{dyn.scheme[:4]}.", fontsize=6)
        fig.suptitle(f"t = {t[j]:.3g}", fontsize=9)
        return []

    anim = animation.FuncAnimation(fig, frame, frames=len(t), blit=False)
    partial = path.with_name(path.stem + ".partial.gif")
    anim.save(partial, writer=animation.PillowWriter(fps=fps), dpi=80)
    plt.close(fig)
    partial.replace(path)


def report(numbers: dict) -> str:
    """The map in a few lines (for the script and the CLI)."""
    lines = ["cell                                   class       fractions (conv/osc/coll/mean/unres)"
             "   W1(0)  W1(T)  b(0)  b(T)"]
    for e in numbers["cells"]:
        f = "/".join(f"{e['fractions'][c]:.2f}" for c in CLASSES)
        lines.append(f"{e['scheme'][:4]} α={e['lr']:<4g} n_c={e['n_critic']:<3d} c={e['clip']:<5g}"
                     f"          {e['class']:11s} {f}  "
                     f"{np.median(e['initial']['w1']):5.2f}  {np.median(e['final']['w1']):5.2f}  "
                     f"{np.median(e['initial']['balance']):4.2f}  "
                     f"{np.median(e['final']['balance']):4.2f}")
    lines.append("all replicas: " + ", ".join(f"{c} {numbers['fractions'][c]:.2f}"
                                              for c in CLASSES)
                 + f" (of {numbers['replicas_total']})")
    return "\n".join(lines)


sweep.register_study(sweep.Study("mode_collapse", run_group=sweep.STUDIES["plain"].run_group,
                                 row=row, finish=finish, tables=("mode_collapse",), check=check,
                                 report=report))
