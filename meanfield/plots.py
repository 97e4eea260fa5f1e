"""Figures of a run, drawn from what is saved (config, metrics and snapshots) alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meanfield.config import Config  # noqa: E402


def band(ax, t, values, label, color=None):
    """Median over replicas with the min–max band. ``values``: ``[R, n]``."""
    values = np.asarray(values, float)
    line, = ax.plot(t, np.median(values, axis=0), label=label, color=color)
    if values.shape[0] > 1:
        ax.fill_between(t, values.min(axis=0), values.max(axis=0), alpha=0.25,
                        color=line.get_color(), lw=0)
    return line


def _scalar_observables(observables: dict) -> dict:
    return {k: v for k, v in observables.items() if np.ndim(v) == 2}


def draw_observables(path: Path, t, observables: dict, title: str) -> None:
    """Every scalar observable against t, one panel each, replica median and range."""
    scalars = _scalar_observables(observables)
    n = len(scalars)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (k, v) in zip(axes.ravel(), scalars.items()):
        band(ax, t, v, k)
        ax.set_title(k)
        ax.set_xlabel("time t")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_wgan_overview(path: Path, cfg: Config, t, observables, snapshot_t, snapshots) -> None:
    """Target density against generated histograms at the snapshot times, and W_1(t), W_2(t).

    Generated points are g_μ at the fixed evaluation latents, recomputed from the saved particles.
    """
    from meanfield.experiment import build_system, target_law

    system = build_system(cfg)
    target = target_law(cfg)
    gen = snapshots["gen"]  # [R, S, N, K, L+2]
    S = gen.shape[1]
    fig = plt.figure(figsize=(3.0 * S + 4.5, 3.4))
    grid = fig.add_gridspec(1, S + 2)
    lo, hi = -3.0, 3.0
    if cfg.model.K == 1:
        q = target.quantile(np.array([1e-3, 1 - 1e-3]))
        lo, hi = float(q[0]) - 1.0, float(q[1]) + 1.0
    xs = np.linspace(lo, hi, 400)
    for j in range(S):
        ax = fig.add_subplot(grid[0, j])
        pts = np.asarray(system.generated(gen[0, j]))[:, 0]
        ax.hist(pts, bins=60, range=(lo, hi), density=True, alpha=0.6, label="generated g_μ#λ")
        dens = target.density(xs) if cfg.model.K == 1 else None
        if dens is not None:
            ax.plot(xs, dens, "k", lw=1.2, label="target P*")
        ax.set_title(f"t = {snapshot_t[j]:.3g}")
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7, loc="upper left")
    ax = fig.add_subplot(grid[0, S:])
    band(ax, t, observables["w1"], "W₁")
    band(ax, t, observables["w2"], "W₂")
    ax.set_yscale("log")
    ax.set_xlabel("mean-field time t")
    R = np.shape(observables["w1"])[0]
    ax.set_title(f"distance to P* (median, range of {R} replicas)")
    ax.legend()
    m, d = cfg.model, cfg.dynamics
    fig.suptitle(f"WGAN particles: N={m.N}, M={m.M}, K={m.K}, L={m.L}, α={d.lr}, "
                 f"n_c={d.n_critic}, c={d.clip}, m={d.batch_size}, {d.scheme}, {d.optimizer}"
                 + (", population" if d.population else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: model.kind -> the two observables drawn against each other in ``phase.png``.
PHASE_PLANES = {"toy": ("theta_mean", "omega_mean"), "dirac": ("theta", "psi")}


def draw_phase(path: Path, cfg: Config, observables: dict, x: str, y: str) -> None:
    """The trajectory in the (x, y) plane, one curve per replica; the clipping band for the toy
    game (|ω| > c is cut by the projection)."""
    xs, ys = np.asarray(observables[x], float), np.asarray(observables[y], float)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for r in range(xs.shape[0]):
        ax.plot(xs[r], ys[r], lw=0.9, color="C0")
        ax.plot(xs[r, :1], ys[r, :1], "o", color="C2", ms=4, label="start" if r == 0 else None)
        ax.plot(xs[r, -1:], ys[r, -1:], "s", color="C3", ms=4, label="end" if r == 0 else None)
    section = cfg.toy if cfg.model.kind == "toy" else cfg.dirac
    if section.clipped:
        c = section.clip
        for sign in (1, -1):
            ax.axhspan(sign * c, sign * max(c, np.abs(ys).max()) * 1.1, color="0.88", zorder=0)
            ax.axhline(sign * c, color="0.4", lw=0.8, ls="--")
    ax.set(xlabel=x, ylabel=y, title=f"{cfg.model.kind}: trajectory in ({x}, {y})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_run(out: Path, cfg: Config, t, observables, snapshot_t, snapshots) -> None:
    """All figures of a run into ``out/figures/``."""
    fig_dir = Path(out) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    draw_observables(fig_dir / "observables.png", t, observables, f"{cfg.model.kind} observables")
    if cfg.model.kind == "wgan" and len(snapshot_t):
        draw_wgan_overview(fig_dir / "overview.png", cfg, t, observables, snapshot_t, snapshots)
    if cfg.model.kind in PHASE_PLANES:
        draw_phase(fig_dir / "phase.png", cfg, observables, *PHASE_PLANES[cfg.model.kind])


def redraw(path: str | Path) -> list[Path]:
    """Redraw a finished run's figures from its saved files; returns the figure paths.

    Raises:
        FileNotFoundError: when ``path`` is not a finished run.
        ResultError: when one of its files cannot be read.
    """
    from meanfield.config import from_dict
    from meanfield.results import SNAPSHOT_PREFIX, read_run
    import tomllib

    from meanfield.results import ResultError

    run = read_run(path)
    try:
        cfg = from_dict(tomllib.loads(run.config_text))
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise ResultError(f"{run.path / 'config.toml'}: not a valid run config ({e})") from None
    m = run.metrics
    observables = {k: v for k, v in m.items()
                   if k not in ("t", "snapshot_t") and not k.startswith(SNAPSHOT_PREFIX)}
    snapshots = {k[len(SNAPSHOT_PREFIX):]: v for k, v in m.items() if k.startswith(SNAPSHOT_PREFIX)}
    from meanfield.experiment import precision

    with precision(cfg):
        draw_run(run.path, cfg, m["t"], observables, m["snapshot_t"], snapshots)
    return sorted((run.path / "figures").glob("*.png"))
