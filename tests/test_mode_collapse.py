"""The mode-collapse statistics (meanfield/metrics/collapse.py) on clouds whose values are known in
closed form, the classification rules on constructed series, the study's config checks, and (slow)
the script end to end on a tiny grid, rerun included."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, bimodal
from meanfield.io import config as C
from meanfield.measures.laws import midpoint_quantiles
from meanfield.metrics import collapse
from meanfield.studies import mode_collapse as mc
from meanfield.studies import sweep

CONFIG = ROOT / "configs" / "mode_collapse_1d.toml"


def script(name: str, *args, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "experiments" / name), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# -- the statistics ----------------------------------------------------------------------------

def test_mass_right_and_balance_exact(x64):
    x = jnp.array([-2.0, -1.0, 1.0, 2.0, 3.0])
    assert float(collapse.mass_right(x)) == pytest.approx(0.6, abs=1e-15)
    assert float(collapse.balance(x)) == pytest.approx(0.8, abs=1e-15)
    # A point exactly at 0 counts half on each side.
    assert float(collapse.mass_right(jnp.array([-1.0, 0.0, 1.0]))) == 0.5
    assert float(collapse.balance(jnp.array([[-1.0], [0.0], [1.0]]))) == 1.0
    assert float(collapse.balance(jnp.array([0.1, 0.2, 5.0]))) == 0.0  # all on one side
    assert float(collapse.balance(jnp.array([-0.1, -0.2, -5.0]))) == 0.0
    y = jax.random.normal(jax.random.key(0), (101,))
    assert float(collapse.mass_right(-y)) == pytest.approx(1 - float(collapse.mass_right(y)),
                                                           abs=1e-15)


def test_w1_and_mean_abs_exact(x64):
    target = jnp.asarray(np.sort(midpoint_quantiles(bimodal(), 64)))
    assert float(collapse.w1(target[::-1], target)) == 0.0  # any order of the same cloud
    assert float(collapse.w1(target + 0.3, target)) == pytest.approx(0.3, abs=1e-12)
    atoms = jnp.array([-1.0] * 32 + [1.0] * 32)
    # Full collapse onto +1 against ½δ₋₁ + ½δ₁: half the mass moves by 2.
    assert float(collapse.w1(jnp.ones(64), atoms)) == pytest.approx(1.0, abs=1e-15)
    # A spike at 0 against the same atoms: every point moves by 1.
    assert float(collapse.w1(jnp.zeros((64, 1)), atoms)) == pytest.approx(1.0, abs=1e-15)
    # Any spike between the modes is at W₁ = ½|x₀ + 1| + ½|1 − x₀| = 1: W₁ cannot see it move.
    for x0 in (-1.0, -0.5, 0.3, 1.0):
        assert float(collapse.w1(jnp.full(64, x0), atoms)) == pytest.approx(1.0, abs=1e-15)
    assert float(collapse.w1(jnp.full(64, 2.0), atoms)) == pytest.approx(2.0, abs=1e-15)
    assert float(collapse.mean_abs(jnp.array([-2.0, 1.0, 0.0, 3.0]))) == 1.5
    s = collapse.statistics(atoms, atoms)
    assert {k: float(v) for k, v in s.items()} == {"p": 0.5, "balance": 1.0, "w1": 0.0,
                                                   "mean_abs": 1.0}


def test_statistics_vmap_over_replicas_and_times(x64):
    x = jax.random.normal(jax.random.key(1), (3, 4, 32)) + 0.4
    target = jnp.sort(jax.random.normal(jax.random.key(2), (32,)))
    batched = jax.vmap(jax.vmap(lambda a: collapse.statistics(a, target)))(x)
    for k in ("p", "balance", "w1", "mean_abs"):
        assert batched[k].shape == (3, 4)
        assert float(batched[k][2, 1]) == pytest.approx(
            float(collapse.statistics(x[2, 1], target)[k]), abs=1e-14)


# -- the classification ------------------------------------------------------------------------

T = np.linspace(0.0, 100.0, 21)  # window = last quarter: t >= 75, 6 times


def _series(balance, w1, mean_abs):
    f = lambda v: np.broadcast_to(np.asarray(v, float), T.shape)  # noqa: E731
    return {"balance": f(balance), "w1": f(w1), "mean_abs": f(mean_abs)}


def test_classify_each_class():
    assert mc.classify(T, _series(0.0, 1.0, 0.02)) == "at_mean"  # spike at 0, one-sided
    assert mc.classify(T, _series(0.0, 1.0, 1.0)) == "collapse"
    assert mc.classify(T, _series(0.95, 0.2, 1.0)) == "converge"
    assert mc.classify(T, _series(0.95, 0.8, 1.0)) == "unresolved"  # stable, but far from P*
    swing = np.where(np.arange(len(T)) % 2, 0.3, 1.2)  # W₁ swinging by 0.9
    assert mc.classify(T, _series(0.9, swing, 1.0)) == "oscillate"
    b = np.where(np.arange(len(T)) % 2, 0.1, 0.9)  # balance swinging across 0.5
    assert mc.classify(T, _series(b, 0.45, 1.0)) == "oscillate"
    # A collapse that swings in W₁ while staying on one side is a collapse (rule 2 before 3).
    assert mc.classify(T, _series(0.0, swing, 1.0)) == "collapse"


def test_classify_looks_at_the_window_only():
    early = _series(np.where(T < 75, 0.0, 0.95), np.where(T < 75, 1.5, 0.2), 1.0)
    assert mc.classify(T, early) == "converge"
    assert mc.classify(T, early, mc.Rules(window=0.5)) == "oscillate"
    # One time of the window at b >= 0.5 is enough to leave "collapse".
    late = _series(np.where(T == 90, 0.6, 0.0), 1.0, 1.0)
    assert mc.classify(T, late) == "oscillate"
    # A shortened run with fewer than 3 snapshot times in the window is not judged.
    two = {k: np.array([0.0, 0.0]) for k in ("balance", "mean_abs")} | {"w1": np.ones(2)}
    assert mc.classify(np.array([0.0, 3.0]), two) == "unresolved"
    assert mc.classify(T, _series(0.0, 1.0, 1.0)) == "collapse"  # the same values, judged


def test_cell_entry_fractions_and_initial_statistics():
    cell = sweep.cells(sweep.load(CONFIG))[0]
    stats = {k: np.stack([_series(0.0, 1.0, 0.02)[k] if k != "p" else np.zeros_like(T)
                          for _ in range(4)]) for k in ("p", "balance", "w1", "mean_abs")}
    stats["mean_abs"][1:] = 1.0
    stats["balance"][2:] = 0.95
    stats["w1"][2:, 15:] = 0.2
    e = mc.cell_entry(cell, T, stats, mc.Rules())
    assert e["replica_classes"] == ["at_mean", "collapse", "converge", "converge"]
    assert e["class"] == "converge" and e["fractions"]["converge"] == 0.5
    assert e["initial"]["w1"] == [1.0] * 4 and e["final"]["w1"] == [1.0, 1.0, 0.2, 0.2]
    assert e["w1_max_change"] == pytest.approx([0.0, 0.0, 0.8, 0.8])
    # A tie goes to the class listed first.
    assert mc.cell_entry(cell, T, {k: v[1:3] for k, v in stats.items()},
                         mc.Rules())["class"] == "converge"


# -- the config --------------------------------------------------------------------------------

def test_default_config_is_four_compiled_programs():
    spec = sweep.load(CONFIG)
    cells = sweep.cells(spec)
    assert spec.study == "mode_collapse" and len(cells) == 24
    assert len(sweep.groups(cells)) == 4  # n_c and c vmapped; one program per (scheme, α)
    assert mc.rules_of(spec) == mc.Rules()  # the config spells out the defaults


@pytest.mark.parametrize("edit, key", [
    (("\n[mode_collapse]", "\n[mode_collapse]\nwindoww = 0.3"), "mode_collapse.windoww"),
    (("window = 0.25", "window = 1.5"), "mode_collapse.window"),
    (("converge_w1 = 0.5", "converge_w1 = -1"), "mode_collapse.converge_w1"),
    (("snapshot_times = [0, ", "snapshot_times = ["), "run.snapshot_times"),
    (("K = 1", "K = 2"), "system.K"),
])
def test_bad_config_is_one_error_naming_the_key(tmp_path, edit, key):
    text = CONFIG.read_text()
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1], 1).replace(
        "means = [-1.0, 1.0]", "means = [[-1.0, -1.0], [1.0, 1.0]]") if key == "system.K"
        else text.replace(edit[0], edit[1], 1))
    with pytest.raises(C.ConfigError, match=re.escape(key)):
        sweep.load(path)


# -- the script --------------------------------------------------------------------------------

TINY_AXES = '''[sweep.axes]
"system.dynamics.scheme" = ["simultaneous", "alternating"]
"system.dynamics.lr" = [16.0]
"system.dynamics.n_critic" = [1, 2]
"system.dynamics.clip" = [2.0]
'''


@pytest.mark.slow
def test_script_tiny_grid_and_rerun(tmp_path):
    """4 cells (2 programs), N = M = 16 to T = 20: numbers.json with every cell classified, the
    map, the histograms and the GIF; a rerun reads the cells back; a bad option is one line."""
    text = CONFIG.read_text()
    text = (text[:text.index("\n[sweep.axes]") + 1] + TINY_AXES
            + text[text.index("\n[mode_collapse]"):])
    config = tmp_path / "tiny.toml"
    config.write_text(text.replace("histogram_times = [0, 50, 100, 150, 200, 300]",
                                   "histogram_times = [0, 10, 20]"))
    out = tmp_path / "mc"
    args = [config, "--out", out, "--set", "system.N=16", "--set", "system.M=16",
            "--set", "run.T=20.0", "--set", "run.n_records=11",
            "--set", "run.snapshot_times=[0.0, 4.0, 8.0, 12.0, 16.0, 18.0, 20.0]"]
    res = script("mode_collapse_1d.py", *args)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    assert len(numbers["cells"]) == 4 and numbers["replicas_total"] == 16
    assert numbers["settings"]["N"] == 16 and numbers["settings"]["snapshot_times"][-1] == 20.0
    assert sum(numbers["fractions"].values()) == pytest.approx(1.0)
    for e in numbers["cells"]:
        assert e["class"] in mc.CLASSES and len(e["replica_classes"]) == 4
        assert all(0 <= b <= 1 for b in e["initial"]["balance"] + e["final"]["balance"])
        assert all(np.isfinite(e["final"]["w1"])) and all(np.isfinite(e["w1_max_change"]))
    for name in ("map.png", "histograms.png"):
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    gif = (out / "figures" / "histograms.gif").read_bytes()
    assert gif[:6] in (b"GIF87a", b"GIF89a") and len(gif) > 5000
    cells = sorted((out / "cells").iterdir())
    assert len(cells) == 4
    mtimes = [(c / "summary.json").stat().st_mtime for c in cells]
    again = script("mode_collapse_1d.py", *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 computed" in again.stdout
    assert [(c / "summary.json").stat().st_mtime for c in cells] == mtimes  # read back
    assert json.loads((out / "numbers.json").read_text())["cells"] == numbers["cells"]
    bad = script("mode_collapse_1d.py", config, "--out", tmp_path / "bad",
                 "--set", "system.dynamics.lr=-1")
    assert bad.returncode == 2 and "system.dynamics.lr" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
