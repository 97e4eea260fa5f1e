"""Two processes on one machine (jax.distributed, CPU collectives through gloo, coordinator on
127.0.0.1) give the numbers of one process, for ``meanfield sweep`` and ``meanfield run``; only
process 0 writes."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

SWEEP = """
[system]
kind = "wgan"
N = 16
M = 12
[system.dynamics]
lr = 1.0
batch_size = 4
[system.numerics]
n_eval = 64
quadrature_nodes = 8
[run]
T = 0.5
n_records = 3
snapshot_times = [0.5]
replicas = 3
seed = 3
[sweep]
[sweep.axes]
"system.dynamics.clip" = [0.5, 1.0]
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _meanfield(*args, process=None, port=None, cwd=None):
    """``meanfield ARGS`` in a subprocess (one CPU device), optionally as process ``process`` of
    two; returns the Popen."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-m", "meanfield.cli", *map(str, args)]
    if process is not None:
        cmd += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                "--process-id", str(process)]
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _two(*args, cwd):
    port = _port()
    procs = [_meanfield(*args, process=i, port=port, cwd=cwd) for i in (0, 1)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0, e[-3000:]
    return outs


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(f)]


def _same_metrics(path_a, path_b):
    a, b = np.load(path_a), np.load(path_b)
    assert sorted(a.files) == sorted(b.files) and a["w1"].shape[0] == 3
    for k in a.files:
        # Each replica runs the same ops on its own device; allow float32 reassociation only.
        np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_a_two_process_sweep_gives_the_numbers_of_one_process(tmp_path):
    # Two cells × 3 replicas over 2 processes with one device each (padded to 8 replicas): the
    # cell c = 1 equals a one-process run of that config, and process 1 wrote nothing.
    (tmp_path / "s.toml").write_text(SWEEP)
    run = SWEEP.split("[sweep]")[0].replace("batch_size = 4", "batch_size = 4\nclip = 1.0")
    (tmp_path / "r.toml").write_text(run)
    single = _meanfield("run", "r.toml", "--out", "one", cwd=tmp_path)
    outs = _two("sweep", "s.toml", "--out", "two", cwd=tmp_path)
    _, err = single.communicate(timeout=300)
    assert single.returncode == 0, err[-3000:]
    assert "process 1 of 2: done" in outs[1][0] and "2 device(s)" in outs[0][0]
    rows = _rows(tmp_path / "two" / "sweep.csv")
    assert [r["cell"] for r in rows] == ["clip=0.5", "clip=1.0"]
    _same_metrics(tmp_path / "one" / "metrics.npz",
                  tmp_path / "two" / "cells" / "clip=1.0" / "metrics.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "r.toml", "s.toml", "two"]


@pytest.mark.slow  # three more processes
def test_a_two_process_run_gives_the_numbers_of_one_process(tmp_path):
    (tmp_path / "r.toml").write_text(SWEEP.split("[sweep]")[0])
    single = _meanfield("run", "r.toml", "--out", "one", cwd=tmp_path)
    outs = _two("run", "r.toml", "--out", "two", cwd=tmp_path)
    _, err = single.communicate(timeout=300)
    assert single.returncode == 0, err[-3000:]
    assert "process 1 of 2: done" in outs[1][0]
    _same_metrics(tmp_path / "one" / "metrics.npz", tmp_path / "two" / "metrics.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "r.toml", "two"]


def test_partial_coordinates_are_refused(tmp_path):
    p = _meanfield("run", ROOT / "configs" / "quickstart.toml", "--out", tmp_path / "x",
                   "--coordinator", "127.0.0.1:1")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "--num-processes" in err and "Traceback" not in err


@pytest.mark.slow  # about 90 s: a stopped two-process run, its resumption, a one-process reference
def test_a_terminated_two_process_run_resumes_to_the_numbers_of_one_process(tmp_path):
    import signal
    import time

    long = (SWEEP.split("[sweep]")[0].replace("T = 0.5", "T = 60.0")
            .replace("n_records = 3", "n_records = 121\nchunk_records = 1")
            .replace("snapshot_times = [0.5]", "snapshot_times = [60.0]"))
    (tmp_path / "r.toml").write_text(long)
    port = _port()
    procs = [_meanfield("run", "r.toml", "--out", "two", process=i, port=port, cwd=tmp_path)
             for i in (0, 1)]
    checkpoint = tmp_path / "two.partial" / "checkpoint.npz"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoint.exists()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # A process stopped inside a collective can wait for its peer (1 run in 5 here);
            # a cluster launcher kills it after its grace period, so does the test.
            p.kill()
            p.communicate()
        codes.append(p.returncode)
    assert codes[0] in (143, -signal.SIGKILL) and 143 in codes, codes
    assert checkpoint.exists() and not (tmp_path / "two").exists()
    _two("run", "r.toml", "--out", "two", cwd=tmp_path)
    single = _meanfield("run", "r.toml", "--out", "one", cwd=tmp_path)
    _, err = single.communicate(timeout=300)
    assert single.returncode == 0, err[-3000:]
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert 0 < summary["resumed_at_record"] < 120
    _same_metrics(tmp_path / "one" / "metrics.npz", tmp_path / "two" / "metrics.npz")
