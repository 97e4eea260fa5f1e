"""Studies of the teacher–student regression (docs/regression.md).

- :func:`noise_injection`: the student–teacher experiment of [AKSG] with and without noise
  injection, seeds as replicas. The student starts near a point mass: every neuron within ~ε of
  one point, so that the flow starts next to a Dirac, which it keeps exactly (identical neurons get
  identical velocities) and leaves only as fast as the instability amplifies ε: it sits on the
  plateau of the best one-neuron network. Noise injection evaluates the velocity at θᵢ + β_k uᵢ,
  which separates the neurons at once. ``numbers.json`` holds the final energy per variant
  (median over seeds and per seed), its ratio, the neurons' spread at T, and a figure shows the
  energy curves on log axes, the fitted functions and the neurons at T. The runs are those of
  :func:`meanfield.studies.flows.noise_runs`, shared with the MMD flow's study.

Propagation of chaos for the regression is the sweep study ``chaos`` of
:mod:`meanfield.studies.flows` (``configs/regression_chaos.toml``).

References:
    [AKSG] M. Arbel, A. Korba, A. Salim, A. Gretton. *Maximum Mean Discrepancy Gradient Flow.*
        NeurIPS 2019.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.studies import flows


def _spread(theta: np.ndarray) -> float:
    """The neurons' spread: the root mean squared distance to their mean, ``theta [N, K, L+2]``."""
    return float(np.sqrt(np.mean(np.sum((theta - theta.mean(0)) ** 2, axis=(1, 2)))))


def noise_injection(base: C.Config, out: Path, progress_for: Callable[[str], Callable] | None
                    = None) -> dict:
    """The student–teacher experiment: ``base`` (with noise) and the same without noise.

    Args:
        base: a ``regression`` config with its noise schedule; ``run.replicas`` seeds. The last
            snapshot time should be T (the neurons at T are drawn).
        out: the study folder (owned by the caller).
        progress_for: ``name -> progress(done, total)`` (optional).

    Returns:
        The numbers written to ``numbers.json``: per variant ``final_energy`` (median over seeds),
        ``final_energy_per_seed``, ``initial_energy``, ``final_spread`` (median over seeds of the
        neurons' root mean squared distance to their mean at the last snapshot), ``iterations``;
        ``ratio_no_noise_over_noise`` and ``settings``.
    """
    runs = flows.noise_runs(base, out, progress_for)
    numbers = {}
    for name, run in runs.items():
        theta = run.snapshot("theta")
        numbers[name] = {**flows.final_values(run, "energy"),
                         "initial_energy": float(np.median(run.metrics["energy"][:, 0])),
                         "final_spread": float(np.median([_spread(th) for th in theta[:, -1]])),
                         "initial_spread": float(np.median([_spread(th) for th in theta[:, 0]]))}
    numbers["ratio_no_noise_over_noise"] = (numbers["no_noise"]["final_energy"]
                                            / numbers["noise"]["final_energy"])
    raw = C.to_dict(base)["system"]
    numbers["settings"] = {"N": base.system.N, "K": base.system.K, "L": base.system.L,
                           "teacher": raw["teacher"], "init": raw["init"],
                           "lr": base.system.dynamics.lr,
                           "population": base.system.dynamics.population,
                           "noise": raw["noise"], "T": base.run.T, "seeds": base.run.replicas}
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    _draw(base, runs, numbers, out / "noise_injection.png")
    return numbers


def _draw(base: C.Config, runs: dict, numbers: dict, path: Path) -> None:
    """Energy curves (log axes), the first seed's fit at the last snapshot, its neurons there."""
    with experiment.precision(base):
        system = experiment.build_system(base)
        teacher = np.asarray(system.teacher)
        if system.L == 1:
            x = np.linspace(-3.0, 3.0, 241)[:, None]
        else:  # a fixed sample of the input law: g_μ against g* (parity)
            x = np.random.default_rng(0).standard_normal((512, system.L))
        target = np.asarray(system.target(x.astype(system.dtype)))[:, 0]
        fits = {name: np.asarray(system.student(run.snapshot("theta")[0, -1].astype(system.dtype),
                                                x.astype(system.dtype)))[:, 0]
                for name, run in runs.items()}
    t_last = runs["noise"].snapshot_t[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    flows.loss_curves(axes[0], runs, "energy", "E = ½∫|g_μ − g*|² dP")
    axes[0].set_title("energy (median and range over seeds)")
    ax = axes[1]
    if system.L == 1:
        ax.plot(x[:, 0], target, "k", lw=2, label="teacher g*")
        for name, f in fits.items():
            ax.plot(x[:, 0], f, "--", label=f"student, {name.replace('_', ' ')}")
        ax.set(xlabel="x", ylabel="output (first)")
    else:
        for name, f in fits.items():
            ax.plot(target, f, ".", ms=2, label=name.replace("_", " "))
        ax.set(xlabel="g*(x)", ylabel="g_μ(x)")
    ax.set_title(f"fit at t = {t_last:g} (seed 0)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for name, run in runs.items():
        th = run.snapshot("theta")[0, -1][:, 0]
        ax.scatter(th[:, 1], th[:, -1], s=6, alpha=0.6,
                   label=f"{name.replace('_', ' ')}: spread {numbers[name]['final_spread']:.3g}")
    ax.scatter(teacher[:, 0, 1], teacher[:, 0, -1], marker="*", s=150, c="k", label="teacher")
    ax.set(xlabel="b (first input)", ylabel="c", title=f"neurons at t = {t_last:g} (seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
