"""The N-scaling study: the fit, the coupled slope on a reduced grid, and the iid pipeline."""

import json
import tomllib

import numpy as np
import pytest

from meanfield import nscaling, sweep

REDUCED = """
[model]
N = 64
M = 64
[dynamics]
lr = 4.0
batch_size = 8
clip = 1.0
[run]
T = 1.0
n_records = 3
snapshot_times = [0.0, 0.5, 1.0]
replicas = 32
shared_init = true
n_eval = 64
quadrature_nodes = 12
[sweep]
study = "coupled"
M_over_N = 1.0
cell_figures = false
[[sweep.grid]]
name = "N"
"model.N" = [64, 256, 1024]
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
    # Scatter beyond the stated errors inflates the standard error.
    noisy = mean * np.exp(np.array([0.3, -0.3, 0.3, -0.3, 0.3]))
    assert nscaling.fit_power_law(n, noisy, 0.01 * noisy)["stderr"] > 0.05


def test_coupled_reduced_grid_slope_is_minus_one(tmp_path):
    spec = sweep.from_dict(tomllib.loads(REDUCED))
    info = sweep.run_sweep(spec, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert info["computed"] == 3
    # 002: E d_2^2(T) <= C/N; the fitted slope must be -1 within the acceptance band.
    assert -1.25 <= s["fitted_slope"] <= -0.75, (s["fitted_slope"], s["fitted_slope_stderr"])
    assert 0 < s["fitted_slope_stderr"] < 0.25
    assert s["all_exact_le_pairing"]
    assert [r["N"] for r in s["per_N"]] == [64, 256, 1024]
    for r in s["per_N"]:
        assert 0 < r["d2_exact_mean"] <= r["d2_pairing_mean"] * (1 + 1e-9)
        assert r["d2_exact_se"] > 0
    for name in ("nscaling_fit.png", "nscaling_curves.png"):
        assert (tmp_path / "figures" / name).exists()
    # Cells carry the d_2² of every replica at every snapshot; t = 0 is exactly 0 (same particles).
    cell = np.load(tmp_path / "cells" / "N=64" / "metrics.npz")
    assert cell["snapshot_d2_exact"].shape == (32, 3)
    assert np.all(cell["snapshot_d2_exact"][:, 0] == 0)
    assert np.all(cell["snapshot_d2_exact"] <= cell["snapshot_d2_pairing"] * (1 + 1e-9))


@pytest.mark.slow
def test_iid_study_small(tmp_path):
    text = REDUCED.replace('"model.N" = [64, 256, 1024]', '"model.N" = [64, 128]') + """
[iid]
enabled = true
N = [8, 16, 32]
replicas = 4
N_ref = [128, 256]
dt_ref = [0.02, 0.01]
"""
    s = sweep.run_sweep(sweep.from_dict(tomllib.loads(text)), tmp_path)["summary"]["iid"]
    assert s["bound_exponent"] == pytest.approx(-1 / 3)
    assert -2.0 < s["exponent"] < 0.0
    assert s["reference_dt_change_over_min_d2"] < 0.05
    assert (tmp_path / "figures" / "nscaling_iid.png").exists()
