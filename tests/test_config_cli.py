"""Configs and the command line: bad input exits 2 naming the key and writes nothing, a run writes
the documented results layout, `plot` redraws it, a diverging run exits 3 and writes nothing.

Each subprocess pays JAX's import (~3 s), so only the exit-status and end-to-end checks run in a
subprocess; the other error cases call ``meanfield.cli.main`` in-process (same code path, same
SystemExit code and stderr line).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from conftest import QUICKSTART, ROOT
from meanfield import cli, config
from meanfield.results import partial_dir, read_run

# 8 steps of Δt = 0.25 (N = 16, α = 4), 2 replicas, 5 records, snapshots at 0 and T.
TINY = ["model.N=16", "model.M=16", "run.T=2.0", "run.n_records=5", "run.replicas=2",
        "run.snapshot_times=[0.0, 2.0]", "run.n_eval=256"]


def _meanfield_cmd() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m meanfield.cli``."""
    script = Path(sys.executable).parent / "meanfield"
    return [str(script)] if script.exists() else [sys.executable, "-m", "meanfield.cli"]


def _sub(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(_meanfield_cmd() + list(args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def _assert_nothing_written(out: Path):
    assert not out.exists(), out
    assert not partial_dir(out).exists(), partial_dir(out)


# -- config module --------------------------------------------------------------------------------

def test_defaults_and_quickstart_load():
    assert config.load() == config.Config()
    cfg = config.load(QUICKSTART, ["model.N=32", "dynamics.lr=0.5", "run.dtype='float64'"])
    assert cfg.model.N == 32 and cfg.dynamics.lr == 0.5 and cfg.run.dtype == "float64"
    assert isinstance(cfg.dynamics.lr, float)
    assert cfg.model.M == 256 and cfg.dynamics.n_critic == 5  # from the file


def test_dumps_round_trips():
    cfg = config.load(QUICKSTART, TINY + ["target.means=[-2, 2]"])
    back = config.from_dict(tomllib.loads(config.dumps(cfg)))
    assert back == cfg
    assert config.dumps(back) == config.dumps(cfg)


def test_every_key_is_documented():
    text = config.describe()
    for name, cls in config.SECTIONS.items():
        assert f"[{name}]" in text
        for f in cls.__dataclass_fields__.values():
            assert f.metadata["doc"], f"{name}.{f.name} has no documentation"


# -- bad input: exit 2, one stderr line naming the key, nothing written ---------------------------

BAD = [
    (["model.N=0"], "model.N"),
    (["model.foo=1"], "model.foo"),
    (["model.N=abc"], "model.N"),
    (["model.N=2.5"], "model.N"),
    (["dynamics.clip=0"], "dynamics.clip"),
    (["dynamics.clip=-1.0"], "dynamics.clip"),
    (["run.T=0"], "run.T"),
    (["run.T=-3.0"], "run.T"),
    (["run.T=inf"], "run.T"),
    (["dynamics.lr=nan"], "dynamics.lr"),
    (["target.means=[-1.0, 0.0, 1.0]"], "target.means"),
    (["target.stds=[0.3, 0.0]"], "target.stds"),
    (["model.K=2"], "target.means"),  # the quickstart's means are numbers, K = 2 needs vectors
    (["run.snapshot_times=[0.0, -2.0]"], "run.snapshot_times"),
    (["run.snapshot_times=[[0.0], [2.0]]"], "run.snapshot_times"),
    (["dynamics.scheme='leapfrog'"], "dynamics.scheme"),
    (["nosuch.key=1"], "nosuch.key"),
    (["model.N"], "model.N"),
]


@pytest.mark.parametrize("overrides,key", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_override_exits_2_naming_key(tmp_path, capsys, overrides, key):
    out = tmp_path / "x"
    try:
        code = cli.main(["run", str(QUICKSTART), *_sets(overrides), "--out", str(out)])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], err
    _assert_nothing_written(out)


def test_mixed_number_and_vector_stds_build_the_target():
    # config.py accepts per-component stds that mix numbers and K-vectors (each entry "of
    # dimension K or 1"); the validated config must then build its target law, with the number
    # broadcast to an isotropic component.
    from meanfield.experiment import target_law

    cfg = config.load(QUICKSTART, ["model.K=2", "target.means=[[-1.0, -1.0], [1.0, 1.0]]",
                                   "target.stds=[[0.3, 0.2], 0.5]"])
    law = target_law(cfg)
    assert law.stds == ((0.3, 0.2), (0.5, 0.5))
    assert law.means == ((-1.0, -1.0), (1.0, 1.0))


@pytest.mark.parametrize("text", ["[model\nN = 3\n", "[model]\nN = \n", "[model]\nN = 3\nN = 4\n"],
                         ids=["table", "value", "duplicate"])
def test_malformed_toml_exits_2(tmp_path, capsys, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "bad.toml" in err[0], err
    _assert_nothing_written(out)


@pytest.mark.parametrize("text,key", [("[modle]\nN = 3\n", "modle"),
                                      ("model = 3\n", "model"),
                                      ("[dynamics]\npopulation = 1\n", "dynamics.population")])
def test_bad_file_contents_exit_2(tmp_path, capsys, text, key):
    path = tmp_path / "c.toml"
    path.write_text(text)
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and key in err[0], err
    _assert_nothing_written(out)


def test_missing_config_file_exits_2(tmp_path, capsys):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(tmp_path / "nope.toml"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "nope.toml" in err[0], err
    _assert_nothing_written(out)


def test_bad_config_in_subprocess_exits_2(tmp_path):
    # The real console script: exit status 2, exactly one stderr line naming the key, no folders.
    out = tmp_path / "x"
    p = _sub("run", "configs/quickstart.toml", "--set", "model.N=0", "--out", str(out))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.N" in lines[0], p.stderr
    _assert_nothing_written(out)


def test_diverging_run_exits_3_and_writes_nothing(tmp_path):
    # a = 1e38 for every generator neuron: g_μ = mean of a·s(·) overflows float32 to inf already
    # in the initial observables. Exit 3, the message names t = 0 and the observable, and neither
    # the folder nor its .partial remains. (A run diverging during its steps: tests/test_trust.py.)
    out = tmp_path / "div"
    overrides = TINY + ["init.a_mean=1e38", "init.a_std=0.0"]
    p = _sub("run", "configs/quickstart.toml", *_sets(overrides), "--out", str(out))
    assert p.returncode == 3, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "non-finite" in last and "t = 0" in last, p.stderr
    _assert_nothing_written(out)


# -- a real run, end to end -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    p = _sub("run", "configs/quickstart.toml", *_sets(TINY), "--out", str(out))
    assert p.returncode == 0, p.stderr
    return out, p


def test_run_writes_results_layout(tiny_run):
    out, p = tiny_run
    assert str(out) in p.stdout and "steps" in p.stdout
    assert not partial_dir(out).exists()
    run = read_run(out)
    m = run.metrics
    for k in ("t", "w1", "w2", "payoff", "boundary_mass", "snapshot_t", "snapshot_gen",
              "snapshot_critic"):
        assert k in m, k
    np.testing.assert_allclose(m["t"], [0.0, 0.5, 1.0, 1.5, 2.0], rtol=1e-12)
    assert m["w1"].shape == (2, 5) and np.isfinite(m["w1"]).all()
    assert m["snapshot_gen"].shape == (2, 2, 16, 1, 3)
    assert m["snapshot_critic"].shape == (2, 2, 16, 3)
    np.testing.assert_allclose(m["snapshot_t"], [0.0, 2.0])
    assert (np.abs(m["snapshot_critic"]) <= 1.0).all()  # c = 1 in the quickstart
    s = run.summary
    assert s["steps"] == 8 and s["T"] == pytest.approx(2.0) and s["dt"] == pytest.approx(0.25)
    assert s["final"]["w1"] == pytest.approx(float(m["w1"][:, -1].mean()), rel=1e-6)
    assert s["estimator"] == "exact-1d"
    assert {p.name for p in (out / "figures").glob("*.png")} >= {"observables.png", "overview.png"}


def test_written_config_reloads_identically(tiny_run):
    out, _ = tiny_run
    assert config.load(out / "config.toml") == config.load(QUICKSTART, TINY)


def test_plot_redraws_figures(tiny_run):
    out, _ = tiny_run
    figs = sorted((out / "figures").glob("*.png"))
    for f in figs:
        f.unlink()
    p = _sub("plot", str(out))
    assert p.returncode == 0, p.stderr
    for f in figs:
        assert f.exists() and f.stat().st_size > 1000 and str(f) in p.stdout


def test_rerun_of_complete_folder(tiny_run, capsys):
    # Same config: nothing recomputed (exit 0); another config without --force: exit 2.
    out, _ = tiny_run
    assert cli.main(["run", str(QUICKSTART), *_sets(TINY), "--out", str(out)]) == 0
    assert "already complete" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(QUICKSTART), *_sets(TINY + ["run.seed=1"]), "--out", str(out)])
    assert e.value.code == 2 and "--force" in capsys.readouterr().err


def test_plot_of_missing_folder_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["plot", str(tmp_path / "none")])
    assert e.value.code == 2 and "none" in capsys.readouterr().err
