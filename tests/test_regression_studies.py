"""The studies of the regression kind (docs/regression.md): propagation of chaos through the sweep
study ``chaos`` and the noise-injection experiment.

Fast: the chaos study's checks name the field that makes the flow random; the coupled distance
sums over a neuron's ``[K, L+2]`` coordinates as over a point's; the coupling is synchronous (at
t = 0 every N is at distance 0, and N = N_ref reproduces the reference to round-off at every
time); from near a point mass the plain flow keeps the neurons together while noise injection
separates them and lowers the energy (slow: in-process). Slow (subprocess, as a user runs them):
the script and the sweep on tiny settings, a rerun reading everything back.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT
from meanfield.io import config as C
from meanfield.studies import flows, regression, sweep

SYSTEM = {"kind": "regression", "N": 16, "teacher": {"seed": 2},
          "dynamics": {"lr": 2.0}, "numerics": {"quadrature_nodes": 16, "mmd_form": False}}


def chaos_spec(system: dict, n=(4, 8), n_ref=8, T=20.0) -> sweep.SweepSpec:
    raw = {"sweep": {"study": "chaos", "cell_figures": False,
                     "axes": {"system.N": list(n), "run.seed": [0, 1]}},
           "chaos": {"n_ref": n_ref},
           "system": {**SYSTEM, **system},
           "run": {"T": T, "n_records": 3, "replicas": 1, "snapshot_times": [0.0, T / 2, T]}}
    return sweep.from_dict(raw)


@pytest.mark.parametrize("change, field", [({"dynamics": {"population": False}},
                                             "system.dynamics.population"),
                                            ({"noise": {"schedule": "constant", "beta": 0.1}},
                                             "system.noise.schedule")])
def test_chaos_refuses_a_random_regression_flow(change, field):
    """SGD and noise injection make the flow random: no synchronous coupling; the error names
    the field."""
    with pytest.raises(C.ConfigError) as e:
        chaos_spec(change)
    assert str(e.value).startswith(field)


def test_coupled_distance_sums_a_neurons_coordinates():
    """[cells, S, N, K, L+2] neurons and [cells, S, N, d] points: Σ over the coordinates, mean
    over i ≤ N, each against the first N of the reference."""
    rng = np.random.default_rng(0)
    x, ref = rng.standard_normal((2, 3, 5, 2, 4)), rng.standard_normal((2, 3, 9, 2, 4))
    want = np.array([[np.mean([np.sum((x[c, s, i] - ref[c, s, i]) ** 2) for i in range(5)])
                      for s in range(3)] for c in range(2)])
    assert np.allclose(flows.coupled_msd(x, ref), want, rtol=1e-12)
    pts = x.reshape(2, 3, 5, 8)
    assert np.allclose(flows.coupled_msd(pts, ref.reshape(2, 3, 9, 8)), want, rtol=1e-12)


def test_chaos_coupling_is_synchronous(tmp_path):
    """Two seeds, N = 4 and N = N_ref = 8: the distance is 0 at t = 0 for every N; N = N_ref
    follows the reference to round-off; N = 4 drifts away, and the reference's energy falls."""
    spec = chaos_spec({})
    with jax.enable_x64(False):
        res = sweep.run_sweep(spec, tmp_path / "c")
    numbers = res["summary"]
    msd = {c.config.system.N: np.asarray(sweep.read_cells([c], tmp_path / "c")[0]
                                          .summary["chaos"]["msd"])
           for c in sweep.cells(spec) if c.config.run.seed == 1}
    assert msd[4][0] == 0.0 and msd[8][0] == 0.0
    assert np.max(msd[8]) < 1e-10 and msd[4][-1] > 1e-4
    e = numbers["reference_energy"]
    assert e["T"] < 0.5 * e["t0"]
    assert [p["t"] for p in numbers["per_t"]] == [10.0, 20.0]


@pytest.mark.slow  # 20 s in-process (two runs with their figures); the script's test: below
def test_noise_leaves_the_point_mass_the_plain_flow_keeps(tmp_path):
    """From every neuron within 1e-5 of θ = 0, 30 steps: without noise the neurons stay within
    1e-2 of each other on the one-neuron plateau (measured 8e-4); noise injection spreads them
    (measured 4.5) and lowers the energy more than tenfold below the plateau (measured 48-fold).
    A rerun reads both runs back."""
    raw = {"system": {**SYSTEM, "init": {"a_std": 1e-5, "b_std": 1e-5, "c_std": 1e-5},
                      "noise": {"schedule": "halving", "beta": 1.0, "k": 20}},
           "run": {"T": 60.0, "n_records": 4, "replicas": 2, "snapshot_times": [0.0, 60.0]}}
    cfg = C.from_dict(raw)
    with jax.enable_x64(False):
        numbers = regression.noise_injection(cfg, tmp_path / "n")
        mtime = (tmp_path / "n" / "noise" / "summary.json").stat().st_mtime
        assert regression.noise_injection(cfg, tmp_path / "n") == numbers
    assert (tmp_path / "n" / "noise" / "summary.json").stat().st_mtime == mtime
    plain, noisy = numbers["no_noise"], numbers["noise"]
    assert plain["final_spread"] < 1e-2 < 0.1 < noisy["final_spread"]
    assert numbers["ratio_no_noise_over_noise"] > 10
    assert len(noisy["final_energy_per_seed"]) == 2 and plain["iterations"] == 30
    assert plain["initial_energy"] == pytest.approx(noisy["initial_energy"], rel=1e-6)
    assert (tmp_path / "n" / "noise_injection.png").stat().st_size > 2000


# -- the script and the sweep, as a user runs them ----------------------------------------------

def run(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_regression_noise_script(tmp_path):
    """The script on 16 neurons and 20 steps: numbers.json and the figure; a rerun reads the runs
    back; a bad option and a config without noise are one line each."""
    out = tmp_path / "noise"
    tiny = ["--out", out, "--set", "system.N=16", "--set", "run.T=40.0", "--set",
            "run.replicas=2", "--set", "run.n_records=5", "--set", "run.snapshot_times=[0.0, 40.0]",
            "--set", "system.noise.k=5"]
    script = ROOT / "experiments" / "regression_noise.py"
    res = run(script, *tiny)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    for v in ("noise", "no_noise"):
        assert math.isfinite(numbers[v]["final_energy"])
        assert len(numbers[v]["final_energy_per_seed"]) == 2
    assert (out / "noise_injection.png").read_bytes()[:4] == b"\x89PNG"
    mtime = (out / "noise" / "summary.json").stat().st_mtime
    assert run(script, *tiny).returncode == 0
    assert (out / "noise" / "summary.json").stat().st_mtime == mtime  # read back, not rerun
    for bad, field in (("system.dynamics.lr=-1", "system.dynamics.lr"),
                       ("system.noise.schedule=none", "system.noise.schedule")):
        res = run(script, "--out", tmp_path / "bad", "--set", bad)
        lines = res.stderr.strip().splitlines()
        assert res.returncode != 0 and len(lines) == 1 and field in lines[0], res.stderr


@pytest.mark.slow
def test_regression_chaos_sweep(tmp_path):
    """The shipped sweep (five N, eight seeds, N_ref = 4096) to T = 4: a slope inside its
    intervals; a rerun reuses every cell."""
    out = tmp_path / "chaos"
    args = ["-m", "meanfield.cli", "sweep", ROOT / "configs" / "regression_chaos.toml", "--out",
            out, "--set", "run.T=4.0", "--set", "run.snapshot_times=[0.0, 4.0]"]
    res = run(*args)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    lo, hi = numbers["ci95"]
    assert math.isfinite(numbers["fitted_slope"]) and lo < numbers["fitted_slope"] < hi
    assert numbers["N"] == [32, 64, 128, 256, 512] and numbers["seeds"] == 8
    res = run(*args)
    assert res.returncode == 0 and "(0 computed" in res.stdout + res.stderr, res.stdout
