"""The WGAN's own figure: generated histograms against P*, and W₁, W₂ over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from meanfield.io.figures import band
from meanfield.systems.wgan.system import from_config


def draw_overview(path: Path, cfg, t, observables, snapshot_t, snapshots, system=None,
                  curves=(("w1", "W₁"), ("w2", "W₂")), title: str = "distance to P*",
                  name: str = "WGAN") -> None:
    """Target density against generated histograms at the snapshot times, and ``curves``
    (observable, label) over time (default W_1(t), W_2(t)).

    Generated points are g_μ at the fixed evaluation latents, recomputed from the saved particles
    of ``system`` (default: the WGAN of ``cfg``).
    """
    s = cfg.system
    system = from_config(s, cfg.run) if system is None else system
    target = system.target
    gen = snapshots["gen"]  # [R, S, N, K, L+2]
    S = gen.shape[1]
    fig = plt.figure(figsize=(3.0 * S + 4.5, 3.4))
    grid = fig.add_gridspec(1, S + 2)
    lo, hi = -3.0, 3.0
    if s.K == 1:
        q = target.quantile(np.array([1e-3, 1 - 1e-3]))
        lo, hi = float(q[0]) - 1.0, float(q[1]) + 1.0
    xs = np.linspace(lo, hi, 400)
    for j in range(S):
        ax = fig.add_subplot(grid[0, j])
        pts = np.asarray(system.generated(gen[0, j]))[:, 0]
        ax.hist(pts, bins=60, range=(lo, hi), density=True, alpha=0.6, label="generated g_μ#λ")
        if s.K == 1:
            ax.plot(xs, target.density(xs), "k", lw=1.2, label="target P*")
        ax.set_title(f"t = {snapshot_t[j]:.3g}")
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7, loc="upper left")
    ax = fig.add_subplot(grid[0, S:])
    for key, label in curves:
        band(ax, t, observables[key], label)
    ax.set_yscale("log")
    ax.set_xlabel(f"time t ({system.dt:.3g} per step)")
    R = np.shape(observables[curves[0][0]])[0]
    ax.set_title(f"{title} (median, range of {R} replicas)")
    ax.legend()
    d = s.dynamics
    fig.suptitle(f"{name} particles: N={s.N}, M={s.M}, K={s.K}, L={s.L}, α={d.lr}, "
                 f"n_c={d.n_critic}, c={d.clip}, m={d.batch_size}, {d.scheme}, {d.optimizer}"
                 + (", population" if d.population else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_figures(fig_dir: Path, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``overview.png`` when snapshots were saved."""
    if len(snapshot_t):
        draw_overview(fig_dir / "overview.png", cfg, t, observables, snapshot_t, snapshots)
