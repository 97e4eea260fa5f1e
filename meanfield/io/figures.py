"""Figures of a run, drawn from what is saved (config, metrics and snapshots) alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meanfield.core import registry  # noqa: E402
from meanfield.io.config import Config  # noqa: E402


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


def draw_phase(path: Path, observables: dict, x: str, y: str, title: str,
               clip: float | None = None) -> None:
    """The trajectory in the (x, y) plane, one curve per replica; with ``clip``, the band
    |y| > c that a projection onto [−c, c] cuts off."""
    xs, ys = np.asarray(observables[x], float), np.asarray(observables[y], float)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for r in range(xs.shape[0]):
        ax.plot(xs[r], ys[r], lw=0.9, color="C0")
        ax.plot(xs[r, :1], ys[r, :1], "o", color="C2", ms=4, label="start" if r == 0 else None)
        ax.plot(xs[r, -1:], ys[r, -1:], "s", color="C3", ms=4, label="end" if r == 0 else None)
    if clip is not None:
        c = clip
        for sign in (1, -1):
            ax.axhspan(sign * c, sign * max(c, np.abs(ys).max()) * 1.1, color="0.88", zorder=0)
            ax.axhline(sign * c, color="0.4", lw=0.8, ls="--")
    ax.set(xlabel=x, ylabel=y, title=f"{title}: trajectory in ({x}, {y})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_run(out: Path, cfg: Config, t, observables, snapshot_t, snapshots) -> None:
    """All figures of a run into ``out/figures/``."""
    fig_dir = Path(out) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    draw_observables(fig_dir / "observables.png", t, observables, f"{cfg.kind} observables")
    kind = registry.get(cfg.kind)
    if kind.figures is not None:
        kind.figures(fig_dir, cfg, t, observables, snapshot_t, snapshots)
