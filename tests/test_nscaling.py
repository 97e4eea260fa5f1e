"""The N-scaling study: its statistics, its config, a tiny pipeline, and (slow) the study itself."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from meanfield.io import config as C
from meanfield.studies import nscaling
from meanfield.studies import sweep
from meanfield.io.results import read_run

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "nscaling.toml"

# Two N, two configurations each, a horizon of a few steps: the plumbing, not the rate.
TINY = """
[system]
kind = "wgan"
N = 8
M = 8
[system.target]
weights = [1.0]
means = [1.0]
stds = [0.3]
[system.dynamics]
lr = 1.0
batch_size = 4
clip = 1.0
[system.numerics]
n_eval = 32
quadrature_nodes = 8
[run]
T = 0.5
n_records = 3
snapshot_times = [0.0, 0.25, 0.5]
replicas = 3
shared_init = true
[sweep]
study = "coupled"
M_over_N = 1.0
cell_figures = false
[[sweep.grid]]
name = "N"
"system.N" = [8]
"run.seed" = [1, 2, 3]
[[sweep.grid]]
name = "N"
"system.N" = [16]
"run.seed" = [11, 12, 13]
[iid]
enabled = true
times = [0.5]
"""


def test_fit_power_law_recovers_exact_slope_and_scales_error():
    n = np.array([32, 64, 128, 256, 512])
    mean = 3.0 * n ** -1.0
    fit = nscaling.fit_power_law(n, mean, 0.1 * mean)
    assert fit["slope"] == pytest.approx(-1.0, abs=1e-12)
    assert fit["intercept"] == pytest.approx(np.log(3.0), abs=1e-12)
    # With 10% errors on 5 points spread over log2 range 4, the slope error is about
    # 0.1 / sqrt(sum (x - xbar)^2) = 0.1 / (ln 2 * sqrt(10)).
    assert fit["stderr"] == pytest.approx(0.1 / (np.log(2) * np.sqrt(10)), rel=1e-6)
    # The 95% interval is the t-quantile with 3 degrees of freedom (3.182) times that.
    lo, hi = fit["ci95"]
    assert (hi - lo) / 2 == pytest.approx(3.182446 * fit["stderr"], rel=1e-5)
    # Scatter beyond the stated errors inflates the standard error.
    noisy = mean * np.exp(np.array([0.3, -0.3, 0.3, -0.3, 0.3]))
    assert nscaling.fit_power_law(n, noisy, 0.01 * noisy)["stderr"] > 0.05


def test_nested_stats_counts_the_variation_between_configurations():
    rng = np.random.default_rng(0)
    S, R, reps = 8, 4, 2000
    # Configuration effects of sd 1 and replica noise of sd 0.5: the variance of the mean of the
    # S configuration means is (1 + 0.25/R)/S; replica noise alone would say 1.25/(S R).
    x = 5 + rng.standard_normal((reps, S, 1)) + 0.5 * rng.standard_normal((reps, S, R))
    st = [nscaling.nested_stats(v) for v in x]
    true_sd = np.sqrt((1 + 0.25 / R) / S)
    assert np.std([s["mean"] for s in st]) == pytest.approx(true_sd, rel=0.05)
    assert np.sqrt(np.mean([s["se"] ** 2 for s in st])) == pytest.approx(true_sd, rel=0.05)
    assert np.mean([s["se_replicas_only"] for s in st]) < 0.6 * true_sd
    assert np.mean([s["between_var"] for s in st]) == pytest.approx(1.0, rel=0.05)
    assert np.mean([s["within_var"] for s in st]) == pytest.approx(0.25, rel=0.05)
    assert np.mean([s["config_share"] for s in st]) == pytest.approx(1 / (1 + 0.25 / R), abs=0.05)


def test_pair_stats_jackknife_matches_the_spread_of_the_u_statistic():
    rng = np.random.default_rng(1)
    S, reps = 8, 3000
    means, ses = [], []
    for _ in range(reps):
        x = rng.standard_normal(S)
        # (x_i - x_j)^2 / 2 is an unbiased pair estimate of the variance (1 here).
        st = nscaling.pair_stats({(i, j): (x[i] - x[j]) ** 2 / 2
                                  for i in range(S) for j in range(i + 1, S)})
        means.append(st["mean"])
        ses.append(st["se"])
    assert np.mean(means) == pytest.approx(1.0, abs=0.02)
    # The U-statistic is the sample variance: its sd is sqrt(2/(S-1)); the jackknife estimates it
    # (with the usual upward bias of a few percent).
    assert np.std(means) == pytest.approx(np.sqrt(2 / (S - 1)), rel=0.05)
    assert np.sqrt(np.mean(np.square(ses))) == pytest.approx(np.sqrt(2 / (S - 1)), rel=0.15)


def test_slope_report_bootstrap_and_dropping_the_smallest_n():
    rng = np.random.default_rng(2)
    n = np.array([32, 64, 128, 256, 512])
    # C/N with configuration and replica noise, and the smallest N inflated threefold.
    groups = [(0.01 / N) * np.exp(0.2 * rng.standard_normal((8, 1))
                                  + 0.1 * rng.standard_normal((8, 4))) for N in n]
    groups[0] = groups[0] * 3
    rep = nscaling.slope_report(n, groups)
    assert rep["N_range"] == [32, 512]
    assert rep["slope"] < -1.1  # pulled by the smallest N
    assert rep["slope_without_smallest_N"] == pytest.approx(-1.0, abs=0.15)
    assert rep["stderr_without_smallest_N"] > 0
    lo, hi = rep["ci95_bootstrap"]
    assert lo < rep["slope"] < hi
    assert rep["ci95"][0] < rep["slope"] < rep["ci95"][1]
    c = nscaling.constant(n[1:], [g.mean() for g in groups[1:]],
                          [nscaling.nested_stats(g)["se"] for g in groups[1:]])
    assert c["C"] == pytest.approx(0.01, rel=0.2)


def test_study_config_has_independent_configurations_and_valid_tables():
    raw = tomllib.loads(CONFIG.read_text())
    spec = sweep.from_dict(raw)
    nscaling.check_tables(spec)
    main = [c for c in sweep.cells(spec) if nscaling.MAIN in c.grids]
    by_n: dict = {}
    for c in main:
        by_n.setdefault(c.config.system.N, []).append(c.config.run.seed)
    assert sorted(by_n) == [32, 64, 128, 256, 512, 1024]
    assert all(len(s) >= 4 for s in by_n.values())
    seeds = [s for v in by_n.values() for s in v]
    assert len(seeds) == len(set(seeds)), "a seed shared by two N would share initial particles"
    base = C.from_dict(spec.base)
    assert base.run.shared_init and 0.0 in base.run.snapshot_times
    assert set(spec.extra["iid"]["times"]) <= set(base.run.snapshot_times)
    full = sweep.from_dict(nscaling.with_full_grids(raw))
    assert full.out == raw["nscaling"]["full_out"] != spec.out
    assert {2048} <= {c.config.system.N for c in sweep.cells(full)}
    assert {g for g, _ in full.grids} == {"N", "batch", "n_critic"}
    bad = {**raw, "nscaling": {**raw["nscaling"], "fulll_out": "x"}}
    with pytest.raises(C.ConfigError, match="nscaling.fulll_out"):
        nscaling.check_tables(sweep.from_dict(bad))
    with pytest.raises(C.ConfigError, match="iid.replicas"):
        nscaling.check_tables(sweep.from_dict({**raw, "iid": {"replicas": 8}}))


@pytest.mark.slow  # 13 s; the pipeline on synthetic cells stays in the default run
def test_coupled_group_writes_d2_by_replica_and_snapshot(tmp_path):
    # One compiled group (N = 8, three configurations): the cells' files, not the rate.
    spec = sweep.from_dict(tomllib.loads(TINY))
    group = sweep.groups(sweep.cells(spec))[0]
    assert [c.config.system.N for c in group] == [8, 8, 8]
    nscaling.coupled_group(spec, group, tmp_path, sweep.Progress())
    run = read_run(tmp_path / "cells" / "N=8_seed=1")
    m, s = run.metrics, run.summary
    assert m["snapshot_d2_exact"].shape == (3, 3)
    assert np.all(m["snapshot_d2_exact"][:, 0] == 0)  # same particles at t = 0
    assert np.all(m["snapshot_d2_exact"][:, 1:] > 0)
    np.testing.assert_allclose(m["snapshot_d2_exact"], m["snapshot_d2_exact_generator"]
                               + m["snapshot_d2_exact_critic"], rtol=1e-12)
    assert np.all(m["snapshot_d2_exact"] <= m["snapshot_d2_pairing"] * (1 + 1e-9))
    assert s["exact_le_pairing"] and len(s["w1_snapshots"]["population"]) == 3
    # The population run starts from the replicas' particles, and W_1 at t = 0 is the same.
    np.testing.assert_array_equal(m["snapshot_pop_gen"][0, 0], m["snapshot_gen"][0, 0])
    assert s["w1_snapshots"]["population"][0] == pytest.approx(s["w1_snapshots"]["sgd"][0])


def _fake_study(tmp_path, factor=2.0):
    """Cells written from synthetic arrays, so that ``finish`` has known answers.

    Coupled: d_2²(t_k) = k·0.01·f[s, r]/N with the same f for every N, so E d_2² = C(t)/N exactly.
    iid: configuration s has generator particles x_s at t = 0 and factor·x_s at t > 0, critic
    particles unchanged, so W_2² between two configurations grows by factor² in the generator term
    and not at all in the critic term.
    """
    spec = sweep.from_dict(tomllib.loads(TINY))
    rng = np.random.default_rng(3)
    f = np.exp(0.3 * rng.standard_normal((3, 3)))
    T = 3
    for cell in sweep.cells(spec):
        N, seed = cell.config.system.N, cell.config.run.seed
        r = np.random.default_rng(seed)
        x = r.standard_normal((N, 1, 3))
        w = r.uniform(-1, 1, (N, 3))
        gen = np.stack([x, factor * x, factor * x])[None].repeat(3, 0)   # [R, T, N, 1, 3]
        crit = np.stack([w, w, w])[None].repeat(3, 0)                    # [R, T, M, 3]
        s_idx = [c.config.run.seed for c in sweep.cells(spec) if c.config.system.N == N].index(seed)
        exact = np.stack([k * 0.01 * f[s_idx] / N for k in range(T)], axis=1)  # [R, T]
        arrays = {"t": np.array([0.0, 0.25, 0.5]), "snapshot_t": np.array([0.0, 0.25, 0.5]),
                  "snapshot_gen": gen, "snapshot_critic": crit,
                  "snapshot_d2_exact": exact, "snapshot_d2_pairing": 1.5 * exact,
                  "snapshot_d2_exact_generator": 0.25 * exact,
                  "snapshot_d2_exact_critic": 0.75 * exact}
        summary = {"group": f"N={N}", "timing": {k: 1.0 for k in nscaling.TIMING_KEYS},
                   "exact_le_pairing": True, "max_exact_over_pairing": 1 / 1.5,
                   "w1_snapshots": {"t": [0.0, 0.25, 0.5], "population": [1.0, 0.6, 0.4],
                                    "sgd": [1.0, 0.6, 0.4]}}
        sweep.write_cell(tmp_path / "cells" / cell.name, cell.config, arrays, summary)
    return spec, sweep.cells(spec), f


def test_finish_on_synthetic_cells_gives_the_known_answers(tmp_path):
    spec, cell_list, f = _fake_study(tmp_path)
    s = nscaling.finish(spec, cell_list, tmp_path, sweep.Progress())
    assert s["N"] == [8, 16] and s["configurations_per_N"] == [3, 3] and s["replicas"] == 3
    assert [p["t"] for p in s["per_T"]] == [0.25, 0.5] and s["T"] == 0.5
    assert s["horizons"]["w1_half"] == 0.5  # W_1 ratio 0.6 at 0.25, 0.4 at 0.5
    for k, p in enumerate(s["per_T"], start=1):
        assert p["slope"] == pytest.approx(-1.0, abs=1e-9)
        assert p["C"]["C"] == pytest.approx(k * 0.01 * f.mean(), rel=1e-12)
        assert p["generator_share"] == pytest.approx(0.25)
        assert p["N_range"] == [8, 16] and p["slope_without_smallest_N"] is None
        for r in p["rows"]:
            assert r["N_times_d2"] == pytest.approx(k * 0.01 * f.mean(), rel=1e-12)
            assert r["d2_pairing_mean"] == pytest.approx(1.5 * r["d2_exact_mean"])
    c1, c2 = (p["C"]["C"] for p in s["per_T"])
    assert c2 == pytest.approx(2 * c1, rel=1e-12)  # C(t) grows linearly here by construction
    i = s["iid"]
    assert i["N"] == [8, 16] and i["times"] == [0.5]
    for r in i["rows"]:
        assert r["pairs"] == 3 and r["initial_mean"] > 0 and r["initial_se"] > 0
        assert r["generator_factor_mean"][0] == pytest.approx(4.0, rel=1e-9)
        assert r["critic_factor_mean"][0] == pytest.approx(1.0, rel=1e-9)
        assert r["dynamics_mean"][0] == pytest.approx(r["total_mean"][0] - r["initial_mean"],
                                                      rel=1e-9)
        g0 = r["initial_generator_mean"]
        assert r["total_mean"][0] == pytest.approx(4 * g0 + r["initial_critic_mean"], rel=1e-9)
    assert i["bound_exponent"] == pytest.approx(-1 / 3)
    assert i["initial"]["slope"] < 0 and i["factor"][0] is not None
    for name in ("nscaling_fit.png", "nscaling_curves.png", "nscaling_iid.png"):
        assert (tmp_path / "figures" / name).exists()
    assert json.loads((tmp_path / "summary.json").read_text())["per_T"][0]["t"] == 0.25
    assert "iid" in nscaling.report(s)
    # The iid part is cached against the cells it read.
    assert nscaling.finish(spec, cell_list, tmp_path, sweep.Progress())["iid"] == i


@pytest.mark.slow
def test_study_at_horizons_where_the_law_moves(tmp_path):
    """A reduced copy of configs/nscaling.toml (three N, four configurations each)."""
    raw = tomllib.loads(CONFIG.read_text())
    keep = {32: [3200, 3201, 3202, 3203], 128: [12800, 12801, 12802, 12803],
            512: [51200, 51201, 51202, 51203]}
    raw["sweep"]["grid"] = [{"name": "N", "system.N": [n], "run.seed": s} for n, s in keep.items()]
    raw["run"]["snapshot_times"] = [0.0, 8.0, 12.0, 16.0]
    raw["iid"]["times"] = [16.0]
    s = sweep.run_sweep(sweep.from_dict(raw), tmp_path)["summary"]
    per_T = {p["t"]: p for p in s["per_T"]}
    # The law moves: W_1 to the target has fallen by half at t = 12 (population runs).
    assert s["horizons"]["w1_half"] is not None and s["horizons"]["w1_half"] <= 12.0
    assert per_T[16.0]["w1_ratio_median"] < 0.5
    # 002: E d_2^2(t) <= C(t)/N at the horizons where it moved; C(t) grows.
    for t in (12.0, 16.0):
        p = per_T[t]
        assert -1.35 <= p["slope"] <= -0.65, (t, p["slope"], p["stderr"])
        assert p["ci95_bootstrap"][0] < -0.8 and p["ci95_bootstrap"][1] > -1.2
    assert per_T[16.0]["C"]["C"] > per_T[8.0]["C"]["C"]
    assert per_T[16.0]["generator_share"] > 0.3  # the generator's part is no longer negligible
    assert s["all_exact_le_pairing"]
    # iid: the initial sampling part decays like an empirical measure in dimension 3 (between
    # -1/2 and the Gaussian -2/3, steeper than 002's bound exponent -1/3), and the dynamics' part
    # is reported apart.
    i = s["iid"]
    assert i["sampling_exponents"]["general"] == -0.5
    assert i["sampling_exponents"]["gaussian"] == pytest.approx(-2 / 3)
    assert -0.8 < i["initial"]["slope"] < -0.45
    assert len(i["dynamics"]) == 1 and "dynamics_mean" in i["rows"][0]
    assert (tmp_path / "figures" / "nscaling_iid.png").exists()
