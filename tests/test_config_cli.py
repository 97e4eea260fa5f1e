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
from meanfield import cli
from meanfield.io import config
from meanfield.io.results import partial_dir, read_run

# 8 steps of Δt = 0.25 (N = 16, α = 4), 2 replicas, 5 records, snapshots at 0 and T.
TINY = ["system.N=16", "system.M=16", "run.T=2.0", "run.n_records=5", "run.replicas=2",
        "run.snapshot_times=[0.0, 2.0]", "system.numerics.n_eval=256"]


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
    from meanfield.systems.wgan.config import WGANConfig

    assert config.load() == config.Config(WGANConfig())
    cfg = config.load(QUICKSTART, ["system.N=32", "system.dynamics.lr=0.5", "run.dtype='float64'"])
    assert cfg.system.N == 32 and cfg.system.dynamics.lr == 0.5 and cfg.run.dtype == "float64"
    assert isinstance(cfg.system.dynamics.lr, float)
    assert cfg.system.M == 256 and cfg.system.dynamics.n_critic == 5  # from the file


def test_dumps_round_trips():
    cfg = config.load(QUICKSTART, TINY + ["system.target.means=[-2, 2]"])
    back = config.from_dict(tomllib.loads(config.dumps(cfg)))
    assert back == cfg
    assert config.dumps(back) == config.dumps(cfg)


def test_every_key_is_documented():
    import dataclasses

    from meanfield.core import registry

    text = config.describe()

    def check(name, cls):
        for f in dataclasses.fields(cls):
            assert f.metadata["doc"], f"{name}.{f.name} has no documentation"
            if dataclasses.is_dataclass(f.type if isinstance(f.type, type) else None):
                check(f"{name}.{f.name}", f.type)

    check("run", config.RunConfig)
    assert "[run]" in text
    for kind in registry.names():
        assert f"kind = {kind!r}" in text
        check("system", registry.get(kind).config)


def test_a_kind_holds_only_its_own_fields():
    """A Dirac GAN's resolved config has only the Dirac GAN's keys; another kind's key is refused."""
    cfg = config.load(ROOT / "configs" / "dirac_gan.toml")
    text = config.dumps(cfg)
    assert tomllib.loads(text).keys() == {"system", "run"}
    assert "target" not in text and "dynamics" not in text and "n_eval" not in text
    with pytest.raises(config.ConfigError, match="system.dynamics: unknown key"):
        config.load(ROOT / "configs" / "dirac_gan.toml", ["system.dynamics.lr=2"])
    # Switching the kind keeps the other kind's keys invalid: one line naming the key.
    with pytest.raises(config.ConfigError, match=r"system\.[a-z_]+: unknown key"):
        config.load(ROOT / "configs" / "dirac_gan.toml", ["system.kind=toy"])


OLD_QUICKSTART = """
[model]
kind = "wgan"
N = 64
M = 32
[target]
means = [0.5, 1.5]
stds = [0.2, 0.2]
[dynamics]
lr = 4.0
n_critic = 5
clip = 1.0
[run]
T = 20.0
n_eval = 128
"""

NEW_QUICKSTART = """
[system]
kind = "wgan"
N = 64
M = 32
[system.target]
means = [0.5, 1.5]
stds = [0.2, 0.2]
[system.dynamics]
lr = 4.0
n_critic = 5
clip = 1.0
[system.numerics]
n_eval = 128
[run]
T = 20.0
"""


def test_old_layout_is_refused_with_the_conversion_hint(tmp_path, capsys):
    old = tmp_path / "old.toml"
    old.write_text(OLD_QUICKSTART)
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(old), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1, err
    assert "old.toml" in err[0] and "--convert" in err[0], err
    _assert_nothing_written(tmp_path / "x")


def test_convert_prints_the_same_config_in_the_new_layout(tmp_path, capsys):
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text(OLD_QUICKSTART)
    new.write_text(NEW_QUICKSTART)
    assert cli.main(["config", str(old), "--convert"]) == 0
    converted = tmp_path / "converted.toml"
    converted.write_text(capsys.readouterr().out)
    assert config.load(converted) == config.load(new)
    # toy and Dirac sections of the old layout
    toy = tmp_path / "toy.toml"
    toy.write_text('[model]\nkind = "toy"\nN = 3\n[latent]\nlaw = "gaussian"\n[toy]\n'
                   'gamma = 2.0\n[dirac]\nh = 0.1\n')
    assert cli.main(["config", str(toy), "--convert"]) == 0
    cfg = config.from_dict(tomllib.loads(capsys.readouterr().out))
    assert (cfg.kind, cfg.system.N, cfg.system.latent, cfg.system.gamma) == ("toy", 3, "gaussian",
                                                                            2.0)


# -- bad input: exit 2, one stderr line naming the key, nothing written ---------------------------

BAD = [
    (["system.N=0"], "system.N"),
    (["system.foo=1"], "system.foo"),
    (["system.N=abc"], "system.N"),
    (["system.N=2.5"], "system.N"),
    (["system.dynamics.clip=0"], "system.dynamics.clip"),
    (["system.dynamics.clip=-1.0"], "system.dynamics.clip"),
    (["run.T=0"], "run.T"),
    (["run.T=-3.0"], "run.T"),
    (["run.T=inf"], "run.T"),
    (["system.dynamics.lr=nan"], "system.dynamics.lr"),
    (["system.target.means=[-1.0, 0.0, 1.0]"], "system.target.means"),
    (["system.target.stds=[0.3, 0.0]"], "system.target.stds"),
    (["system.K=2"], "system.target.means"),  # the quickstart's means are numbers, K = 2 needs vectors
    (["run.snapshot_times=[0.0, -2.0]"], "run.snapshot_times"),
    (["run.snapshot_times=[[0.0], [2.0]]"], "run.snapshot_times"),
    (["system.dynamics.scheme='leapfrog'"], "system.dynamics.scheme"),
    (["nosuch.key=1"], "nosuch.key"),
    (["system.N"], "system.N"),
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
    cfg = config.load(QUICKSTART, ["system.K=2", "system.target.means=[[-1.0, -1.0], [1.0, 1.0]]",
                                   "system.target.stds=[[0.3, 0.2], 0.5]"])
    law = cfg.system.target.build()
    assert law.stds == ((0.3, 0.2), (0.5, 0.5))
    assert law.means == ((-1.0, -1.0), (1.0, 1.0))


@pytest.mark.parametrize("text", ["[system\nN = 3\n", "[system]\nN = \n",
                                  "[system]\nN = 3\nN = 4\n"],
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


@pytest.mark.parametrize("text,key", [("[sytem]\nN = 3\n", "sytem"),
                                      ("system = 3\n", "system"),
                                      ("[system]\nN = 3\n", "system.kind"),
                                      ('[system]\nkind = "gann"\n', "system.kind"),
                                      ('[system]\nkind = "wgan"\n[system.dynamics]\n'
                                       'population = 1\n', "system.dynamics.population")])
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
    p = _sub("run", "configs/quickstart.toml", "--set", "system.N=0", "--out", str(out))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "system.N" in lines[0], p.stderr
    _assert_nothing_written(out)


def test_diverging_run_exits_3_and_writes_nothing(tmp_path):
    # a = 1e38 for every generator neuron: g_μ = mean of a·s(·) overflows float32 to inf already
    # in the initial observables. Exit 3, the message names t = 0 and the observable, and neither
    # the folder nor its .partial remains. (A run diverging during its steps: tests/test_trust.py.)
    out = tmp_path / "div"
    overrides = TINY + ["system.init.a_mean=1e38", "system.init.a_std=0.0"]
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


def test_convert_renames_sweep_axes(tmp_path, capsys):
    from meanfield.studies import sweep

    old = tmp_path / "old_sweep.toml"
    old.write_text(OLD_QUICKSTART + '[sweep]\ncell_figures = false\n[sweep.axes]\n'
                   '"model.N" = [8, 16]\n"dynamics.clip" = [0.5, 1.0]\n"run.n_eval" = [32, 64]\n'
                   '"run.seed" = [0, 1]\n')
    assert cli.main(["config", str(old), "--convert"]) == 0
    spec = sweep.from_dict(tomllib.loads(capsys.readouterr().out))
    assert spec.axes == ("system.N", "system.dynamics.clip", "system.numerics.n_eval", "run.seed")
