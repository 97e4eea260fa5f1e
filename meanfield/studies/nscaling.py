"""The N-scaling study of the mean-field lecture (docs/model.md §3): SGD particles track the WGAN-PDE limit.

The study is a sweep (``[sweep] study = "coupled"``) whose main grid (named ``"N"``) crosses the
particle count N (M = N) with several seeds per N: each seed is one *initial configuration* (N
generator and M critic particles drawn iid from the initial laws). Seeds differ between N values:
a seed's draws at N are the first N of its draws at 2N, and shared prefixes would correlate the
points of the fit.

**Coupled.** Every cell (one N, one seed) runs R replicas of SGD from the seed's configuration
(``run.shared_init = true``; the replicas differ only in their batches) and one population run
(exact expectations: the WGAN-PDE from that very configuration, up to the O(Δt) of the common
time step). At every snapshot time t, d_2² is computed by the labelled pairing (an upper bound)
and exactly by optimal assignment (:mod:`meanfield.metrics.coupling`), split into its generator and critic
terms. [DSC] (docs/model.md §3) states E d_2²(t) ≤ C(t)/N. Per N, E d_2²(t) is the mean over configurations of each
configuration's replica mean, and its standard error comes from the spread of those configuration
means (:func:`nested_stats`): it contains the replica noise *and* the variation between initial
configurations, which replica noise alone misses. At each t, a weighted log–log fit over the N
grid gives the slope with its standard error, a 95 % t-interval and a bootstrap interval over
configurations (:func:`slope_report`); the fit is repeated without the smallest N, and C(t) is the
weighted mean of N·E d_2²(t) (:func:`constant`). The population runs' W_1 to the target at the
snapshot times says whether the law has moved: the study is meant to be read at horizons where
W_1 has fallen by half, and later.

**iid** (an ``[iid]`` table). [DSC]'s corollary: with iid initial particles, E d_2² to the limit
started from the continuous initial laws is ≤ C N^{−1/(K(2+L))}. The study pairs independent
configurations of equal N (different seeds) and measures, per pair, d_2² between replica 0 of the
two SGD runs at t = 0 (the initial sampling error) and at the ``[iid] times`` (exact assignment).
W_2² is jointly convex and the mean of an iid sample's empirical measure is the law it is drawn
from, so E W_2²(μ_N, μ) ≤ E W_2²(μ_N, μ'_N) ≤ 4 E W_2²(μ_N, μ): the two-sample value has the
exponent of the distance to the law, without the bias that a reference run's own sampling error
would put into it. At t > 0 the comparison point is the law of one particle of the N-system (both
runs have the same Δt), which differs from the limit by the propagation-of-chaos error that the
coupled part measures. The dynamics' part is reported as the factor A_N(t) = E d_2²(t)/E d_2²(0)
(so that the exponents add) and as the paired difference d_2²(t) − d_2²(0). Means over pairs are
U-statistics, with standard errors jackknifed over configurations (:func:`pair_stats`). The
exponents of the initial part and of the dynamics' part come first, then [DSC]'s bound and the
sampling rates of iid samples (:func:`sampling_exponents`).

Run it with ``meanfield sweep configs/nscaling.toml`` or ``python experiments/nscaling.py``
(``--full`` adds N = 2048 and the batch-size and n_c grids). The study writes
``DIR/summary.json`` (``per_T``: slope, intervals, C(t), W_1 at each snapshot time; ``iid``; ...)
and ``DIR/figures/nscaling_*.png``. docs/nscaling.md explains the choices and the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from meanfield.core import devices
from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.io import figures as run_figures
from meanfield.metrics import coupling
from meanfield.studies import sweep

#: Grid names the study reads (``[[sweep.grid]] name = ...``).
MAIN, BATCH, NCRITIC = "N", "batch", "n_critic"
TIMING_KEYS = ("setup", "compile_sgd", "sgd", "compile_population", "population", "assignment",
               "write")
#: write: the time to write the group's cells except the last one (its own write is not timed).

#: Bootstrap resamples of the configurations behind each slope interval.
BOOTSTRAP = 2000


def _se(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of the mean over ``axis``."""
    x = np.asarray(x, float)
    n = x.shape[axis]
    return np.std(x, axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(x.mean(axis))


# -- statistics --------------------------------------------------------------------------------

def nested_stats(x) -> dict:
    """Mean of values grouped by initial configuration, with a two-level standard error.

    The estimate is the mean of the configuration means. Configurations are independent, so the
    standard error from the spread of their means is honest whatever the split of the variance
    between configurations and replicas; ``se_replicas_only`` treats all S·R values as independent
    and is reported to show what that would miss. The variance components are the one-way
    random-effects (ANOVA) estimates.

    Args:
        x: ``[S, R]``, one value per (configuration, replica).

    Returns:
        ``{"mean", "se", "se_replicas_only", "within_var", "between_var", "config_share",
        "configurations", "replicas"}``; ``config_share`` is the fraction of the variance of a
        configuration mean due to the configuration (0 when S = 1, where ``se`` is replica noise).
    """
    x = np.asarray(x, float)
    S, R = x.shape
    means = x.mean(1)
    within = float(np.mean(np.var(x, axis=1, ddof=1))) if R > 1 else 0.0
    var_means = float(np.var(means, ddof=1)) if S > 1 else within / R
    between = max(0.0, var_means - within / R) if S > 1 else 0.0
    return {"mean": float(means.mean()), "se": float(np.sqrt(var_means / S)),
            "se_replicas_only": float(_se(x.ravel())), "within_var": within,
            "between_var": between, "config_share": between / var_means if var_means > 0 else 0.0,
            "configurations": S, "replicas": R}


def pair_stats(values: dict, denominator: dict | None = None) -> dict:
    """Mean over all pairs of configurations (a U-statistic), or a ratio of two such means, with a
    jackknife standard error.

    Args:
        values: ``{(s, s'): value}`` for pairs of configuration indices s < s' in ``range(S)``.
        denominator: the same pairs; when given, the statistic is mean(values)/mean(denominator).

    Returns:
        ``{"mean", "se", "pairs", "configurations"}``; the jackknife (Efron and Stein 1981) leaves
        one configuration, and every pair containing it, out at a time. With fewer than three
        configurations it is not defined: ``se`` is then the pair values' standard error, and 0
        for a ratio.
    """
    keys = list(values)
    v = np.array([values[k] for k in keys], float)
    d = None if denominator is None else np.array([denominator[k] for k in keys], float)
    S = 1 + max(max(k) for k in keys)

    def stat(mask):
        return v[mask].mean() if d is None else v[mask].mean() / d[mask].mean()

    full = float(stat(np.ones(len(keys), bool)))
    if S < 3:
        se = float(_se(v)) if d is None else 0.0
        return {"mean": full, "se": se, "pairs": len(v), "configurations": S}
    loo = np.array([stat(np.array([s not in k for k in keys])) for s in range(S)])
    se = float(np.sqrt((S - 1) / S * np.sum((loo - loo.mean()) ** 2)))
    return {"mean": full, "se": se, "pairs": len(v), "configurations": S}


def fit_power_law(n, mean, se) -> dict:
    """Weighted least-squares fit of log(mean) = a + slope·log(n).

    The variance of log(mean_i) is (se_i/mean_i)² (delta method); the slope's standard error is the
    weighted-fit one, inflated by sqrt(χ²/dof) when the points scatter more than their errors say.

    Args:
        n: ``[P]`` sizes; mean: ``[P]`` positive means; se: ``[P]`` their standard errors.

    Returns:
        ``{"slope", "stderr", "intercept", "chi2_dof", "points", "ci95"}``; ``ci95`` is
        slope ± t_{0.975, P−2}·stderr (None with two points).
    """
    x, y = np.log(np.asarray(n, float)), np.log(np.asarray(mean, float))
    s = np.asarray(se, float) / np.asarray(mean, float)
    w = 1.0 / np.maximum(s, 1e-12) ** 2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    a, b = cov @ (X.T @ (w * y))
    dof = len(x) - 2
    chi2 = float(np.sum(w * (y - a - b * x) ** 2) / max(1, dof))
    stderr = float(np.sqrt(cov[1, 1] * max(1.0, chi2)))
    ci = ([float(b - stats.t.ppf(0.975, dof) * stderr), float(b + stats.t.ppf(0.975, dof) * stderr)]
          if dof > 0 else None)
    return {"slope": float(b), "stderr": stderr, "intercept": float(a), "chi2_dof": chi2,
            "points": len(x), "ci95": ci}


def slope_report(n, groups, seed: int = 0) -> dict:
    """The fit of E d_2² on N over the grid, its intervals, and the fit without the smallest N.

    Args:
        n: ``[P]`` sizes, ascending.
        groups: ``P`` arrays ``[S_p, R]`` (configurations × replicas) of d_2² values.
        seed: seed of the bootstrap.

    Returns:
        :func:`fit_power_law`'s keys, plus ``N_range``, ``ci95_bootstrap`` (percentiles of the
        slope when each N's configurations are resampled with replacement, weights held fixed),
        and ``slope_without_smallest_N``, ``stderr_without_smallest_N``,
        ``ci95_without_smallest_N`` (None with fewer than three N).
    """
    st = [nested_stats(g) for g in groups]
    mean, se = np.array([s["mean"] for s in st]), np.array([s["se"] for s in st])
    fit = fit_power_law(n, mean, se)
    rng = np.random.default_rng(seed)
    x = np.log(np.asarray(n, float))
    w = 1.0 / np.maximum(se / mean, 1e-12) ** 2
    conf_means = [np.asarray(g, float).mean(1) for g in groups]
    slopes = []
    for _ in range(BOOTSTRAP):
        m = np.array([c[rng.integers(0, len(c), len(c))].mean() for c in conf_means])
        y = np.log(np.maximum(m, 1e-300))
        xb, yb = np.average(x, weights=w), np.average(y, weights=w)
        slopes.append(np.sum(w * (x - xb) * (y - yb)) / np.sum(w * (x - xb) ** 2))
    fit["ci95_bootstrap"] = [float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5))]
    fit["N_range"] = [int(n[0]), int(n[-1])]
    if len(n) >= 3:
        rest = fit_power_law(n[1:], mean[1:], se[1:])
        fit.update(slope_without_smallest_N=rest["slope"],
                   stderr_without_smallest_N=rest["stderr"], ci95_without_smallest_N=rest["ci95"])
    else:
        fit.update(slope_without_smallest_N=None, stderr_without_smallest_N=None,
                   ci95_without_smallest_N=None)
    return fit


def constant(n, mean, se) -> dict:
    """C in E d_2² ≈ C/N: the inverse-variance weighted mean of N·E d_2² over the grid.

    Args:
        n, mean, se: ``[P]`` sizes, means and standard errors.

    Returns:
        ``{"C", "se"}``; ``se`` is inflated by sqrt(χ²/dof) when the N·E d_2² scatter more than
        their errors (when they are not flat in N).
    """
    c, s = np.asarray(n, float) * np.asarray(mean, float), np.asarray(n, float) * np.asarray(se)
    w = 1.0 / np.maximum(s, 1e-300) ** 2
    C_ = float(np.sum(w * c) / np.sum(w))
    chi2 = float(np.sum(w * (c - C_) ** 2) / max(1, len(c) - 1))
    return {"C": C_, "se": float(np.sqrt(max(1.0, chi2) / np.sum(w)))}


# -- the study's tables ------------------------------------------------------------------------

#: Keys of the ``[nscaling]`` table, read by ``experiments/nscaling.py --full``.
NSCALING_KEYS = ("full_out", "full_grid")


def check_tables(spec) -> None:
    """Validate the study's own tables (``[iid]``, ``[nscaling]``) before anything is computed.

    Raises:
        ConfigError: naming the bad key.
    """
    IidSpec.from_dict(spec.extra.get("iid", {}))
    bad = sorted(set(spec.extra.get("nscaling", {})) - set(NSCALING_KEYS))
    if bad:
        raise C.ConfigError(f"nscaling.{bad[0]}: unknown key; expected one of "
                            f"{', '.join(NSCALING_KEYS)}")


def with_full_grids(raw: dict) -> dict:
    """A parsed study config with its ``[nscaling] full_grid`` tables added to ``[sweep]``.

    Args:
        raw: the parsed TOML (not modified).

    Returns:
        A copy whose ``sweep.grid`` holds the full study's grids too and whose ``sweep.out`` is
        ``[nscaling] full_out`` (so that the full study never shares the default's folder).

    Raises:
        ConfigError: when the config has no ``[[nscaling.full_grid]]`` or uses ``[sweep.axes]``.
    """
    import copy

    raw = copy.deepcopy(raw)
    extra = raw.get("nscaling", {})
    if not extra.get("full_grid"):
        raise C.ConfigError("nscaling.full_grid: --full needs [[nscaling.full_grid]] tables")
    sweep = raw.setdefault("sweep", {})
    if "axes" in sweep:
        raise C.ConfigError("sweep.axes: --full adds grids; give the main grid as [[sweep.grid]]")
    sweep["grid"] = list(sweep.get("grid", [])) + list(extra["full_grid"])
    if "full_out" in extra:
        sweep["out"] = extra["full_out"]
    return raw


# -- the coupled cells -------------------------------------------------------------------------

def d2_parts(gen, crit, gen_ref, crit_ref) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled-pairing d_2², and the exact d_2²'s generator and critic terms, at every snapshot.

    Args:
        gen: ``[R, S, N, K, L+2]``; crit: ``[R, S, M, K+2]``.
        gen_ref: ``[S, N, K, L+2]``; crit_ref: ``[S, M, K+2]``.

    Returns:
        ``(pairing, generator, critic)``, each ``[R, S]``; exact d_2² = generator + critic.
        Where the pairing is 0 (e.g. t = 0) so is d_2², and the assignment is skipped.
    """
    pair = coupling.pairing_d2(gen, crit, gen_ref[None], crit_ref[None])
    g_part, c_part = np.zeros_like(pair), np.zeros_like(pair)
    for r, s in zip(*np.nonzero(pair)):
        g, c = coupling.exact_d2_parts(gen[r, s], crit[r, s], gen_ref[s], crit_ref[s])
        g_part[r, s], c_part[r, s] = g, c
    return pair, g_part, c_part


#: Population runs of this process, by cell config with the batch size (unused by the population
#: dynamics) normalised: cells differing only in m share one population run.
_POPULATION_CACHE: dict[str, tuple] = {}


def _population_key(cfg: C.Config) -> str:
    d = C.to_dict(cfg)
    d["system"]["dynamics"]["batch_size"] = 1
    return repr(d)


def _population(cfgs, initial, progress):
    """Population trajectories ``[cells, ...]`` from ``initial``, reusing this process's runs.

    The initial particles do not depend on m either (same seed, sizes and laws), so a cached run
    is the run these cells would compute.

    Returns:
        (trajectory, seconds); a fully cached trajectory reports zero compile and run time.
    """
    keys = [_population_key(c) for c in cfgs]
    if all(k in _POPULATION_CACHE for k in keys):
        parts = [_POPULATION_CACHE[k] for k in keys]
        traj = parts[0]._replace(
            observables=jax.tree.map(lambda *x: np.concatenate(x), *[p.observables for p in parts]),
            snapshots=jax.tree.map(lambda *x: np.concatenate(x), *[p.snapshots for p in parts]),
            final_state=None, compile_seconds=0.0, run_seconds=0.0)
        return traj, 0.0
    # The population dynamics of the same cells: exact expectations instead of batches.
    pop = [C.from_dict(C.apply_overrides(C.to_dict(c), ["system.dynamics.population=true"]))
           for c in cfgs]
    run = sweep.simulate_cells(pop, replicas=1, initial_state=initial, on_chunk=progress.chunk)
    traj = run.trajectory
    for i, k in enumerate(keys):
        _POPULATION_CACHE[k] = traj._replace(
            observables=jax.tree.map(lambda x: np.asarray(x[i:i + 1]), traj.observables),
            snapshots=jax.tree.map(lambda x: np.asarray(x[i:i + 1]), traj.snapshots),
            final_state=None)
    return traj, run.seconds


def _at_snapshots(traj, values: np.ndarray) -> np.ndarray:
    """An observable ``[..., n_records]`` at the snapshot records, ``[..., S]``."""
    return np.asarray(values)[..., list(traj.schedule.snapshot_records)]


def coupled_group(spec, group, out: Path, progress) -> None:
    """Run one group of coupled cells (SGD replicas + population) and write each cell.

    The group's cells differ only in vmapped fields (here: the seed, i.e. the initial
    configuration, and in the full study n_c), so all their SGD replicas are one compiled program,
    and all their population runs another.
    """

    check_tables(spec)
    cfgs = [c.config for c in group]
    for c in group:
        if not c.config.run.shared_init:
            raise C.ConfigError(f"run.shared_init: the coupled study needs true (cell {c.name})")
    R = cfgs[0].run.replicas
    t0 = time.perf_counter()
    with experiment.precision(cfgs[0]):  # also around the population run and its rule
        progress.stage(f"SGD N={cfgs[0].system.N}: {len(group)} cell(s) x {R} replicas")
        sgd = sweep.simulate_cells(cfgs, on_chunk=progress.chunk)
        first = jax.tree.map(lambda x: x[::R], sgd.initial)
        progress.stage(f"population N={cfgs[0].system.N}: {len(group)} run(s)")
        pt, pop_seconds = _population(cfgs, first, progress)
    st = sgd.trajectory
    timing = {"setup": sgd.seconds + pop_seconds - st.compile_seconds - st.run_seconds
              - pt.compile_seconds - pt.run_seconds,
              "compile_sgd": st.compile_seconds, "sgd": st.run_seconds,
              "compile_population": pt.compile_seconds, "population": pt.run_seconds}
    progress.stage(f"assignment N={cfgs[0].system.N}")
    t1 = time.perf_counter()
    d2 = [d2_parts(st.snapshots["gen"][i * R:(i + 1) * R],
                   st.snapshots["critic"][i * R:(i + 1) * R],
                   pt.snapshots["gen"][i], pt.snapshots["critic"][i])
          for i in range(len(group))]
    timing["assignment"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    wall = (t2 - t0) / len(group)  # the group's compute, shared; writes are timed apart
    for i, cell in enumerate(group):
        traj = sweep.cell_slice(st, i, R)
        pair, gen, crit = d2[i]
        exact = gen + crit
        summary = experiment.summarize(cell.config, sgd.systems[i], traj, wall)
        ratio = np.where(pair > 0, exact / np.where(pair > 0, pair, 1), 0)
        summary.update(
            cell=cell.name, axes=cell.values, group=group[0].name, group_cells=len(group),
            devices=devices.device_count(),
            population_final={k: float(np.asarray(v)[i, -1]) for k, v in pt.observables.items()
                              if np.ndim(v[i, -1]) == 0},
            w1_snapshots={"t": st.snapshot_t,
                          "sgd": _at_snapshots(st, traj.observables["w1"]).mean(0),
                          "population": _at_snapshots(pt, pt.observables["w1"][i])},
            d2={"t": st.snapshot_t, "pairing_mean": pair.mean(0), "pairing_se": _se(pair),
                "exact_mean": exact.mean(0), "exact_se": _se(exact),
                "generator_mean": gen.mean(0), "critic_mean": crit.mean(0)},
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
        arrays[results.SNAPSHOT_PREFIX + "d2_exact_generator"] = gen
        arrays[results.SNAPSHOT_PREFIX + "d2_exact_critic"] = crit

        def draw(path, cfg=cell.config, traj=traj):
            run_figures.draw_run(path, cfg, traj.t, traj.observables, traj.snapshot_t,
                                 traj.snapshots)

        if i == len(group) - 1:
            timing["write"] = time.perf_counter() - t2
        sweep.write_cell(out / "cells" / cell.name, cell.config, arrays, summary,
                   draw if spec.cell_figures else None)


def coupled_row(cell, summary: dict) -> dict:
    """``sweep.csv`` columns of a coupled cell (d_2² at the last snapshot, replica statistics)."""
    d = summary["d2_T"]
    return {"M": cell.config.system.M, "replicas": summary["replicas"],
            "d2_exact_T": d["exact_mean"], "d2_exact_T_se": d["exact_se"],
            "d2_pairing_T": d["pairing_mean"], "d2_pairing_T_se": d["pairing_se"],
            "N_times_d2_exact_T": d["exact_mean"] * cell.config.system.N,
            "exact_le_pairing": summary["exact_le_pairing"],
            "w1_T": summary["final"]["w1"], "pop_w1_T": summary["population_final"]["w1"],
            "w2_T": summary["final"]["w2"], "pop_w2_T": summary["population_final"]["w2"],
            "wall_seconds": summary["wall_seconds"]}


# -- the study summary -------------------------------------------------------------------------

def _grid_cells(cell_list, name):
    return [c for c in cell_list if name in c.grids]


def _setting_key(cfg: C.Config) -> str:
    d = C.to_dict(cfg)
    d["run"]["seed"] = None
    return repr(d)


@dataclass
class Setting:
    """The cells of one setting (N, m, n_c, ...), one per initial configuration (seed).

    Attributes:
        config: the first cell's config (seeds aside, all cells share it).
        seeds: ``[S]`` seeds, ascending.
        names: ``[S]`` cell names.
        t: ``[T]`` snapshot times.
        exact, pairing, generator, critic: ``[S, R, T]`` d_2² by configuration and replica.
        w1_population: ``[S, T]`` the population runs' W_1 to the target at the snapshot times.
        w1_sgd: ``[S, T]`` the SGD replicas' mean W_1.
    """

    config: C.Config
    seeds: list
    names: list
    t: np.ndarray
    exact: np.ndarray
    pairing: np.ndarray
    generator: np.ndarray
    critic: np.ndarray
    w1_population: np.ndarray
    w1_sgd: np.ndarray

    @property
    def N(self) -> int:
        return self.config.system.N


def settings(cell_list, runs) -> list[Setting]:
    """Group cells by everything but the seed; sorted by (N, m, n_c).

    Args:
        cell_list: the cells (each with a finished folder).
        runs: cell name -> :class:`meanfield.io.results.RunFiles`.
    """
    by: dict[str, list] = {}
    for c in cell_list:
        by.setdefault(_setting_key(c.config), []).append(c)
    out = []
    for cs in by.values():
        cs = sorted(cs, key=lambda c: c.config.run.seed)
        m = [runs[c.name].metrics for c in cs]
        s = [runs[c.name].summary for c in cs]
        P = results.SNAPSHOT_PREFIX

        def stack(key):
            return np.stack([np.asarray(x[P + key], float) for x in m])

        out.append(Setting(cs[0].config, [c.config.run.seed for c in cs], [c.name for c in cs],
                           np.asarray(m[0]["snapshot_t"], float), stack("d2_exact"),
                           stack("d2_pairing"), stack("d2_exact_generator"),
                           stack("d2_exact_critic"),
                           np.array([x["w1_snapshots"]["population"] for x in s], float),
                           np.array([x["w1_snapshots"]["sgd"] for x in s], float)))
    return sorted(out, key=lambda s: (s.N, s.config.system.dynamics.batch_size,
                                      s.config.system.dynamics.n_critic))


def setting_row(s: Setting, k: int) -> dict:
    """One setting's line of the table at snapshot index ``k``.

    Args:
        s: the setting (its S configurations × R replicas).
        k: index into ``s.t``.

    Returns:
        Sizes, E d_2² with its two-level and replica-only errors, the configuration share of the
        variance, N·E d_2², the generator's share, the pairing bound, and W_1 (SGD, population).
    """
    st = nested_stats(s.exact[:, :, k])
    total = max(st["mean"], 1e-300)
    return {"N": s.N, "M": s.config.system.M, "batch_size": s.config.system.dynamics.batch_size,
            "n_critic": s.config.system.dynamics.n_critic, "seeds": s.seeds,
            "replicas": st["replicas"], "configurations": st["configurations"],
            "d2_exact_mean": st["mean"], "d2_exact_se": st["se"],
            "d2_exact_se_replicas_only": st["se_replicas_only"],
            "config_share": st["config_share"],
            "d2_exact_config_means": s.exact[:, :, k].mean(1),
            "N_times_d2": s.N * st["mean"], "N_times_d2_se": s.N * st["se"],
            "generator_share": float(s.generator[:, :, k].mean() / total),
            "d2_pairing_mean": float(s.pairing[:, :, k].mean()),
            "d2_pairing_se": nested_stats(s.pairing[:, :, k])["se"],
            "w1_population": float(s.w1_population[:, k].mean()),
            "w1_sgd": float(s.w1_sgd[:, k].mean()),
            "exact_le_pairing": bool(np.all(s.exact[:, :, k] <= s.pairing[:, :, k] * (1 + 1e-9)
                                            + 1e-15))}


def time_table(sets: list[Setting]) -> list[dict]:
    """At every snapshot time t > 0: the rows by N, the fit, C(t) and W_1(t) (see module doc).

    Args:
        sets: the main grid's settings, one per N, ascending.

    Returns:
        One dict per t > 0: :func:`slope_report`'s keys, ``C`` (:func:`constant`),
        ``w1_population`` ``[P]`` and its t = 0 values, their median ratio, the generator's
        share of d_2² (mean over N) and ``rows`` (:func:`setting_row`).
    """
    t = sets[0].t
    n = np.array([s.N for s in sets])
    w1_0 = np.array([s.w1_population[:, 0].mean() for s in sets])
    out = []
    for k in range(len(t)):
        if t[k] <= 0:
            continue
        rows = [setting_row(s, k) for s in sets]
        mean = np.array([r["d2_exact_mean"] for r in rows])
        se = np.array([r["d2_exact_se"] for r in rows])
        fit = slope_report(n, [s.exact[:, :, k] for s in sets], seed=k)
        w1 = np.array([r["w1_population"] for r in rows])
        out.append({"t": float(t[k]), **fit, "C": constant(n, mean, se),
                    "w1_population": w1, "w1_population_t0": w1_0,
                    "w1_ratio_median": float(np.median(w1 / w1_0)),
                    "generator_share": float(np.mean([r["generator_share"] for r in rows])),
                    "rows": rows})
    return out


def horizons(per_T: list[dict]) -> dict:
    """The first snapshot time at which the population W_1 has fallen to half its t = 0 value
    (median over N), and the last snapshot time."""
    half = next((p["t"] for p in per_T if p["w1_ratio_median"] <= 0.5), None)
    return {"w1_half": half, "last": per_T[-1]["t"],
            "rule": "w1_half: first snapshot time with median over N of W1(t)/W1(0) <= 1/2 "
                    "(population runs)"}


def finish(spec, cell_list, out: Path, progress) -> dict:
    """Fits, figures and ``summary.json`` of the study from the cells on disk (and the iid part)."""
    check_tables(spec)
    runs = {c.name: results.read_run(out / "cells" / c.name) for c in cell_list}
    summaries = {k: r.summary for k, r in runs.items()}
    main = _grid_cells(cell_list, MAIN) or _grid_cells(cell_list, spec.grids[0][0])
    sets = settings(main, runs)
    if len({s.N for s in sets}) != len(sets):
        raise C.ConfigError(f"grid {MAIN!r}: its cells must differ only in system.N and run.seed")
    per_T = time_table(sets)
    last = per_T[-1]
    summary = {
        "claim": "E d_2^2(t) <= C(t)/N for SGD particles against the WGAN-PDE from the same "
                 "particles ([DSC], docs/model.md §3)",
        "T": last["t"], "times": [p["t"] for p in per_T], "horizons": horizons(per_T),
        "N": [s.N for s in sets], "configurations_per_N": [len(s.seeds) for s in sets],
        "replicas": int(sets[0].exact.shape[1]),
        "per_T": per_T,
        # The last snapshot's fit under the names of the one-horizon study.
        "fitted_slope": last["slope"], "fitted_slope_stderr": last["stderr"],
        "fitted_intercept": last["intercept"], "fit_chi2_dof": last["chi2_dof"],
        "per_N": last["rows"],
        "fit": "weighted least squares of log E d_2^2(t) (exact) on log N, E over configurations "
               "of the replica means; errors from the spread of the configuration means; stderr "
               "inflated by sqrt(chi2/dof) when > 1; ci95: t-interval; ci95_bootstrap: "
               "configurations resampled within each N",
        "all_exact_le_pairing": all(s["exact_le_pairing"] for s in summaries.values()),
        "max_exact_over_pairing": max(s["max_exact_over_pairing"] for s in summaries.values()),
    }
    for name, field in ((BATCH, "batch_size"), (NCRITIC, "n_critic")):
        cs = _grid_cells(cell_list, name)
        if cs:
            summary[name] = side_grid(settings(cs, runs), field)
    # Time per stage, summed over groups (each group's timing is stored in all its cells).
    groups = {s["group"]: s["timing"] for s in summaries.values()}
    summary["timing"] = {k: float(sum(g.get(k, 0.0) for g in groups.values()))
                         for k in TIMING_KEYS}
    summary["timing"]["groups"] = len(groups)
    summary["timing"]["total_cells"] = float(sum(summary["timing"][k] for k in TIMING_KEYS))
    summary["devices"] = devices.device_count()
    if spec.extra.get("iid", {}).get("enabled", False):
        progress.stage("iid study")
        summary["iid"] = iid_study(spec, sets, runs, out / "iid", progress)
    summary = results.jsonable(summary)
    figures(out, summary, sets)
    results.atomic_write_text(out / "summary.json", results.dumps_json(summary))
    return summary


def side_grid(sets: list[Setting], field: str) -> dict:
    """The batch-size or n_c grid at the last snapshot: per value of ``field``, its rows by N,
    the slope when there are more than two N, and the mean of N·E d_2²."""
    k = len(sets[0].t) - 1
    by: dict = {}
    for s in sets:
        by.setdefault(getattr(s.config.system.dynamics, field), []).append(s)
    out = {}
    for v, ss in sorted(by.items()):
        rows = [setting_row(s, k) for s in ss]
        entry = {"rows": rows, "mean_N_d2": float(np.mean([r["N_times_d2"] for r in rows]))}
        if len(ss) > 2:
            f = fit_power_law([r["N"] for r in rows], [r["d2_exact_mean"] for r in rows],
                              [r["d2_exact_se"] for r in rows])
            entry.update(slope=f["slope"], stderr=f["stderr"])
        out[str(v)] = entry
    return out


# -- iid ---------------------------------------------------------------------------------------

#: Version of the iid result's layout, part of its cache key: a new layout recomputes.
IID_FORMAT = 2


@dataclass(frozen=True)
class IidSpec:
    """The ``[iid]`` table.

    Attributes:
        enabled: run the iid part.
        N: the sizes to use (a subset of the main grid's; empty: all of them).
        times: snapshot times t > 0 at which d_2²(t) and d_2²(t) − d_2²(0) are measured (empty:
            the last snapshot).
    """

    enabled: bool = False
    N: tuple = ()
    times: tuple = ()

    @classmethod
    def from_dict(cls, raw: dict) -> "IidSpec":
        known = [f for f in cls.__dataclass_fields__]
        bad = sorted(set(raw) - set(known))
        if bad:
            raise C.ConfigError(f"iid.{bad[0]}: unknown key; expected one of {', '.join(known)}")
        vals = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**vals)


def _snapshot_index(t: np.ndarray, time_: float, what: str) -> int:
    k = int(np.argmin(np.abs(t - time_)))
    if not np.isclose(t[k], time_, rtol=1e-9, atol=1e-9):
        raise C.ConfigError(f"{what}: {time_} is not a snapshot time of the cells "
                            f"({', '.join(f'{x:g}' for x in t)})")
    return k


def iid_study(spec, sets: list[Setting], runs, out: Path, progress) -> dict:
    """The iid part (see the module docstring): pairs of independent configurations at equal N.

    Args:
        spec: the sweep spec (its ``extra["iid"]`` table).
        sets: the main grid's settings, one per N.
        runs: cell name -> :class:`meanfield.io.results.RunFiles` (the snapshots of replica 0).
        out: folder of the cache ``iid.json`` (reused when the cells and the table are unchanged).
        progress: for stage messages.

    Returns:
        ``{"N", "times", "rows", "initial", "total", "dynamics", "bound_exponent", ...}``:
        per N and time the pair means with jackknife errors, and the fitted exponents.
    """
    import json

    iid = IidSpec.from_dict(spec.extra.get("iid", {}))
    t = sets[0].t
    times = [float(x) for x in (iid.times or (t[-1],))]
    ks = [_snapshot_index(t, x, "iid.times") for x in times]
    if any(x <= 0 for x in times):
        raise C.ConfigError("iid.times: expected times > 0 (t = 0 is always measured)")
    use = [s for s in sets if not iid.N or s.N in iid.N]
    missing = sorted(set(iid.N) - {s.N for s in sets})
    if missing:
        raise C.ConfigError(f"iid.N: {missing[0]} is not an N of the main grid")
    if any(len(s.seeds) < 2 for s in use):
        raise C.ConfigError("iid: every N needs at least two seeds (independent configurations)")
    key_text = repr((IID_FORMAT, iid,
                     [(s.N, s.names, [runs[n].config_text for n in s.names]) for s in use]))
    cache = out / "iid.json"
    if cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key_text:
            return saved["result"]
    t0 = time.perf_counter()
    P = results.SNAPSHOT_PREFIX
    k0 = _snapshot_index(t, 0.0, "t = 0")
    rows = []
    for s in use:
        progress.stage(f"iid: pairs of configurations, N={s.N}")
        # Replica 0 of each configuration: one SGD run from iid initial particles; S arrays
        # [T, N, K, L+2] and [T, M, K+2].
        gen = [runs[n].metrics[P + "gen"][0] for n in s.names]
        crit = [runs[n].metrics[P + "critic"][0] for n in s.names]
        S = len(s.names)
        d = {}
        for i in range(S):
            for j in range(i + 1, S):
                for k in [k0, *ks]:
                    g, c = coupling.exact_d2_parts(gen[i][k], crit[i][k], gen[j][k], crit[j][k])
                    d[(i, j, k)] = (float(g), float(c))
        pairs = [(i, j) for i in range(S) for j in range(i + 1, S)]

        def total(k, pairs=pairs, d=d):
            return {p: sum(d[(*p, k)]) for p in pairs}

        def part(k, which, pairs=pairs, d=d):
            return {p: d[(*p, k)][which] for p in pairs}

        init = pair_stats(total(k0))
        row = {"N": s.N, "configurations": S, "pairs": len(pairs),
               "initial_mean": init["mean"], "initial_se": init["se"],
               "initial_generator_mean": float(np.mean(list(part(k0, 0).values()))),
               "initial_critic_mean": float(np.mean(list(part(k0, 1).values())))}
        for name in ("total", "dynamics", "factor", "generator_factor", "critic_factor"):
            row[name + "_mean"], row[name + "_se"] = [], []
        for k in ks:
            now, start = total(k), total(k0)
            entries = {
                "total": pair_stats(now),
                "dynamics": pair_stats({p: now[p] - start[p] for p in pairs}),
                "factor": pair_stats(now, start),
                "generator_factor": pair_stats(part(k, 0), part(k0, 0)),
                "critic_factor": pair_stats(part(k, 1), part(k0, 1))}
            for name, st in entries.items():
                row[name + "_mean"].append(st["mean"])
                row[name + "_se"].append(st["se"])
        rows.append(row)
    n = [r["N"] for r in rows]

    def exponent(mean, se):
        mean, se = np.asarray(mean), np.asarray(se)
        if len(mean) < 2 or np.any(mean <= 0):
            return None  # a power law needs positive means; the rows still say what was measured
        f = fit_power_law(n, mean, se)
        return {k: f[k] for k in ("slope", "stderr", "ci95", "chi2_dof", "intercept")}

    K, L = sets[0].config.system.K, sets[0].config.system.L
    result = {
        "N": n, "times": times, "rows": rows,
        "initial": exponent([r["initial_mean"] for r in rows], [r["initial_se"] for r in rows]),
        "total": [exponent([r["total_mean"][i] for r in rows], [r["total_se"][i] for r in rows])
                  for i in range(len(times))],
        "factor": [exponent([r["factor_mean"][i] for r in rows],
                            [r["factor_se"][i] for r in rows]) for i in range(len(times))],
        "dynamics": [exponent([r["dynamics_mean"][i] for r in rows],
                              [r["dynamics_se"][i] for r in rows]) for i in range(len(times))],
        "dynamics_share": [float(np.mean([r["dynamics_mean"][i] / r["total_mean"][i]
                                          for r in rows])) for i in range(len(times))],
        "split": "d_2^2(t) = d_2^2(0) * A_N(t): exponent(total) = exponent(initial) + "
                 "exponent(factor A_N(t)); the additive part d_2^2(t) - d_2^2(0) ('dynamics') has "
                 "an exponent only where it is positive at every N",
        "bound_exponent": -1.0 / (K * (2 + L)),
        "bound": "E d_2^2 <= C N^(-1/(K(2+L))) ([DSC], docs/model.md §3)",
        "sampling_exponents": sampling_exponents(K, L),
        "method": "d_2^2 between replica 0 of two SGD runs from independent configurations of "
                  "equal N (exact assignment), over all pairs of configurations; jackknife errors; "
                  "E W2^2(mu_N, mu) <= E W2^2(mu_N, mu'_N) <= 4 E W2^2(mu_N, mu)",
        "seconds": time.perf_counter() - t0,
    }
    results.atomic_write_text(cache, json.dumps({"key": key_text,
                                                 "result": results.jsonable(result)}))
    return results.jsonable(result)


def sampling_exponents(K: int, L: int) -> dict:
    """Exponents in N of E W_2²(μ_N, μ) for an iid sample of a law μ on R^d, d = K(L+2), the
    dimension of a generator particle.

    Args:
        K, L: data and latent dimensions.

    Returns:
        ``{"d", "general", "gaussian", "sources"}``: ``general`` is the rate for any law with enough
        moments, −1/2 for d ≤ 4 and −2/d above (Fournier and Guillin 2015; attained by laws with
        atoms); ``gaussian`` the rate −2/d of the standard Gaussian for d ≥ 3 (Ledoux and Zhu 2021),
        the generator's initial law when its blocks are N(0, 1); None for d < 3, where logarithms
        enter.
    """
    d = K * (L + 2)
    return {"d": d, "general": -0.5 if d <= 4 else -2.0 / d,
            "gaussian": -2.0 / d if d >= 3 else None,
            "sources": "general: Fournier and Guillin (2015), Probab. Theory Relat. Fields 162; "
                       "gaussian: Ledoux and Zhu (2021), Probab. Math. Statist. 41(2)"}


# -- figures and report ------------------------------------------------------------------------

def _fmt_ci(ci) -> str:
    return "n/a" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _fmt_slope(slope, se) -> str:
    return "n/a" if slope is None else f"{slope:+.3f} ± {se:.3f}"


def figures(out: Path, summary: dict, sets: list[Setting]) -> list[Path]:
    """``nscaling_fit.png`` (E d_2² and N·E d_2² against N at every t, C(t) and W_1(t)),
    ``nscaling_curves.png`` (over time, by N; the generator's share; exact against pairing),
    ``nscaling_iid.png`` and, in the full study, ``nscaling_batch.png`` and
    ``nscaling_n_critic.png``."""

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    per_T = summary["per_T"]
    N = np.array(summary["N"], float)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(per_T)))
    half = summary["horizons"]["w1_half"]

    fig, axs = plt.subplots(1, 3, figsize=(16, 4.6))
    for p, col in zip(per_T, colors):
        m = np.array([r["d2_exact_mean"] for r in p["rows"]])
        se = np.array([r["d2_exact_se"] for r in p["rows"]])
        mark = " ◀ W₁ halved" if half is not None and p["t"] == half else ""
        axs[0].errorbar(N, m, yerr=se, marker="o", ls="none", capsize=3, color=col,
                        label=f"t={p['t']:g}: slope {p['slope']:.2f} ± {p['stderr']:.2f}{mark}")
        axs[0].plot(N, np.exp(p["intercept"]) * N ** p["slope"], "-", color=col, lw=1)
        axs[1].errorbar(N, N * m, yerr=N * se, marker="o", capsize=3, color=col,
                        label=f"t={p['t']:g}")
        axs[1].axhline(p["C"]["C"], color=col, ls=":", lw=1)
    # A slope −1 guide below the data (through the lowest curve it would hide a fit).
    low = np.array([r["d2_exact_mean"] for r in per_T[0]["rows"]])
    axs[0].plot(N, 0.4 * low[0] * (N / N[0]) ** -1.0, "k:", label="slope −1 (C/N), guide")
    axs[0].set(xscale="log", yscale="log", xlabel="N (= M)", ylabel="E d₂²(t)",
               title="coupled SGD vs population (WGAN-PDE)")
    axs[0].legend(fontsize=7)
    axs[1].set(xscale="log", yscale="log", xlabel="N (= M)", ylabel="N · E d₂²(t)",
               title="flat in N if E d₂² = C(t)/N (dotted: C(t))")
    axs[1].legend(fontsize=7)
    t = np.array([p["t"] for p in per_T])
    c = np.array([p["C"]["C"] for p in per_T])
    cse = np.array([p["C"]["se"] for p in per_T])
    axs[2].errorbar(t, c, yerr=cse, marker="o", color="C3", capsize=3, label="C(t)")
    axs[2].set(yscale="log", xlabel="mean-field time t", ylabel="C(t) = N · E d₂²(t)",
               title="growth of the constant, and the law's motion")
    axs[2].tick_params(axis="y", colors="C3")
    tw = axs[2].twinx()
    t_all = np.array([0.0] + list(t))
    for s in sets:
        ratio = s.w1_population.mean(0) / s.w1_population[:, 0].mean()
        tw.plot(t_all, ratio, color="0.5", lw=0.8, alpha=0.7)
    tw.axhline(0.5, color="k", ls="--", lw=0.8)
    tw.text(t_all[0], 0.52, "W₁ halved", fontsize=7)
    tw.set(ylim=(0, 1.1), ylabel="W₁(t)/W₁(0), population (one line per N)")
    axs[2].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    paths.append(fig_dir / "nscaling_fit.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, axs = plt.subplots(1, 3, figsize=(16, 4.4))
    ncol = plt.cm.plasma(np.linspace(0.0, 0.85, len(sets)))
    for s, col in zip(sets, ncol):
        tot = s.exact.mean((0, 1))
        axs[0].plot(s.t[1:], s.N * tot[1:], marker="o", color=col, label=f"N={s.N}")
        share = s.generator.mean((0, 1))[1:] / np.maximum(tot[1:], 1e-300)
        axs[1].plot(s.t[1:], share, marker="o", color=col, label=f"N={s.N}")
    axs[0].set(yscale="log", xlabel="mean-field time t", ylabel="N · E d₂²(t)",
               title="collapse onto one curve if C(t)/N")
    axs[0].legend(fontsize=7)
    axs[1].set(ylim=(0, 1), xlabel="mean-field time t", ylabel="W₂²(μ) / d₂²",
               title="generator's share of d₂² (the rest: critic)")
    rows = per_T[-1]["rows"]
    for key, marker, ms, mfc, label in (("pairing", "s", 9, "none", "labelled pairing (bound)"),
                                        ("exact", "o", 4, None, "exact (assignment)")):
        axs[2].errorbar(N, [r[f"d2_{key}_mean"] for r in rows],
                        yerr=[r[f"d2_{key}_se"] for r in rows], marker=marker, ms=ms, mfc=mfc,
                        ls="none", capsize=3, label=label)
    axs[2].set(xscale="log", yscale="log", xlabel="N (= M)",
               ylabel=f"E d₂² at t = {per_T[-1]['t']:g}", title="exact ≤ labelled pairing")
    axs[2].legend(fontsize=7)
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
            axs[1].errorbar(n, m * scale, yerr=se * scale, marker="o", capsize=2,
                            label=f"{sym}={k}")
        axs[0].set(xscale="log", yscale="log", xlabel="N", ylabel=f"E d₂²(t = {summary['T']:g})")
        axs[1].set(xscale="log", yscale="log", xlabel="N",
                   ylabel="m · N · E d₂²" if field == "batch_size" else "N · E d₂²",
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


def iid_figure(path: Path, iid: dict) -> Path:
    """Left: d_2² between independent runs at t = 0 (initial sampling) and at the ``times``, with
    fitted exponents, [DSC]'s bound exponent and N^{−1/2}. Right: the dynamics' factor
    A_N(t) = E d_2²(t)/E d_2²(0), in total and for the generator and critic terms."""

    fig, axs = plt.subplots(1, 2, figsize=(12, 4.6))
    rows = iid["rows"]
    n = np.array([r["N"] for r in rows], float)

    def label(name, e):
        return f"{name}: n/a" if e is None else \
            f"{name}: exponent {e['slope']:.2f} ± {e['stderr']:.2f}"

    def line(ax, e, color):
        if e is not None:
            ax.plot(n, np.exp(e["intercept"]) * n ** e["slope"], "-", color=color, lw=0.8)

    m0 = np.array([r["initial_mean"] for r in rows])
    axs[0].errorbar(n, m0, yerr=[r["initial_se"] for r in rows], marker="o", capsize=3,
                    color="k", ls="none", label=label("t = 0 (initial sampling)", iid["initial"]))
    line(axs[0], iid["initial"], "k")
    cols = plt.cm.viridis(np.linspace(0.3, 0.85, len(iid["times"])))
    for i, (tt, col) in enumerate(zip(iid["times"], cols)):
        m = np.array([r["total_mean"][i] for r in rows])
        axs[0].errorbar(n * 1.04 ** (i + 1), m, yerr=[r["total_se"][i] for r in rows],
                        marker="s", capsize=3, color=col, ls="none",
                        label=label(f"t = {tt:g}", iid["total"][i]))
        line(axs[0], iid["total"][i], col)
        f = np.array([r["factor_mean"][i] for r in rows])
        axs[1].errorbar(n * 1.04 ** i, f, yerr=[r["factor_se"][i] for r in rows], marker="s",
                        capsize=3, color=col, label=label(f"A_N({tt:g})", iid["factor"][i]))
    last = len(iid["times"]) - 1
    for key, marker, name in (("generator_factor", "^", "generator term"),
                              ("critic_factor", "v", "critic term")):
        axs[1].plot(n, [r[f"{key}_mean"][last] for r in rows], marker=marker, ls=":",
                    color=cols[-1], mfc="none", label=f"{name}, t = {iid['times'][last]:g}")
    b = iid["bound_exponent"]
    axs[0].plot(n, m0[0] * (n / n[0]) ** b, "k:", label=f"[DSC]'s bound exponent {b:.3f}")
    rates = iid["sampling_exponents"]
    axs[0].plot(n, m0[0] * (n / n[0]) ** rates["general"], "k--", lw=0.8,
                label=f"iid sampling, any law: {rates['general']:.3f}")
    if rates["gaussian"] is not None:
        axs[0].plot(n, m0[0] * (n / n[0]) ** rates["gaussian"], "k-.", lw=0.8,
                    label=f"iid sampling, Gaussian law: {rates['gaussian']:.3f}")
    axs[0].set(xscale="log", yscale="log", xlabel="N (iid initial particles)",
               ylabel="E d₂² between two independent runs",
               title="iid: initial sampling (t = 0) and the total at t")
    axs[1].axhline(1.0, color="k", lw=0.8)
    axs[1].set(xscale="log", xlabel="N (iid initial particles)",
               ylabel="A_N(t) = E d₂²(t) / E d₂²(0)",
               title="what the dynamics does to it: d₂²(t) = d₂²(0) · A_N(t)")
    for ax in axs:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(summary: dict) -> str:
    """A few lines for the terminal."""
    h = summary["horizons"]
    lines = [f"coupled: E d_2^2(t) against N = {summary['N'][0]}..{summary['N'][-1]} "
             f"({summary['configurations_per_N'][0]} configurations x {summary['replicas']} "
             f"replicas per N); W1 halved by t = {h['w1_half']}",
             "     t   W1/W1(0)  slope ± se      95% (t)          95% (bootstrap)  "
             "w/o smallest N   C(t) ± se            gen share"]
    for p in summary["per_T"]:
        lines.append(
            f"  {p['t']:4g}   {p['w1_ratio_median']:.3f}    "
            f"{_fmt_slope(p['slope'], p['stderr']):15s} {_fmt_ci(p['ci95']):16s} "
            f"{_fmt_ci(p['ci95_bootstrap']):16s} "
            f"{_fmt_slope(p['slope_without_smallest_N'], p['stderr_without_smallest_N']):15s}  "
            f"{p['C']['C']:.3e} ± {p['C']['se']:.1e}  {p['generator_share']:.2f}")
    lines.append(f"exact <= pairing everywhere: {summary['all_exact_le_pairing']}")
    t = summary["timing"]
    lines.append("time (s): " + ", ".join(f"{k} {t[k]:.1f}" for k in TIMING_KEYS))
    if "iid" in summary:
        i = summary["iid"]

        def e(x):
            return "n/a" if x is None else f"{x['slope']:.3f} ± {x['stderr']:.3f}"

        lines.append(f"iid (N = {i['N'][0]}..{i['N'][-1]}): initial sampling exponent "
                     f"{e(i['initial'])}")
        for k, tt in enumerate(i["times"]):
            lines.append(f"  t = {tt:g}: total {e(i['total'][k])} = initial + factor "
                         f"A_N(t) {e(i['factor'][k])}; d2(t) - d2(0): "
                         f"{e(i['dynamics'][k])} (mean share {i['dynamics_share'][k]:+.3f})")
        r = i["sampling_exponents"]
        gauss = "n/a" if r["gaussian"] is None else f"{r['gaussian']:.3f}"
        lines.append(f"  [DSC]'s bound exponent -1/(K(2+L)) = {i['bound_exponent']:.3f}; iid "
                     f"sampling: {r['general']:.3f} (any law), {gauss} (Gaussian); "
                     f"{i['seconds']:.0f} s")
    return "\n".join(lines)


sweep.register_study(sweep.Study("coupled", run_group=coupled_group, row=coupled_row,
                                 finish=finish, tables=("iid", "nscaling"), check=check_tables,
                                 report=report))
