"""Figures of a regression run: the loss curve, and the student against the teacher (the functions
when L = 1, with the neurons in the (b, c) plane; a parity plot otherwise)."""

from __future__ import annotations

from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from meanfield.io.figures import band
from meanfield.networks.readout import activation, generator
from meanfield.systems.regression.system import draw_teacher, input_law

#: Inputs of the parity plot when L > 1 (a fixed sample of P).
PARITY_POINTS = 512
PARITY_SEED = 3


def draw_loss(path: Path, t, observables: dict, title: str) -> None:
    """E and ½MMD² (dashed; equal up to round-off) and the dissipation ∫|∇δE/δμ|² dμ against t,
    log y axis (replica median and range)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    t = np.asarray(t, float)
    tiny = np.finfo(float).tiny
    band(axes[0], t, np.maximum(np.asarray(observables["energy"], float), tiny), "energy E")
    if "half_mmd2" in observables:
        med = np.median(np.asarray(observables["half_mmd2"], float), axis=0)
        axes[0].plot(t, np.maximum(med, tiny), "k--", lw=0.8, label="½MMD²_W (Gram form)")
    band(axes[1], t, np.maximum(np.asarray(observables["dissipation"], float), tiny),
         "∫|∇δE/δμ|² dμ = −dE/dt", color="C1")
    for ax in axes:
        ax.set(yscale="log", xlabel="mean-field time t")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_functions(path: Path, snapshot_t, thetas: np.ndarray, teacher: np.ndarray, s,
                   law_name: str, max_curves: int = 4) -> None:
    """L = 1: g* and g_μ (first output) at up to ``max_curves`` snapshot times, and the neurons at
    the last one in the (b, c) plane coloured by a, the teacher's as stars.

    Args:
        snapshot_t: ``[S]`` times.
        thetas: student neurons ``[S, N, K, 3]`` (one replica).
        teacher: ``[N*, K, 3]``.
    """
    idx = np.unique(np.linspace(0, len(snapshot_t) - 1, min(max_curves, len(snapshot_t)))
                    .round().astype(int))
    half = 1.5 if law_name == "sphere" else 3.0
    x = np.linspace(-half, half, 401)[:, None]
    fig, (ax, axn) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.plot(x[:, 0], np.asarray(generator(teacher, x, s))[:, 0], "k", lw=2, label="teacher g*")
    for j, i in enumerate(idx):
        ax.plot(x[:, 0], np.asarray(generator(thetas[i], x, s))[:, 0], color=f"C{j}", lw=1,
                label=f"student, t = {snapshot_t[i]:.4g}")
    if law_name == "sphere":  # P = ½δ₋₁ + ½δ₁: only two inputs count
        for v in (-1.0, 1.0):
            ax.axvline(v, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="x", ylabel="output (first coordinate)", title="student against teacher")
    ax.legend(fontsize=7)
    last = thetas[idx[-1]]
    a, b, c = last[:, 0, 0], last[:, 0, 1], last[:, 0, 2]
    lim = np.abs(a).max() or 1.0
    sc = axn.scatter(b, c, c=a, cmap="coolwarm", vmin=-lim, vmax=lim, s=8, label="student")
    axn.scatter(teacher[:, 0, 1], teacher[:, 0, 2], marker="*", s=140, c="k", label="teacher")
    fig.colorbar(sc, ax=axn, label="output weight a")
    axn.set(xlabel="b", ylabel="c", title=f"neurons at t = {snapshot_t[idx[-1]]:.4g}")
    axn.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_parity(path: Path, snapshot_t, thetas: np.ndarray, teacher: np.ndarray, s,
                x: np.ndarray) -> None:
    """g_μ(x) against g*(x) (first output) at inputs ``x [B, L]``, first and last snapshot."""
    gs = np.asarray(generator(teacher, x, s))[:, 0]
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for j, i in enumerate(sorted({0, len(snapshot_t) - 1})):
        ax.scatter(gs, np.asarray(generator(thetas[i], x, s))[:, 0], s=4, color=f"C{j}",
                   label=f"t = {snapshot_t[i]:.4g}")
    lo, hi = gs.min(), gs.max()
    ax.plot([lo, hi], [lo, hi], "k", lw=0.8)
    ax.set(xlabel="teacher g*(x)", ylabel="student g_μ(x)", title="parity (first output)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_figures(fig_dir, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``loss.png``, and ``function.png`` (L = 1) or ``parity.png`` (replica 0)."""
    s = cfg.system
    draw_loss(fig_dir / "loss.png", t, observables,
              f"regression: N = {s.N}, N* = {s.teacher.N}, "
              f"{'population' if s.dynamics.population else f'SGD m = {s.dynamics.batch_size}'}")
    if "theta" not in snapshots:
        return
    act = activation(s.activation)
    # Drawn in float32 as in the run (the same draws in either precision), evaluated in float32.
    teacher = np.asarray(draw_teacher(s.teacher.seed, s.teacher.N, s.K, s.L,
                                      *s.teacher.blocks()), np.float32)
    thetas = np.asarray(snapshots["theta"][0], np.float32)
    snap_t = np.asarray(snapshot_t, float)
    if s.L == 1:
        draw_functions(fig_dir / "function.png", snap_t, thetas, teacher, act, s.inputs.law)
    else:
        x = np.asarray(input_law(s.inputs.law, s.L).sample(jax.random.key(PARITY_SEED),
                                                          PARITY_POINTS), np.float32)
        draw_parity(fig_dir / "parity.png", snap_t, thetas, teacher, act, x)
