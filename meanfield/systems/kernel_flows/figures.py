"""Figures of a particle-flow run: the particles at the snapshot times over the target, and the
losses against iterations on log axes."""

from __future__ import annotations

from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from meanfield.io.figures import band


def draw_particles(path: Path, snapshot_t, xs, target: np.ndarray | None, title: str,
                   max_panels: int = 4) -> None:
    """Scatter of the particles (first two coordinates) at up to ``max_panels`` snapshot times.

    Args:
        snapshot_t: ``[S]`` times, or ``S`` panel titles.
        xs: particles ``[S, N, d]`` (one replica).
        target: target points ``[M, d]`` drawn in grey, or None.
    """
    idx = np.unique(np.linspace(0, len(snapshot_t) - 1, min(max_panels, len(snapshot_t)))
                    .round().astype(int))
    fig, axes = plt.subplots(1, len(idx), figsize=(3.6 * len(idx), 3.5), squeeze=False)
    xs = np.asarray(xs)
    c = (0, 1) if xs.shape[-1] > 1 else (0, 0)  # 1-D particles lie on the diagonal
    pts = np.concatenate([xs[idx].reshape(-1, xs.shape[-1])]
                         + ([target] if target is not None else []))[:, c]
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.05 * (hi - lo).max() + 1e-12
    for ax, i in zip(axes[0], idx):
        if target is not None:
            ax.scatter(target[:, c[0]], target[:, c[1]], s=2, c="0.7", label="target")
        ax.scatter(xs[i][:, c[0]], xs[i][:, c[1]], s=3, c="C3", label="particles")
        ax.set(xlim=(lo[0] - pad, hi[0] + pad), ylim=(lo[1] - pad, hi[1] + pad),
               title=snapshot_t[i] if isinstance(snapshot_t[i], str)
               else f"t = {snapshot_t[i]:.4g}", aspect="equal")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_losses(path: Path, t, observables: dict, dt: float, names=("half_mmd2", "kale"),
                title: str = "") -> None:
    """The losses against the iteration count k = t/Δt on log–log axes (k + 1, so k = 0 shows)."""
    names = [n for n in names if n in observables]
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    k = np.asarray(t, float) / dt + 1.0
    for n in names:
        v = np.asarray(observables[n], float)
        band(ax, k, np.maximum(v, np.finfo(float).tiny), n)
    ax.set(xscale="log", yscale="log", xlabel="iteration + 1", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_figures(fig_dir, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``particles.png`` (replica 0 at the snapshot times) and ``loss.png``."""
    s = cfg.system
    draw_losses(fig_dir / "loss.png", t, observables, s.lr, title=f"{s.kind} flow")
    if "x" in snapshots:
        target = s.target.build().sample(jax.random.key(s.target_seed), min(s.M, 2000))
        draw_particles(fig_dir / "particles.png", snapshot_t, np.asarray(snapshots["x"][0]),
                       np.asarray(target), f"{s.kind} flow: particles (replica 0)")

