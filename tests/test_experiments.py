"""Smoke tests of every ``experiments/`` script on a tiny preset, as a user runs them: a
subprocess from the repository root, exit 0, non-empty PNG figures, a numbers file whose key
entries are finite; and a bad option exits 2 with one line, no traceback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, script
from test_nscaling import TINY as TINY_NSCALING  # two N, a few steps: the plumbing

PNG = b"\x89PNG\r\n\x1a\n"


def assert_figures(folder: Path, at_least: int) -> None:
    figs = sorted(folder.rglob("*.png"))
    assert len(figs) >= at_least, figs
    for f in figs:
        data = f.read_bytes()
        assert data[:8] == PNG and len(data) > 2000, f


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.mark.slow  # the script's smoke test; the Dirac GAN itself: tests/test_dirac.py
def test_dirac(tmp_path):
    out = tmp_path / "dirac"
    res = script("dirac.py", out, "--smoke")
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out, 3)
    numbers = json.loads((out / "numbers.json").read_text())
    ratio = numbers["wgan/simultaneous_norm_ratio_per_step"]
    assert finite(ratio) and ratio == pytest.approx(numbers["wgan/simultaneous_norm_ratio_theory"],
                                                    rel=1e-9)


@pytest.mark.slow  # the script's smoke test; the toy game itself: tests/test_toy.py
def test_toy_orbits(tmp_path):
    out = tmp_path / "toy"
    res = script("toy_orbits.py", out, "--smoke")
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out, 5)
    numbers = json.loads((out / "numbers.json").read_text())
    keys = [k for k in numbers if k.startswith("small_orbit_period_theory_logistic")]
    assert keys and all(finite(numbers[k]) for k in keys)


@pytest.mark.slow  # in-process: tests/test_coagulation.py
def test_coagulation(tmp_path):
    out = tmp_path / "coag"
    res = script("coagulation.py", "--out", out, "--clips", "0.1", "1.0", "--n-critics", "1",
                 "--frames", "3", "--no-sgd", "--set", "run.T=0.5", "--set", "run.n_records=6")
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out, 3)
    table = json.loads((out / "table.json").read_text())
    assert len(table["rows"]) == 4 and all(finite(r["clip"]) for r in table["rows"])


@pytest.mark.slow  # in-process: tests/test_nscaling.py
def test_nscaling(tmp_path):
    config = tmp_path / "tiny.toml"
    # Each cell's run figures too: the coupled study draws them with the run's own figure code.
    config.write_text(TINY_NSCALING.replace("cell_figures = false", "cell_figures = true"))
    out = tmp_path / "ns"
    res = script("nscaling.py", config, "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out / "figures", 1)
    assert_figures(out / "cells", 6)  # observables.png and overview.png of every cell
    summary = json.loads((out / "summary.json").read_text())
    assert summary["N"] == [8, 16] and finite(summary["fitted_slope"])


def test_a_bad_option_is_one_line(tmp_path):
    res = script("coagulation.py", "--out", tmp_path / "x", "--set", "system.N=0")
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "system.N" in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_mmd_gaussian(tmp_path):
    """The noise-injection study on 60 particles and 200 iterations; rerun reads the runs back."""
    out = tmp_path / "mmd"
    tiny = ["--out", out, "--set", "system.N=60", "--set", "system.M=60", "--set", "run.T=2000",
            "--set", "run.replicas=2", "--set", "run.n_records=5",
            "--set", "run.snapshot_times=[0.0, 2000.0]", "--set", "system.noise.k=50"]
    res = script("mmd_gaussian.py", *tiny)
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out, 1)
    numbers = json.loads((out / "numbers.json").read_text())
    for v in ("noise", "no_noise"):
        assert finite(numbers[v]["final_half_mmd2"]) and len(
            numbers[v]["final_half_mmd2_per_seed"]) == 2
    mtime = (out / "noise" / "summary.json").stat().st_mtime
    assert script("mmd_gaussian.py", *tiny).returncode == 0
    assert (out / "noise" / "summary.json").stat().st_mtime == mtime  # read back, not rerun
    bad = script("mmd_gaussian.py", "--out", tmp_path / "bad", "--set", "system.lr=-1")
    assert bad.returncode != 0 and "system.lr" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_kale_lambda(tmp_path):
    out = tmp_path / "kale"
    res = script("kale_lambda.py", "--out", out, "--lambdas", "0.1", "100", "--set",
                 "system.N=40", "--set", "system.M=40", "--set", "run.T=0.5", "--set",
                 "run.snapshot_times=[0.0, 0.5]", "--set", "run.n_records=5")
    assert res.returncode == 0, res.stderr[-2000:]
    assert_figures(out, 2)
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers) == {"kale_lambda=0.1", "kale_lambda=100", "mmd", "langevin"}
    assert all(finite(v["final_half_mmd2"]) and finite(v["w2"]) for v in numbers.values())


@pytest.mark.slow
def test_mmd_chaos_sweep(tmp_path):
    """The propagation-of-chaos sweep on three N and three seeds: a slope with its interval."""
    out = tmp_path / "chaos"
    res = subprocess.run([sys.executable, "-m", "meanfield.cli", "sweep",
                          str(ROOT / "configs" / "mmd_chaos.toml"), "--out", str(out),
                          "--set", "system.M=100", "--set", "run.T=2.0",
                          "--set", "run.snapshot_times=[0.0, 2.0]"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    lo, hi = numbers["ci95"]
    assert finite(numbers["fitted_slope"]) and lo < numbers["fitted_slope"] < hi


@pytest.mark.slow
def test_jsd_three_ways(tmp_path):
    """The three-ways study to T = 1 with a small GAN and 300 particles: numbers.json in the
    issue's layout, the PDE conservative and JSD non-increasing; a rerun reads everything back."""
    out = tmp_path / "three"
    tiny = ["--out", out, "--particles", "300", "--set", "run.T=1.0", "--set", "run.n_records=11",
            "--set", "run.snapshot_times=[0.0, 0.5, 1.0]", "--set", "run.replicas=1",
            "--set", "system.N=16", "--set", "system.M=16", "--set", "system.initial.steps=300",
            "--set", "system.initial.critic_rounds=10", "--set", "system.dynamics.n_critic=3",
            "--set", "system.dynamics.fit_steps=3", "--set", "system.dynamics.batch_size=128"]
    res = script("jsd_three_ways.py", *tiny)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "three_ways.png").stat().st_size > 10_000
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["t"] == [0.0, 0.5, 1.0]
    for leg in ("pde", "particles", "gan"):
        assert set(numbers[leg]) >= {"jsd", "mean", "var"}
        assert all(finite(v) for k in ("jsd", "mean", "var") for v in numbers[leg][k])
    assert numbers["pde"]["jsd"][0] == pytest.approx(0.3512, abs=1e-3)
    assert numbers["checks"]["pde_jsd_nonincreasing"] and numbers["checks"]["pde_mass_drift"] < 1e-10
    mtimes = [(out / f).stat().st_mtime for f in ("pde.npz", "particles.npz", "gan/summary.json")]
    assert script("jsd_three_ways.py", *tiny).returncode == 0
    assert [(out / f).stat().st_mtime for f in ("pde.npz", "particles.npz",
                                                 "gan/summary.json")] == mtimes
    bad = script("jsd_three_ways.py", "--out", tmp_path / "bad", "--set", "system.dynamics.scheme=simultaneous")
    assert bad.returncode != 0 and "system.dynamics.scheme" in bad.stderr
    assert "Traceback" not in bad.stderr
