"""Studies of the particle flows in data space (docs/model.md §8, docs/kernel_flows.md).

- :func:`noise_injection`: Arbel et al.'s Gaussian experiment, the MMD flow with and without noise
  injection, seeds as replicas; ``numbers.json`` holds the final ½MMD² per variant (median over
  seeds and per seed) and the exact W₂ to the target sample at T.
- :func:`flows_across_lambda`: KALE at several λ next to the MMD flow and Langevin on one target;
  one entry per flow with its final ``half_mmd2`` and ``w2``.
- :func:`noise_runs`, :func:`final_values`, :func:`loss_curves`: the part of a noise-injection
  study any kind with a ``[system.noise]`` table shares (the regression's:
  :mod:`meanfield.studies.regression`).
- The sweep study ``chaos`` (``[sweep] study = "chaos"``): propagation of chaos for a deterministic
  flow by synchronous coupling, for the kinds of :data:`CHAOS_KINDS` (the MMD and KALE flows, the
  regression's population flow, whose particles are neurons ``[K, L+2]``). Each seed draws N_ref
  initial particles; the reference run moves all of them, the run of size N moves the first N,
  from the very same positions, under the same target points (the same teacher and rule).
  E|Xᵢ(t) − X̄ᵢ(t)|² (mean over i ≤ N, then over seeds) is fitted against N on log axes with the
  N-scaling study's fit (weighted least squares, t- and bootstrap intervals over seeds). At t = 0 the difference is exactly 0, so everything measured is what the dynamics add;
  the reference's own error is O(1/N_ref) (reported as N_max/N_ref).

Each study reads back the runs it finds complete in its folder (same config), so a rerun after an
interruption computes only what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import jax
import matplotlib.pyplot as plt
import numpy as np

from meanfield.io import config as C
from meanfield.io import experiment, figures, results
from meanfield.metrics import coupling
from meanfield.studies import nscaling, sweep
from meanfield.systems.kernel_flows.figures import draw_particles


def run_or_read(cfg: C.Config, path: Path, progress: Callable | None = None) -> results.RunFiles:
    """The run of ``cfg`` in ``path``: read back when complete with this config, else run."""
    if sweep.finished(path, cfg):
        return results.read_run(path)
    experiment.run(cfg, path, progress=progress, force=True)
    return results.read_run(path)


def _set(cfg: C.Config, *overrides: str) -> C.Config:
    return C.from_dict(C.apply_overrides(C.to_dict(cfg), list(overrides)))


def _target_points(cfg: C.Config) -> np.ndarray:
    with experiment.precision(cfg):
        return np.asarray(experiment.build_system(cfg).target_x, float)


def exact_w2(x: np.ndarray, target: np.ndarray) -> float | None:
    """W₂ by optimal assignment between equal-size clouds (None when the sizes differ)."""
    if len(x) != len(target):
        return None
    return float(np.sqrt(coupling.w2_assignment(x, target)))


def _loss_panel(ax, run: results.RunFiles, dt: float, name: str, label: str) -> None:
    k = run.t / dt + 1.0
    figures.band(ax, k, np.maximum(run.metrics[name], 1e-12), label)


def noise_runs(base: C.Config, out: Path, progress_for: Callable[[str], Callable] | None = None
               ) -> dict[str, results.RunFiles]:
    """``base`` (with its noise schedule) and the same config with ``system.noise.schedule =
    "none"``, run or read back in ``out/noise`` and ``out/no_noise``.

    Any kind with a ``[system.noise]`` table (the MMD flow, the regression) shares this part of the
    noise-injection studies; the seeds are ``run.replicas``.

    Returns:
        ``{"noise": run, "no_noise": run}``.
    """
    variants = {"noise": base, "no_noise": _set(base, "system.noise.schedule=none")}
    return {name: run_or_read(cfg, out / name, progress_for and progress_for(name))
            for name, cfg in variants.items()}


def final_values(run: results.RunFiles, name: str) -> dict:
    """``final_<name>`` (median over seeds at T), ``final_<name>_per_seed`` and ``iterations``."""
    final = run.metrics[name][:, -1]
    return {f"final_{name}": float(np.median(final)), f"final_{name}_per_seed": final.tolist(),
            "iterations": int(round(run.summary["T"] / run.summary["dt"]))}


def loss_curves(ax, runs: dict[str, results.RunFiles], name: str, ylabel: str) -> None:
    """``name`` against iteration + 1 for each variant, median and range over seeds, log axes."""
    for label, run in runs.items():
        _loss_panel(ax, run, run.summary["dt"], name, label.replace("_", " "))
    ax.set(xscale="log", yscale="log", xlabel="iteration + 1", ylabel=ylabel)
    ax.legend()


def noise_injection(base: C.Config, out: Path, progress_for: Callable[[str], Callable] | None
                    = None) -> dict:
    """Arbel et al.'s Gaussian experiment: ``base`` (with noise) and the same without noise.

    Args:
        base: an ``mmd`` config with its noise schedule; ``run.replicas`` seeds.
        out: the study folder (owned by the caller).
        progress_for: ``name -> progress(done, total)`` (optional).

    Returns:
        The numbers written to ``numbers.json``.
    """
    runs = noise_runs(base, out, progress_for)
    target = _target_points(base)
    numbers = {}
    for name, run in runs.items():
        xs = run.snapshot("x")[:, -1]
        finals = final_values(run, "half_mmd2")
        numbers[name] = {
            "final_half_mmd2": finals["final_half_mmd2"],
            "final_half_mmd2_per_seed": finals["final_half_mmd2_per_seed"],
            "final_far_fraction": float(np.median(run.metrics["far_fraction"][:, -1])),
            "final_w2_exact": float(np.median([exact_w2(x, target) for x in xs]))
            if len(xs[0]) == len(target) else None,
            "initial_w2_exact": float(np.median([exact_w2(x, target)
                                                 for x in run.snapshot("x")[:, 0]]))
            if len(xs[0]) == len(target) else None,
            "iterations": finals["iterations"],
        }
    s = base.system
    numbers["ratio_no_noise_over_noise"] = (numbers["no_noise"]["final_half_mmd2"]
                                            / numbers["noise"]["final_half_mmd2"])
    numbers["settings"] = {"kernel": f"{s.kernel.name}, bandwidth {s.kernel.bandwidth}",
                           "lr": s.lr, "noise": C.to_dict(base)["system"]["noise"],
                           "N": s.N, "M": s.M, "seeds": base.run.replicas}
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    loss_curves(axes[0], runs, "half_mmd2", "½MMD²")
    axes[0].set_title("MMD flow: ½MMD² (median and range over seeds)")
    for ax, (name, run) in zip(axes[1:], runs.items()):
        x = run.snapshot("x")[0, -1]
        ax.scatter(target[:, 0], target[:, 1], s=2, c="0.7", label="target")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="C3", label=f"particles at T ({name})")
        ax.set(aspect="equal", title=f"{name.replace('_', ' ')}: "
               f"far fraction {numbers[name]['final_far_fraction']:.2f}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "noise_injection.png", dpi=110)
    plt.close(fig)
    return numbers


def flows_across_lambda(base: C.Config, lambdas: list[float], out: Path,
                        progress_for: Callable[[str], Callable] | None = None,
                        cap_step: bool = True) -> dict:
    """KALE at each λ, the MMD flow and Langevin from the same start to the same target.

    Args:
        base: a ``kale`` config (its λ is replaced by each of ``lambdas``).
        lambdas: the λ values.
        out: the study folder.
        cap_step: run KALE at λ with the step min(γ, λ), the same horizon T. Away from the
            target points the velocity is (1 + λ)/λ times the gradient of the particles' own
            kernel mean (a repulsion), so explicit steps need γ = O(λ): at λ = 10⁻³ the step
            γ = 10⁻² throws a third of the particles out in the first iterations.

    Returns:
        ``{flow: {"final_half_mmd2", "w2", ...}}``, written to ``numbers.json``.
    """
    raw = C.to_dict(base)
    lr = base.system.lr
    flows = {f"kale_lambda={lam:g}": _set(base, f"system.lam={lam!r}",
                                          f"system.lr={min(lr, lam) if cap_step else lr!r}")
             for lam in lambdas}
    common = {k: v for k, v in raw["system"].items()
              if k not in ("kind", "lam", "newton_tol", "newton_max_steps")}
    for kind in ("mmd", "langevin"):
        flows[kind] = C.from_dict({"system": {**common, "kind": kind}, "run": raw["run"]})
    runs = {name: run_or_read(cfg, out / name, progress_for and progress_for(name))
            for name, cfg in flows.items()}
    target = _target_points(base)
    numbers = {}
    for name, run in runs.items():
        xs = run.snapshot("x")[:, -1]
        entry = {"final_half_mmd2": float(np.median(run.metrics["half_mmd2"][:, -1])),
                 "lr": flows[name].system.lr, "T": run.summary["T"],
                 "w2": exact_w2(xs[0], target),
                 "w2_sliced": float(np.median(run.metrics["w2"][:, -1])),
                 "final_far_fraction": float(np.median(run.metrics["far_fraction"][:, -1]))}
        if "kale" in run.metrics:
            entry.update(final_kale=float(np.median(run.metrics["kale"][:, -1])),
                         max_duality_gap=float(np.max(np.abs(run.metrics["duality_gap"]))),
                         max_newton_steps=int(np.max(run.metrics["newton_steps"])))
        numbers[name] = entry
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, run in runs.items():
        # Flow time, not iterations: the flows' steps differ (min(γ, λ) for KALE).
        ax.plot(run.t[1:], np.median(run.metrics["half_mmd2"], 0)[1:], label=name)
    ax.set(xscale="log", yscale="log", xlabel="flow time t", ylabel="½MMD²",
           title="½MMD² along each flow")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=110)
    plt.close(fig)
    finals = np.stack([runs[n].snapshot("x")[0, -1] for n in runs])
    draw_particles(out / "particles.png", list(runs), finals, target,
                   f"particles at T = {base.run.T:g}", max_panels=len(runs))
    return numbers


# -- propagation of chaos (a sweep study) ------------------------------------------------------

class ChaosKind(NamedTuple):
    """What the chaos study needs to know of a kind.

    Attributes:
        snapshot: the snapshot holding the particles (the state's ``x``, ``[N, ...]``).
        energy: the observable reported for the reference run (to check that the flow acts).
        stochastic: ``system config -> (field, why) | None``: the field that makes the flow
            random (the coupling needs a deterministic flow), or None.
    """

    snapshot: str
    energy: str
    stochastic: Callable


def _kernel_flow_noise(s) -> tuple[str, str] | None:
    if s.noise.schedule != "none" or s.target_points == "resampled":
        return ("system.noise.schedule", "no noise injection, fixed or quadrature target points")
    return None


def _regression_noise(s) -> tuple[str, str] | None:
    if s.noise.schedule != "none":
        return ("system.noise.schedule", "no noise injection")
    if not s.dynamics.population:
        return ("system.dynamics.population", "the population flow, not online SGD")
    return None


CHAOS_KINDS = {"mmd": ChaosKind("x", "half_mmd2", _kernel_flow_noise),
               "kale": ChaosKind("x", "half_mmd2", _kernel_flow_noise),
               "regression": ChaosKind("theta", "energy", _regression_noise)}
_REFERENCE: dict[str, tuple] = {}


def _ref_config(cfg: C.Config, n_ref: int) -> C.Config:
    return _set(cfg, f"system.N={n_ref}")


def check_chaos(spec: sweep.SweepSpec) -> None:
    """The ``[chaos]`` table and the coupling's requirements.

    Raises:
        ConfigError: naming the key.
    """
    table = spec.extra.get("chaos", {})
    unknown = sorted(set(table) - {"n_ref"})
    if unknown:
        raise C.ConfigError(f"chaos.{unknown[0]}: unknown key; expected n_ref")
    n_ref = table.get("n_ref", 4096)
    if isinstance(n_ref, bool) or not isinstance(n_ref, int) or n_ref < 2:
        raise C.ConfigError(f"chaos.n_ref: expected an integer >= 2, got {n_ref!r}")
    for cell in sweep.cells(spec):
        s = cell.config.system
        if s.kind not in CHAOS_KINDS:
            raise C.ConfigError(f"system.kind: the chaos study couples the deterministic flows "
                                f"{', '.join(CHAOS_KINDS)}, got {s.kind!r}")
        why = CHAOS_KINDS[s.kind].stochastic(s)
        if why is not None:
            raise C.ConfigError(f"{why[0]}: the coupling needs a deterministic flow ({why[1]})")
        if s.N > n_ref:
            raise C.ConfigError(f"chaos.n_ref: {n_ref} is smaller than system.N = {s.N}")
        r = cell.config.run
        if not any(0 < t <= r.T for t in r.snapshot_times):
            raise C.ConfigError("run.snapshot_times: the chaos study needs a time in (0, T] "
                                "(at t = 0 the coupled particles coincide)")


def _n_ref(spec) -> int:
    return int(spec.extra.get("chaos", {}).get("n_ref", 4096))


def _reference(cfgs: list[C.Config], n_ref: int, progress) -> tuple:
    """(initial particles ``[cells, n_ref, ...]``, snapshots ``[cells, S, n_ref, ...]``, the
    kind's energy ``[cells, n]``, record times ``[n]``) of the reference runs of these cells'
    seeds, cached per seed."""
    kind = CHAOS_KINDS[cfgs[0].kind]
    refs = [_ref_config(c, n_ref) for c in cfgs]
    keys = [C.dumps(r) for r in refs]
    todo = [i for i, k in enumerate(keys) if k not in _REFERENCE]
    if todo:
        progress.stage(f"reference N_ref={n_ref}: {len(todo)} seed(s)")
        run = sweep.simulate_cells([refs[i] for i in todo], replicas=1, on_chunk=progress.chunk)
        tr = run.trajectory
        for j, i in enumerate(todo):
            _REFERENCE[keys[i]] = (np.asarray(run.initial.x[j]),
                                   np.asarray(tr.snapshots[kind.snapshot][j]),
                                   np.asarray(tr.observables[kind.energy][j]), np.asarray(tr.t))
    parts = [_REFERENCE[k] for k in keys]
    return (*(np.stack([p[i] for p in parts]) for i in range(3)), parts[0][3])


def coupled_msd(snaps: np.ndarray, snaps_ref: np.ndarray) -> np.ndarray:
    """E|Xᵢ − X̄ᵢ|² ``[cells, S]``: the squared distance of each particle ``[cells, S, N, ...]`` to
    its partner among the first N of the reference's, summed over the particle's coordinates
    (a neuron's ``[K, L+2]`` as well as a point's ``[d]``), mean over i."""
    n = snaps.shape[2]
    diff = snaps - snaps_ref[:, :, :n]
    return np.mean(np.sum(diff.reshape(diff.shape[:3] + (-1,)) ** 2, -1), -1)


def chaos_group(spec, group, out: Path, progress) -> None:
    """Run one N (its seeds vmapped) from the first N particles of each seed's reference."""
    cfgs = [c.config for c in group]
    N, n_ref = cfgs[0].system.N, _n_ref(spec)
    kind = CHAOS_KINDS[cfgs[0].kind]
    with experiment.precision(cfgs[0]):
        x_ref0, snap_ref, e_ref, t_ref = _reference(cfgs, n_ref, progress)
        system = experiment.build_system(cfgs[0])
        keys = jax.random.split(jax.random.key(0), len(cfgs))
        init = jax.vmap(system.init)(keys)
        init = init._replace(x=np.asarray(x_ref0[:, :N], np.dtype(cfgs[0].run.dtype)))
        progress.stage(f"N={N}: {len(group)} seed(s)")
        run = sweep.simulate_cells(cfgs, replicas=1, initial_state=init, on_chunk=progress.chunk)
    tr = run.trajectory
    msd = coupled_msd(np.asarray(tr.snapshots[kind.snapshot]), snap_ref)
    for i, cell in enumerate(group):
        traj = sweep.cell_slice(tr, i, 1)
        summary = experiment.summarize(cell.config, run.systems[i], traj, run.seconds / len(group))
        # The reference's energy at the snapshot times: whether the flow acts by then.
        at = np.interp(np.asarray(tr.snapshot_t, float), t_ref, e_ref[i])
        summary.update(cell=cell.name, axes=cell.values, n_ref=n_ref,
                       chaos={"t": tr.snapshot_t, "msd": msd[i]},
                       **{f"reference_{kind.energy}": {"t0": float(e_ref[i, 0]),
                                                       "T": float(e_ref[i, -1]),
                                                       "at_snapshots": at.tolist()}})
        arrays = results.metrics_arrays(traj.t, traj.observables, traj.snapshot_t, traj.snapshots)
        arrays[results.SNAPSHOT_PREFIX + "msd"] = msd[i:i + 1]
        sweep.write_cell(out / "cells" / cell.name, cell.config, arrays, summary, None)


def _energy_key(cell) -> str:
    return f"reference_{CHAOS_KINDS[cell.config.kind].energy}"


def chaos_row(cell, summary: dict) -> dict:
    key = _energy_key(cell)
    return {"N": cell.config.system.N, "msd_T": float(summary["chaos"]["msd"][-1]),
            f"{key}_T": summary[key]["T"], "wall_seconds": summary["wall_seconds"]}


def chaos_finish(spec, cell_list, out: Path, progress) -> dict:
    """Fit E|X − X̄|² against N at every snapshot time t > 0; ``numbers.json`` and a figure.

    Each time's entry of ``per_t`` holds the fit, the mean distance per N and the reference's
    energy then (median over seeds), next to its value at t = 0."""
    runs = {c.name: results.read_run(out / "cells" / c.name).summary for c in cell_list}
    key = _energy_key(cell_list[0])
    by_n: dict[int, list] = {}
    for c in cell_list:
        by_n.setdefault(c.config.system.N, []).append(np.asarray(runs[c.name]["chaos"]["msd"]))
    ns = np.array(sorted(by_n))
    t = np.asarray(runs[cell_list[0].name]["chaos"]["t"], float)
    ref = [runs[c.name][key] for c in cell_list]
    per_t = []
    for j in range(len(t)):
        if t[j] <= 0:
            continue
        groups = [np.asarray([m[j] for m in by_n[n]])[:, None] for n in ns]
        fit = nscaling.slope_report(ns, groups)
        entry = {"t": float(t[j]), "mean": [float(g.mean()) for g in groups], **fit}
        if all("at_snapshots" in r for r in ref):  # cells written before it was recorded lack it
            entry[key] = float(np.median([r["at_snapshots"][j] for r in ref]))
        per_t.append(entry)
    last = per_t[-1]
    numbers = {"fitted_slope": last["slope"], "stderr": last["stderr"], "ci95": last["ci95"],
               "ci95_bootstrap": last["ci95_bootstrap"], "t": last["t"], "N": ns.tolist(),
               "mean_msd": last["mean"], "n_ref": _n_ref(spec),
               "N_max_over_n_ref": float(ns[-1] / _n_ref(spec)),
               "seeds": len(by_n[ns[0]]),
               key: {"t0": float(np.median([r["t0"] for r in ref])),
                     "T": float(np.median([r["T"] for r in ref]))},
               "per_t": per_t}
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    (out / "figures").mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for e in per_t:
        line, = ax.plot(ns, e["mean"], "o", label=f"t = {e['t']:.3g}: slope {e['slope']:.2f} "
                        f"± {e['stderr']:.2f}")
        ax.plot(ns, np.exp(e["intercept"]) * ns ** e["slope"], "-", color=line.get_color(),
                lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="E|Xᵢ − X̄ᵢ|²",
           title=f"propagation of chaos (N_ref = {_n_ref(spec)})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "figures" / "chaos.png", dpi=110)
    plt.close(fig)
    return numbers


def chaos_report(summary: dict) -> str:
    lo, hi = summary["ci95"] or (float("nan"), float("nan"))
    return (f"E|X - Xref|^2 ~ N^slope at t = {summary['t']:.3g}: slope {summary['fitted_slope']:.3f}"
            f" (95% CI [{lo:.3f}, {hi:.3f}], {summary['seeds']} seeds, N_ref = {summary['n_ref']})")


sweep.register_study(sweep.Study("chaos", run_group=chaos_group, row=chaos_row,
                                 finish=chaos_finish, tables=("chaos",), check=check_chaos,
                                 report=chaos_report))
