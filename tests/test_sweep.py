"""Sweeps: config format, vmapped cells equal standalone runs, resume after kill -9, refusal to mix."""

import os
import re
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest

from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.studies import sweep

BASE = """
[system]
kind = "wgan"
N = 8
M = 8
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
snapshot_times = [0.5]
replicas = 2
"""

SWEEP = BASE + """
[sweep]
cell_figures = false
[sweep.axes]
"system.N" = [8, 12]
"system.dynamics.n_critic" = [1, 2]
"""


def _spec(text=SWEEP, overrides=()):
    return sweep.from_dict(tomllib.loads(text), list(overrides))


def test_cells_and_groups():
    spec = _spec()
    cells = sweep.cells(spec)
    assert [c.name for c in cells] == ["N=8_n_critic=1", "N=8_n_critic=2", "N=12_n_critic=1",
                                       "N=12_n_critic=2"]
    # n_c is vmapped: one compiled group per N.
    assert [[c.name for c in g] for g in sweep.groups(cells)] == [
        ["N=8_n_critic=1", "N=8_n_critic=2"], ["N=12_n_critic=1", "N=12_n_critic=2"]]
    # A union of grids runs a shared cell once and ties M to N.
    spec = _spec(BASE + """
[sweep]
M_over_N = 2.0
[[sweep.grid]]
"system.N" = [8, 12]
[[sweep.grid]]
"system.N" = [8]
"system.dynamics.batch_size" = [2, 4]
""")
    cells = sweep.cells(spec)
    assert len(cells) == 3 and [c.config.system.M for c in cells] == [16, 24, 16]
    assert cells[0].grids == ("grid0", "grid1")


@pytest.mark.parametrize("bad, key", [
    ('[sweep]\nfoo = 1\n[sweep.axes]\n"system.N" = [8]', "sweep.foo"),
    ('[sweep.axes]\n"system.Q" = [8]', "system.Q"),
    ('[sweep.axes]\n"modl.N" = [8]', "modl.N"),
    ('[sweep]\nstudy = "x"\n[sweep.axes]\n"system.N" = [8]', "sweep.study"),
    ('[sweep.axes]\n"system.N" = [0]', "system.N"),
])
def test_bad_sweep_configs_name_the_key(bad, key):
    with pytest.raises(C.ConfigError, match=key.replace(".", r"\.")):
        _spec(BASE + bad)


def test_vmapped_cells_equal_standalone_runs_and_resume(tmp_path):
    spec = _spec()
    info = sweep.run_sweep(spec, tmp_path)
    assert info["computed"] == 4 and info["groups"] == 2
    rows = sweep.read_csv(tmp_path / "sweep.csv")
    assert [r["cell"] for r in rows] == [c.name for c in sweep.cells(spec)]
    assert list((tmp_path / "figures").glob("*.png"))
    # Each cell of a vmapped group equals the same config run on its own by experiment.run.
    for cell in sweep.cells(spec)[1:2]:
        alone = experiment.run(cell.config)
        saved = results.read_run(tmp_path / "cells" / cell.name)
        assert saved.config_text == C.dumps(cell.config)
        for k in ("w2", "payoff"):
            np.testing.assert_allclose(saved.metrics[k], alone.trajectory.observables[k],
                                       rtol=1e-5, atol=1e-7)
    # Rerunning the same command skips every finished cell.
    assert sweep.run_sweep(spec, tmp_path)["computed"] == 0
    # A changed config is refused, naming what changed.
    with pytest.raises(sweep.SweepConfigChanged, match="system.dynamics.lr"):
        sweep.run_sweep(_spec(overrides=["system.dynamics.lr=0.5"]), tmp_path)


def _numbers(path):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in sweep.read_csv(path)]


@pytest.mark.slow  # 50 s; sweep resume is also checked by test_vmapped_cells_equal_standalone_runs_and_resume
def test_kill_and_resume_gives_uninterrupted_numbers(tmp_path):
    text = SWEEP.replace('"system.N" = [8, 12]', '"system.N" = [8, 12, 16]')
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(text)
    ref = tmp_path / "ref"
    sweep.run_sweep(_spec(text), ref)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "meanfield.cli", "sweep", str(cfg), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and not (out / "cells" / "N=8_n_critic=2" / "summary.json").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [p for p in (out / "cells").iterdir() if (p / "summary.json").exists()]
    assert 2 <= len(done) < 6, "the kill should land mid-sweep"
    assert not (out / "sweep.csv").exists()

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    # The rerun reuses every cell the killed run finished and computes only the rest.
    reused = int(re.search(r"(\d+) reused", res.stdout).group(1))
    assert reused == len(done), res.stdout
    assert _numbers(out / "sweep.csv") == _numbers(ref / "sweep.csv")
    assert not list((out / "cells").glob("*.partial"))


@pytest.mark.slow  # 14 s
def test_sweep_of_a_system_that_is_not_a_pytree(tmp_path):
    """The toy game is not a pytree: its cells run one per program (no stacking), and each cell
    holds exactly the numbers of a standalone run of its config."""
    text = """
[system]
kind = "toy"
N = 3
M = 2
dt = 0.05
theta_spread = 0.1
omega_spread = 0.1
[run]
T = 1.0
n_records = 5
replicas = 2
dtype = "float64"
[sweep]
cell_figures = false
[sweep.axes]
"system.theta0" = [-1.0, -2.0]
"run.seed" = [0, 1]
"""
    spec = _spec(text)
    assert [len(g) for g in sweep.groups(sweep.cells(spec))] == [1, 1, 1, 1]
    sweep.run_sweep(spec, tmp_path)
    for cell in sweep.cells(spec):
        saved = results.read_run(tmp_path / "cells" / cell.name)
        alone = experiment.run(cell.config, None).trajectory
        for k in ("theta_mean", "omega_mean", "energy"):
            np.testing.assert_array_equal(saved.metrics[k], alone.observables[k], err_msg=k)
