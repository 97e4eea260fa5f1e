"""Hostile input through the command line, in a subprocess as a user would meet it.

Every case asserts the exit status (2 bad input, 3 diverged, 130/143 stopped), one line on stderr
naming the key, file, folder or steps, no traceback, and that nothing outside the output folder
changed (a user's files above all).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from conftest import ROOT

TINY = """
[system]
kind = "wgan"
N = 16
M = 16

[system.dynamics]
lr = 1.0
clip = 1.0
batch_size = 4

[system.numerics]
n_eval = 64
quadrature_nodes = 8

[run]
T = 2.0
n_records = 5
snapshot_times = [0.0, 2.0]
replicas = 2
seed = 0
"""


def cli(*args, cwd: Path, timeout: float = 120, wait: bool = True):
    """``meanfield ARGS`` in a subprocess (the installed entry point's module)."""
    cmd = [sys.executable, "-m", "meanfield.cli", *map(str, args)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` (outside the folders named in ``skip``) with its size and bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not any(rel == s or rel.startswith(s + "/") for s in skip):
            out[rel] = (p.stat().st_size, p.read_bytes())
    return out


def assert_bad_input(proc, *needles: str, code: int = 2) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def work(tmp_path):
    """A user's folder: a tiny config and a file of the user's own."""
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "notes.txt").write_text("my notes")
    return tmp_path


CASES = [
    # (arguments, exit status, words the one line must contain)
    (["run", "."], 2, ["is a folder, not a config file"]),
    (["run", "tiny.toml", "--set", "run.seed=9223372036854775808"], 2, ["run.seed"]),
    (["run", "tiny.toml", "--set", "run.seed=-1"], 2, ["run.seed"]),
    (["run", "tiny.toml", "--set", "system.numerics.n_eval=1"], 2,
     ["system.numerics.n_eval", ">= 16"]),
    (["run", "tiny.toml", "--set", "system.target.means=[[[1.0]], [[2.0]]]"], 2, ["system.target.means"]),
    (["run", "tiny.toml", "--set", "run.snapshot_times=[-1.0]"], 2, ["run.snapshot_times"]),
    (["run", "tiny.toml", "--out", "notes.txt"], 2, ["notes.txt", "not a folder"]),
    (["run", "tiny.toml", "--out", "."], 2, ["current folder"]),
    (["run", "tiny.toml", "--out", ".."], 2, ["current folder"]),
    (["run", "tiny.toml", "--out", "notes.txt/sub"], 2, ["notes.txt", "not a folder"]),
    (["run", "tiny.toml", "--set", "system.N=1000000000", "--set", "run.T=1e-6"], 2,
     ["needs about", "GiB"]),
    (["run", "tiny.toml", "--set", "run.T=1e12"], 2, ["run.T", "steps"]),
    (["run", "tiny.toml", "--set", "system.dynamics.lr=1e30"], 3, ["non-finite", "step"]),
    (["bench", "--N", "-5"], 2, ["--N", "positive"]),
    (["bench", "--N", "0"], 2, ["--N", "positive"]),
    (["bench", "--replicas", "0"], 2, ["--replicas", "positive"]),
    (["plot", "nowhere"], 2, ["nowhere", "not a finished run"]),
    (["run", "tiny.toml", "--out", "mine", "--force"], 2, ["mine", "not created by meanfield"]),
    (["sweep", "sweep.toml", "--out", "mine", "--force"], 2, ["mine", "not created by meanfield"]),
]

#: Runs every case through the CLI's entry point in one subprocess (one JAX start-up instead of
#: one per case): the exit status, stderr, and any traceback an uncaught exception would print.
DRIVER = """
import contextlib, io, json, sys, traceback
from meanfield.cli import main
out = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code
        except BaseException:
            code = "uncaught"
            traceback.print_exc()
    out.append({"code": code, "stderr": err.getvalue()})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory):
    """(results of every case, files of the folder before, after), from one subprocess."""
    work = tmp_path_factory.mktemp("user")
    (work / "tiny.toml").write_text(TINY)
    (work / "notes.txt").write_text("my notes")
    (work / "sweep.toml").write_text(TINY + '\n[sweep]\n[sweep.axes]\n"run.seed" = [0, 1]\n')
    (work / "mine" / "sub").mkdir(parents=True)
    (work / "mine" / "data.csv").write_text("1,2,3")
    (work / "mine" / "sub" / "x.txt").write_text("x")
    before = tree(work)
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([c[0] for c in CASES])],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), before, tree(work)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_exits_cleanly(bad_input_results, i):
    results, before, after = bad_input_results
    _, code, needles = CASES[i]
    got = results[i]
    assert_bad_input(subprocess.CompletedProcess([], got["code"], "", got["stderr"]), *needles,
                     code=code)


def test_bad_input_writes_nothing(bad_input_results):
    _, before, after = bad_input_results
    assert after == before  # nothing written, nothing half-written, nothing removed


def test_force_replaces_only_meanfield_folders_and_discards_a_bad_checkpoint(work):
    staged = work / "r.partial"
    staged.mkdir()
    (staged / ".meanfield").write_text('{"kind": "run"}')
    (staged / "checkpoint.npz").write_bytes(b"not a zip file")
    assert_bad_input(cli("run", "tiny.toml", "--out", "r", cwd=work),
                     "checkpoint.npz", "corrupted checkpoint", "--force")
    assert (staged / "checkpoint.npz").exists()
    done = cli("run", "tiny.toml", "--out", "r", "--force", cwd=work)
    assert done.returncode == 0, done.stderr
    assert not staged.exists() and (work / "r" / "summary.json").exists()
    assert json.loads((work / "r" / ".meanfield").read_text())["kind"] == "run"

    # Corrupted results are named by `plot`.
    metrics = (work / "r" / "metrics.npz").read_bytes()
    (work / "r" / "metrics.npz").write_bytes(b"garbage")
    assert_bad_input(cli("plot", "r", cwd=work), "metrics.npz", "unreadable")
    (work / "r" / "metrics.npz").write_bytes(metrics)
    (work / "r" / "summary.json").write_text("{not json")
    assert_bad_input(cli("plot", "r", cwd=work), "summary.json", "unreadable")

    # A finished run of another config: refused without --force, replaced with it.
    (work / "tiny2.toml").write_text(TINY.replace("seed = 0", "seed = 1"))
    assert_bad_input(cli("run", "tiny2.toml", "--out", "r", cwd=work), "different config")
    assert cli("run", "tiny2.toml", "--out", "r", "--force", cwd=work).returncode == 0
    assert "seed = 1" in (work / "r" / "config.toml").read_text()
    # A run folder is not a sweep folder, even with --force.
    (work / "sweep.toml").write_text(TINY + '\n[sweep]\n[sweep.axes]\n"run.seed" = [0, 1]\n')
    before = tree(work)
    assert_bad_input(cli("sweep", "sweep.toml", "--out", "r", "--force", cwd=work),
                     "holds a meanfield run, not a sweep")
    assert tree(work) == before


def test_interrupted_staging_of_another_config_is_not_discarded_silently(work):
    staged = work / "r.partial"
    staged.mkdir()
    (staged / ".meanfield").write_text('{"kind": "run"}')
    np.savez(staged / "checkpoint.npz", leaf_0=np.zeros(3), records_done=np.asarray(1),
             config_text=np.asarray("another config"))
    assert_bad_input(cli("run", "tiny.toml", "--out", "r", cwd=work), "different config")
    assert (staged / "checkpoint.npz").exists()


def _wait_for(path: Path, proc, timeout: float = 120) -> None:
    t_end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < t_end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_command_into_a_folder_in_use_is_refused(work):
    from meanfield.io import folders

    with folders.owned(work / "r.partial", "run"):
        before = tree(work)
        proc = cli("run", "tiny.toml", "--out", "r", cwd=work)
        assert_bad_input(proc, "r.partial", "in use by process", str(os.getpid()))
        assert tree(work) == before
    (work / "s").mkdir()
    (work / "s" / ".meanfield").write_text('{"kind": "sweep"}')
    (work / "sweep.toml").write_text(TINY + '\n[sweep]\n[sweep.axes]\n"run.seed" = [0, 1]\n')
    with folders.owned(work / "s", "sweep"):
        proc = cli("sweep", "sweep.toml", "--out", "s", "--force", cwd=work)
        assert_bad_input(proc, "in use by process")
        assert (work / "s" / ".meanfield").exists()


LONG = ["--set", "run.T=3000", "--set", "run.n_records=301", "--set", "run.chunk_records=1",
        "--set", "run.snapshot_times=[0.0, 3000.0]"]


def _stop(work: Path, sig, code: int, word: str) -> tuple[float, int]:
    """Start a long run, stop it with ``sig`` right after its first checkpoint, check the exit;
    returns the checkpoint's (stepping seconds, records done)."""
    # Many small chunks: the signal lands mid-run.
    first = cli("run", "tiny.toml", *LONG, "--out", "r", cwd=work, wait=False)
    _wait_for(work / "r.partial" / "checkpoint.npz", first)
    first.send_signal(sig)
    out, err = first.communicate(timeout=120)
    assert first.returncode == code, (out, err)
    assert "Traceback" not in err
    stop_line = [line for line in err.splitlines() if line.strip()][-1]
    assert stop_line.startswith(word) and "rerun the same command to resume" in stop_line
    assert not (work / "r").exists() and (work / "r.partial" / "checkpoint.npz").exists()
    with np.load(work / "r.partial" / "checkpoint.npz") as z:
        seconds, records = float(z["run_seconds"]), int(z["records_done"])
    assert 0 < records < 300
    return seconds, records


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"),
                                           (signal.SIGINT, 130, "interrupted")])
def test_a_stopped_run_says_so_and_keeps_its_checkpoint(work, sig, code, word):
    _stop(work, sig, code, word)


@pytest.mark.slow  # about 50 s: a stopped run, its resumption, and an uninterrupted reference
def test_a_terminated_run_resumes_to_the_same_numbers(work):
    seconds_before, records_before = _stop(work, signal.SIGTERM, 143, "terminated")
    resumed = cli("run", "tiny.toml", *LONG, "--out", "r", cwd=work)
    assert resumed.returncode == 0, resumed.stderr
    s = json.loads((work / "r" / "summary.json").read_text())
    assert s["resumed_at_record"] == records_before
    # steps/s counts the stepping time of both sessions, not only the resumed part.
    assert s["run_seconds"] > seconds_before
    assert s["steps_per_second"] == pytest.approx(s["steps"] / s["run_seconds"])
    assert not (work / "r" / ".lock").exists() and not (work / "r.partial").exists()
    whole = cli("run", "tiny.toml", *LONG, "--out", "whole", cwd=work)
    assert whole.returncode == 0, whole.stderr
    with np.load(work / "r" / "metrics.npz") as a, np.load(work / "whole" / "metrics.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:  # same machine, same program: bitwise
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_readme_python_example_runs_as_printed(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    block = text.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "results" / "quick" / "summary.json").exists()
    assert np.isfinite(namespace["w1"]).all() and namespace["traj"].observables["w1"].ndim == 2


def test_one_seed_gives_the_same_initial_particles_in_float32_and_float64():
    import meanfield as mf

    def initial(dtype):
        cfg = mf.load_config(None, [f"run.dtype={dtype}", "system.N=32", "system.M=16",
                                    "system.init.a_mean=0.3", "system.init.beta_std=2.0"])
        with jax.enable_x64(dtype == "float64"):
            system = mf.build_system(cfg)
            keys, _ = mf.replica_keys(cfg.run.seed, 2)
            state = jax.vmap(system.init)(keys)
            return np.asarray(state.gen), np.asarray(state.crit)

    g32, c32 = initial("float32")
    g64, c64 = initial("float64")
    assert g64.dtype == np.float64 and g32.dtype == np.float32
    # The same draws, cast: they differ only by the float32 rounding of mean + std·z.
    np.testing.assert_allclose(g64, g32, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c64, c32, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
@pytest.mark.parametrize("T", [3.0, 300.0])
def test_every_shipped_config_takes_another_horizon(path, T):
    # `--set run.T=...` on any shipped config gives a valid run: snapshot times beyond T are
    # dropped (with a note), the run ends at T or at the first record after it.
    import meanfield as mf
    from meanfield.studies import sweep
    from meanfield.io.experiment import notes_for, precision, schedule_for

    if "[sweep" in path.read_text():
        configs = [c.config for c in sweep.cells(sweep.load(path, [f"run.T={T}"]))]
    else:
        configs = [mf.load_config(path, [f"run.T={T}"])]
    for cfg in configs[:3]:
        with precision(cfg):
            system = mf.build_system(cfg)
            s = schedule_for(cfg, system)
        assert T - 1e-9 <= s.T <= T + s.record_every * s.dt + 1e-9
        assert all(t <= s.T + 1e-9 for t in s.snapshot_t)
        dropped = [t for t in cfg.run.snapshot_times if t > T]
        assert bool(dropped) == any("beyond T" in n for n in notes_for(cfg, s))
