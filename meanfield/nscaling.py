"""The N-scaling study of talk 002 (MODEL.md §3): SGD particles track the WGAN-PDE limit.

**Coupled** (``[sweep] study = "coupled"``): every cell runs R replicas of SGD from the *same*
initial particles (``run.shared_init = true``) and one population run (exact expectations, the
WGAN-PDE up to the O(Δt) of the common time step) from those very particles. At the snapshot times
d_2² is computed twice: by the labelled pairing (an upper bound) and exactly by optimal assignment
(:mod:`meanfield.coupling`). 002's claim E d_2² ≤ C/N is checked by a weighted log–log fit of
E d_2²(T) against N over the grid named ``"N"`` (:func:`fit_power_law`); grids named ``"batch"`` and
``"n_critic"`` show the dependence on m (C/(mN)) and on n_c.

**iid** (an ``[iid]`` table): N iid initial particles per replica; the limit is a population run from
N_ref iid particles, with a time step chosen for accuracy (not α/N_ref). W_2 between the unequal
clouds is the exact transport LP. The exponent of E d_2²(T) in N is reported next to 002's bound
N^{−1/(K(2+L))}, with two checks: it does not move when N_ref doubles, and halving the reference's
time step changes the reference by far less than the smallest measured d_2².

Run it with ``meanfield sweep configs/nscaling.toml`` or ``python experiments/nscaling.py``; the
study writes ``DIR/summary.json`` (``fitted_slope``, ``fitted_slope_stderr``, ``per_N``, ...) and
``DIR/figures/nscaling_*.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from meanfield import config as C
from meanfield import coupling, devices, results

#: Grid names the study reads (``[[sweep.grid]] name = ...``).
MAIN, BATCH, NCRITIC = "N", "batch", "n_critic"
TIMING_KEYS = ("setup", "compile_sgd", "sgd", "compile_population", "population", "assignment",
               "write")
#: write: the time to write the group's cells except the last one (its own write is not timed).


def _se(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of the mean over ``axis``."""
    x = np.asarray(x, float)
    n = x.shape[axis]
    return np.std(x, axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(x.mean(axis))


def fit_power_law(n, mean, se) -> dict:
    """Weighted least-squares fit of log(mean) = a + slope·log(n).

    The variance of log(mean_i) is (se_i/mean_i)² (delta method); the slope's standard error is the
    weighted-fit one, inflated by sqrt(χ²/dof) when the points scatter more than their errors say.

    Returns:
        ``{"slope", "stderr", "intercept", "chi2_dof"}``.
    """
    x, y = np.log(np.asarray(n, float)), np.log(np.asarray(mean, float))
    s = np.asarray(se, float) / np.asarray(mean, float)
    w = 1.0 / np.maximum(s, 1e-12) ** 2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    a, b = cov @ (X.T @ (w * y))
    dof = max(1, len(x) - 2)
    chi2 = float(np.sum(w * (y - a - b * x) ** 2) / dof)
    return {"slope": float(b), "stderr": float(np.sqrt(cov[1, 1] * max(1.0, chi2))),
            "intercept": float(a), "chi2_dof": chi2}


def d2_pair_and_exact(gen, crit, gen_ref, crit_ref) -> tuple[np.ndarray, np.ndarray]:
    """Labelled-pairing and exact d_2² of replicas against one reference, at every snapshot.

    Args:
        gen: ``[R, S, N, K, L+2]``; crit: ``[R, S, M, K+2]``.
        gen_ref: ``[S, N, K, L+2]``; crit_ref: ``[S, M, K+2]``.

    Returns:
        ``(pairing [R, S], exact [R, S])``. Where the pairing is 0 (e.g. t = 0) so is d_2².
    """
    pair = coupling.pairing_d2(gen, crit, gen_ref[None], crit_ref[None])
    exact = np.zeros_like(pair)
    for r, s in zip(*np.nonzero(pair)):
        exact[r, s] = coupling.exact_d2(gen[r, s], crit[r, s], gen_ref[s], crit_ref[s])
    return pair, exact


#: Population runs of this process, by cell config with the batch size (unused by the population
#: dynamics) normalised: cells differing only in m share one population run.
_POPULATION_CACHE: dict[str, tuple] = {}


def _population_key(cfg: C.Config) -> str:
    d = C.to_dict(cfg)
    d["dynamics"]["batch_size"] = 1
    return repr(d)


def _population(cfgs, initial, progress):
    """Population trajectories ``[cells, ...]`` from ``initial``, reusing this process's runs.

    The initial particles do not depend on m either (same seed, sizes and laws), so a cached run
    is the run these cells would compute.

    Returns:
        (trajectory, seconds); a fully cached trajectory reports zero compile and run time.
    """
    from meanfield.sweep import simulate_cells

    keys = [_population_key(c) for c in cfgs]
    if all(k in _POPULATION_CACHE for k in keys):
        parts = [_POPULATION_CACHE[k] for k in keys]
        traj = parts[0]._replace(
            observables=jax.tree.map(lambda *x: np.concatenate(x), *[p.observables for p in parts]),
            snapshots=jax.tree.map(lambda *x: np.concatenate(x), *[p.snapshots for p in parts]),
            final_state=None, compile_seconds=0.0, run_seconds=0.0)
        return traj, 0.0
    run = simulate_cells(cfgs, population=True, replicas=1, initial_state=initial,
                         on_chunk=progress.chunk)
    traj = run.trajectory
    for i, k in enumerate(keys):
        _POPULATION_CACHE[k] = traj._replace(
            observables=jax.tree.map(lambda x: np.asarray(x[i:i + 1]), traj.observables),
            snapshots=jax.tree.map(lambda x: np.asarray(x[i:i + 1]), traj.snapshots),
            final_state=None)
    return traj, run.seconds


def coupled_group(spec, group, out: Path, progress) -> None:
    """Run one group of coupled cells (SGD replicas + population) and write each cell."""
    from meanfield.experiment import summarize
    from meanfield.sweep import cell_slice, simulate_cells, write_cell

    cfgs = [c.config for c in group]
    for c in group:
        if not c.config.run.shared_init:
            raise C.ConfigError(f"run.shared_init: the coupled study needs true (cell {c.name})")
    R = cfgs[0].run.replicas
    t0 = time.perf_counter()
    from meanfield.experiment import precision

    with precision(cfgs[0]):  # also around the population run and its rule
        progress.stage(f"SGD N={cfgs[0].model.N}: {len(group)} cell(s) x {R} replicas")
        sgd = simulate_cells(cfgs, on_chunk=progress.chunk)
        first = jax.tree.map(lambda x: x[::R], sgd.initial)
        progress.stage(f"population N={cfgs[0].model.N}")
        pt, pop_seconds = _population(cfgs, first, progress)
    st = sgd.trajectory
    timing = {"setup": sgd.seconds + pop_seconds - st.compile_seconds - st.run_seconds
              - pt.compile_seconds - pt.run_seconds,
              "compile_sgd": st.compile_seconds, "sgd": st.run_seconds,
              "compile_population": pt.compile_seconds, "population": pt.run_seconds}
    progress.stage(f"assignment N={cfgs[0].model.N}")
    t1 = time.perf_counter()
    d2 = [d2_pair_and_exact(st.snapshots["gen"][i * R:(i + 1) * R],
                            st.snapshots["critic"][i * R:(i + 1) * R],
                            pt.snapshots["gen"][i], pt.snapshots["critic"][i])
          for i in range(len(group))]
    timing["assignment"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    wall = (t2 - t0) / len(group)  # the group's compute, shared; writes are timed apart
    for i, cell in enumerate(group):
        traj = cell_slice(st, i, R)
        pair, exact = d2[i]
        summary = summarize(cell.config, sgd.systems[i], traj, wall)
        ratio = np.where(pair > 0, exact / np.where(pair > 0, pair, 1), 0)
        summary.update(
            cell=cell.name, axes=cell.values, group=group[0].name, group_cells=len(group),
            devices=devices.device_count(),
            population_final={k: float(np.asarray(v)[i, -1]) for k, v in pt.observables.items()
                              if np.ndim(v[i, -1]) == 0},
            d2={"t": st.snapshot_t, "pairing_mean": pair.mean(0), "pairing_se": _se(pair),
                "exact_mean": exact.mean(0), "exact_se": _se(exact)},
            d2_T={"pairing_mean": pair[:, -1].mean(), "pairing_se": _se(pair[:, -1]),
                  "exact_mean": exact[:, -1].mean(), "exact_se": _se(exact[:, -1])},
            exact_le_pairing=bool(np.all(exact <= pair * (1 + 1e-9) + 1e-15)),
            max_exact_over_pairing=float(ratio.max()),
            timing=timing)
        arrays = results.metrics_arrays(traj.t, traj.observables, traj.snapshot_t,
                                        traj.snapshots)
        arrays.update({f"pop_{k}": np.asarray(v[i:i + 1]) for k, v in pt.observables.items()})
        arrays.update({f"{results.SNAPSHOT_PREFIX}pop_{k}": np.asarray(v[i:i + 1])
                       for k, v in pt.snapshots.items()})
        arrays[results.SNAPSHOT_PREFIX + "d2_pairing"] = pair
        arrays[results.SNAPSHOT_PREFIX + "d2_exact"] = exact

        def draw(path, cfg=cell.config, traj=traj):
            from meanfield import plots
            plots.draw_run(path, cfg, traj.t, traj.observables, traj.snapshot_t, traj.snapshots)

        if i == len(group) - 1:
            timing["write"] = time.perf_counter() - t2
        write_cell(out / "cells" / cell.name, cell.config, arrays, summary,
                   draw if spec.cell_figures else None)


def coupled_row(cell, summary: dict) -> dict:
    """``sweep.csv`` columns of a coupled cell."""
    d = summary["d2_T"]
    return {"M": cell.config.model.M, "replicas": summary["replicas"],
            "d2_exact_T": d["exact_mean"], "d2_exact_T_se": d["exact_se"],
            "d2_pairing_T": d["pairing_mean"], "d2_pairing_T_se": d["pairing_se"],
            "N_times_d2_exact_T": d["exact_mean"] * cell.config.model.N,
            "exact_le_pairing": summary["exact_le_pairing"],
            "w2_T": summary["final"]["w2"], "pop_w2_T": summary["population_final"]["w2"],
            "wall_seconds": summary["wall_seconds"]}


# -- the study summary -------------------------------------------------------------------------

def _grid_cells(cell_list, name):
    named = [c for c in cell_list if name in c.grids]
    return named


def per_n_table(cell_list, summaries) -> list[dict]:
    rows = []
    for c in sorted(cell_list, key=lambda c: c.config.model.N):
        d = summaries[c.name]["d2_T"]
        rows.append({"N": c.config.model.N, "M": c.config.model.M,
                     "batch_size": c.config.dynamics.batch_size,
                     "n_critic": c.config.dynamics.n_critic,
                     "replicas": summaries[c.name]["replicas"],
                     "d2_exact_mean": d["exact_mean"], "d2_exact_se": d["exact_se"],
                     "d2_pairing_mean": d["pairing_mean"], "d2_pairing_se": d["pairing_se"],
                     "exact_le_pairing": summaries[c.name]["exact_le_pairing"]})
    return rows


def _fit_rows(rows, key="exact") -> dict:
    return fit_power_law([r["N"] for r in rows], [r[f"d2_{key}_mean"] for r in rows],
                         [r[f"d2_{key}_se"] for r in rows])


def _split(rows, field):
    out: dict = {}
    for r in rows:
        out.setdefault(r[field], []).append(r)
    return out


def finish(spec, cell_list, out: Path, progress) -> dict:
    """Fit, figures and ``summary.json`` of the study from the cells on disk (and the iid part)."""
    summaries = {c.name: results.read_run(out / "cells" / c.name).summary for c in cell_list}
    main = _grid_cells(cell_list, MAIN) or _grid_cells(cell_list, spec.grids[0][0])
    rows = per_n_table(main, summaries)
    fit = _fit_rows(rows)
    fit_pair = _fit_rows(rows, "pairing")
    summary = {
        "claim": "E d_2^2(T) <= C/N for SGD particles against the WGAN-PDE (002, MODEL.md §3)",
        "T": summaries[main[0].name]["T"],
        "fitted_slope": fit["slope"], "fitted_slope_stderr": fit["stderr"],
        "fitted_intercept": fit["intercept"], "fit_chi2_dof": fit["chi2_dof"],
        "fitted_slope_pairing": fit_pair["slope"],
        "fitted_slope_pairing_stderr": fit_pair["stderr"],
        "fit": "weighted least squares of log E d_2^2(T) (exact) on log N; stderr inflated by "
               "sqrt(chi2/dof) when > 1",
        "per_N": rows,
        "all_exact_le_pairing": all(s["exact_le_pairing"] for s in summaries.values()),
        "max_exact_over_pairing": max(s["max_exact_over_pairing"] for s in summaries.values()),
    }
    for name, field in ((BATCH, "batch_size"), (NCRITIC, "n_critic")):
        cs = _grid_cells(cell_list, name)
        if cs:
            by = _split(per_n_table(cs, summaries), field)
            summary[name] = {str(k): {"rows": v, **({"slope": (f := _fit_rows(v))["slope"],
                                                     "stderr": f["stderr"]} if len(v) > 2 else {}),
                                      "mean_N_d2": float(np.mean([r["N"] * r["d2_exact_mean"]
                                                                  for r in v]))}
                             for k, v in sorted(by.items())}
    # Time per stage, summed over groups (each group's timing is stored in all its cells).
    groups = {s["group"]: s["timing"] for s in summaries.values()}
    summary["timing"] = {k: float(sum(g.get(k, 0.0) for g in groups.values()))
                         for k in TIMING_KEYS}
    summary["timing"]["groups"] = len(groups)
    summary["timing"]["total_cells"] = float(sum(summary["timing"][k] for k in TIMING_KEYS))
    summary["devices"] = devices.device_count()
    if spec.extra.get("iid", {}).get("enabled", False):
        progress.stage("iid study")
        summary["iid"] = iid_study(spec, out / "iid", progress)
    figures(out, summary, main, cell_list, summaries)
    results.atomic_write_text(out / "summary.json", results.dumps_json(summary))
    return summary


def figures(out: Path, summary: dict, main, cell_list, summaries) -> list[Path]:
    from meanfield import plots  # noqa: F401  (Agg backend)
    import matplotlib.pyplot as plt

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = summary["per_N"]
    N = np.array([r["N"] for r in rows], float)

    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    # Pairing hollow and behind: where the labels are the optimal assignment the two coincide.
    for key, marker, ms, mfc, label in (("pairing", "s", 9, "none", "labelled pairing (bound)"),
                                        ("exact", "o", 4, None, "exact (assignment)")):
        ax.errorbar(N, [r[f"d2_{key}_mean"] for r in rows], yerr=[r[f"d2_{key}_se"] for r in rows],
                    marker=marker, ms=ms, mfc=mfc, ls="none", capsize=3, label=label)
    a, b = summary["fitted_intercept"], summary["fitted_slope"]
    ax.plot(N, np.exp(a) * N ** b, "k-",
            label=f"fit: slope {b:.3f} ± {summary['fitted_slope_stderr']:.3f}")
    mid = np.exp(np.mean(np.log(N)))  # the reference crosses the fit at the geometric mean N
    ax.plot(N, np.exp(a) * mid ** b * (N / mid) ** -1.0, "k:", label="slope −1 (C/N)")
    ax.set(xscale="log", yscale="log", xlabel="N (= M)", ylabel=f"E d_2² at T = {summary['T']:.3g}",
           title="coupled SGD vs population (WGAN-PDE)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(fig_dir / "nscaling_fit.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for c in sorted(main, key=lambda c: c.config.model.N):
        d = summaries[c.name]["d2"]
        t = np.asarray(d["t"])
        line, = axs[0].plot(t, d["exact_mean"], marker="o", label=f"N={c.config.model.N}")
        axs[0].plot(t, d["pairing_mean"], ls="--", color=line.get_color())
        axs[1].plot(t, c.config.model.N * np.asarray(d["exact_mean"]), marker="o",
                    color=line.get_color())
    axs[0].set(yscale="log", xlabel="mean-field time t", ylabel="E d_2²(t)",
               title="exact (solid), pairing (dashed)")
    axs[1].set(xlabel="mean-field time t", ylabel="N · E d_2²(t)", title="collapse if C/N")
    axs[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(fig_dir / "nscaling_curves.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    for name, field, sym in ((BATCH, "batch_size", "m"), (NCRITIC, "n_critic", "n_c")):
        if name not in summary:
            continue
        fig, axs = plt.subplots(1, 2, figsize=(10, 4))
        for k, v in summary[name].items():
            n = np.array([r["N"] for r in v["rows"]], float)
            m = np.array([r["d2_exact_mean"] for r in v["rows"]])
            se = np.array([r["d2_exact_se"] for r in v["rows"]])
            lab = f"{sym}={k}" + (f": slope {v['slope']:.2f}±{v['stderr']:.2f}" if "slope" in v
                                  else "")
            axs[0].errorbar(n, m, yerr=se, marker="o", capsize=2, label=lab)
            scale = n * (float(k) if field == "batch_size" else 1.0)
            axs[1].errorbar(n, m * scale, yerr=se * scale, marker="o", capsize=2, label=f"{sym}={k}")
        axs[0].set(xscale="log", yscale="log", xlabel="N", ylabel="E d_2²(T)")
        axs[1].set(xscale="log", yscale="log", xlabel="N",
                   ylabel="m · N · E d_2²(T)" if field == "batch_size" else "N · E d_2²(T)",
                   title="flat in N and m if C/(mN)" if field == "batch_size" else
                   "flat in N if C/N")
        axs[0].legend(fontsize=7)
        axs[1].legend(fontsize=7)
        fig.tight_layout()
        paths.append(fig_dir / f"nscaling_{name}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    if "iid" in summary:
        paths.append(iid_figure(fig_dir / "nscaling_iid.png", summary["iid"]))
    return paths


def report(summary: dict) -> str:
    """A few lines for the terminal."""
    lines = [f"coupled: slope of log E d_2²(T) on log N = {summary['fitted_slope']:.3f} ± "
             f"{summary['fitted_slope_stderr']:.3f} (pairing {summary['fitted_slope_pairing']:.3f}); "
             f"exact <= pairing everywhere: {summary['all_exact_le_pairing']}",
             "     N   E d2 exact (se)          E d2 pairing (se)"]
    for r in summary["per_N"]:
        lines.append(f"  {r['N']:5d}   {r['d2_exact_mean']:.4e} ({r['d2_exact_se']:.1e})   "
                     f"{r['d2_pairing_mean']:.4e} ({r['d2_pairing_se']:.1e})")
    t = summary["timing"]
    lines.append("time (s): " + ", ".join(f"{k} {t[k]:.1f}" for k in TIMING_KEYS))
    if "iid" in summary:
        i = summary["iid"]
        lines.append(f"iid: exponent {i['exponent']:.3f} ± {i['exponent_stderr']:.3f} "
                     f"(N_ref = {i['N_ref']}); with N_ref/2: {i['exponent_half_ref']:.3f}; "
                     f"002's bound exponent -1/(K(2+L)) = {i['bound_exponent']:.3f}; "
                     f"{i['seconds']:.0f} s")
    return "\n".join(lines)


# -- iid ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IidSpec:
    """The ``[iid]`` table.

    Attributes:
        enabled: run the iid part.
        N: generator sizes of the SGD runs (M = round(M_over_N·N)).
        replicas: independent replicas per N (own initial particles, own noise).
        N_ref: reference sizes, ascending; the last is the reference, the one before shows the
            exponent no longer moves when N_ref doubles.
        dt_ref: the reference's time step, and a finer one (the convergence check).
        seed: seed of the SGD runs; the reference draws from seed + 1 (independent particles).
    """

    enabled: bool = False
    N: tuple = (16, 32, 64, 128)
    replicas: int = 8
    N_ref: tuple = (1024, 2048)
    dt_ref: tuple = (0.01, 0.005)
    seed: int = 1

    @classmethod
    def from_dict(cls, raw: dict) -> "IidSpec":
        known = {f for f in cls.__dataclass_fields__}
        bad = sorted(set(raw) - known)
        if bad:
            raise C.ConfigError(f"iid.{bad[0]}: unknown key; expected one of {', '.join(known)}")
        vals = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        spec = cls(**vals)
        if len(spec.N_ref) < 2 or len(spec.dt_ref) < 2:
            raise C.ConfigError("iid.N_ref, iid.dt_ref: expected at least two values each")
        return spec


def _with(cfg: C.Config, **sections) -> C.Config:
    d = C.to_dict(cfg)
    for s, v in sections.items():
        d[s] = {**d[s], **v}
    return C.from_dict(d)


def iid_study(spec, out: Path, progress) -> dict:
    """The iid part (see module docstring); cached in ``out`` for the same config."""
    from meanfield.sweep import simulate_cells

    iid = IidSpec.from_dict(spec.extra.get("iid", {}))
    base = C.from_dict(spec.base)
    ratio = spec.M_over_N or 1.0
    key_text = repr((iid, C.dumps(base), ratio))
    cache = out / "iid.json"
    if cache.exists():
        import json
        saved = json.loads(cache.read_text())
        if saved.get("key") == key_text:
            return saved["result"]
    t0 = time.perf_counter()
    T = base.run.T
    common = dict(run={"snapshot_times": [T], "n_records": 11, "shared_init": False})
    refs = {}
    timing = {"population": 0.0, "sgd": 0.0, "transport": 0.0}
    for n_ref in iid.N_ref:
        for dt in (iid.dt_ref if n_ref == iid.N_ref[-1] else iid.dt_ref[:1]):
            progress.stage(f"iid reference N_ref={n_ref}, dt={dt}")
            cfg = _with(base, model={"N": n_ref, "M": max(1, round(ratio * n_ref))},
                        dynamics={"lr": dt * n_ref},
                        run={**common["run"], "replicas": 1, "seed": iid.seed + 1})
            r = simulate_cells([cfg], population=True, replicas=1, on_chunk=progress.chunk)
            timing["population"] += r.seconds
            refs[(n_ref, dt)] = (r.trajectory.snapshots["gen"][0, -1],
                                 r.trajectory.snapshots["critic"][0, -1])
    runs = {}
    for n in iid.N:
        progress.stage(f"iid SGD N={n}")
        cfg = _with(base, model={"N": n, "M": max(1, round(ratio * n))},
                    run={**common["run"], "replicas": iid.replicas, "seed": iid.seed})
        r = simulate_cells([cfg], on_chunk=progress.chunk)
        timing["sgd"] += r.seconds
        runs[n] = (r.trajectory.snapshots["gen"][:, -1], r.trajectory.snapshots["critic"][:, -1])
    t1 = time.perf_counter()
    per_ref = {}
    for n_ref in iid.N_ref:
        ref = refs[(n_ref, iid.dt_ref[0])]
        rows = []
        for n in iid.N:
            progress.stage(f"iid transport N={n}, N_ref={n_ref}")
            gen, crit = runs[n]
            d = np.array([coupling.d2_unequal(gen[r], crit[r], *ref) for r in range(len(gen))])
            rows.append({"N": n, "d2_mean": float(d.mean()), "d2_se": float(_se(d)),
                         "d2": d.tolist()})
        f = fit_power_law([r["N"] for r in rows], [r["d2_mean"] for r in rows],
                          [r["d2_se"] for r in rows])
        per_ref[str(n_ref)] = {"rows": rows, "exponent": f["slope"], "stderr": f["stderr"],
                               "intercept": f["intercept"]}
    timing["transport"] = time.perf_counter() - t1
    # The reference's time step: same initial particles, so pairing and exact d_2² apply.
    big = iid.N_ref[-1]
    (g0, c0), (g1, c1) = refs[(big, iid.dt_ref[0])], refs[(big, iid.dt_ref[1])]
    dt_change = float(coupling.exact_d2(g0, c0, g1, c1))
    main, half = per_ref[str(big)], per_ref[str(iid.N_ref[-2])]
    K, L = base.model.K, base.model.L
    result = {
        "N": list(iid.N), "N_ref": big, "N_ref_half": iid.N_ref[-2], "replicas": iid.replicas,
        "dt_ref": iid.dt_ref[0], "dt_ref_check": iid.dt_ref[1],
        "exponent": main["exponent"], "exponent_stderr": main["stderr"],
        "exponent_half_ref": half["exponent"], "exponent_half_ref_stderr": half["stderr"],
        "bound_exponent": -1.0 / (K * (2 + L)),
        "bound": "E d_2^2 <= C N^(-1/(K(2+L))) (002)",
        "reference_dt_change_d2": dt_change,
        "reference_dt_change_over_min_d2": dt_change / min(r["d2_mean"] for r in main["rows"]),
        "per_ref": per_ref, "timing": timing, "seconds": time.perf_counter() - t0,
        "transport": "exact LP (scipy.optimize.linprog, HiGHS) between uniform clouds of sizes N "
                     "and N_ref",
    }
    import json
    results.atomic_write_text(cache, json.dumps({"key": key_text,
                                                 "result": results._jsonable(result)}))
    return result


def iid_figure(path: Path, iid: dict) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for nref, v in sorted(iid["per_ref"].items(), key=lambda kv: int(kv[0])):
        n = np.array([r["N"] for r in v["rows"]], float)
        m = np.array([r["d2_mean"] for r in v["rows"]])
        ax.errorbar(n, m, yerr=[r["d2_se"] for r in v["rows"]], marker="o", capsize=3,
                    label=f"N_ref={nref}: exponent {v['exponent']:.3f} ± {v['stderr']:.3f}")
    main = iid["per_ref"][str(iid["N_ref"])]
    n = np.array(iid["N"], float)
    ax.plot(n, np.exp(main["intercept"]) * n ** main["exponent"], "k-", lw=0.8)
    b = iid["bound_exponent"]
    ax.plot(n, np.exp(main["intercept"]) * n[0] ** main["exponent"] * (n / n[0]) ** b, "k:",
            label=f"002's bound exponent {b:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="N (iid initial particles)", ylabel="E d_2²(T)",
           title=f"iid: SGD vs population reference (dt_ref={iid['dt_ref']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
