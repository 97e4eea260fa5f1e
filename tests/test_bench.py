"""`meanfield bench`: one configuration as JSON, and the machine-limit work model."""

import json

import pytest

from meanfield.studies import bench
from meanfield.cli import main


def test_bench_json_tiny(capsys):
    """`meanfield bench --json` on a tiny config prints one JSON object with the documented keys."""
    main(["bench", "--N", "8", "--M", "8", "--K", "1", "--L", "1", "--batch", "1", "--replicas", "2",
          "--scheme", "simultaneous", "--json", "--budget", "0.05", "--no-torch"])
    row = json.loads(capsys.readouterr().out)
    for k in ("steps_per_second", "particle_steps_per_second", "compile_seconds", "memory_bytes",
              "machine_fraction"):
        assert k in row
    assert row["steps_per_second"] > 0 and row["compile_seconds"] > 0
    # particle-steps count every replica's N generator particles.
    assert row["particle_steps_per_second"] == pytest.approx(row["steps_per_second"] * 8 * 2)
    # The observables, timed apart, at the default cadence max(1000, 4N): their share of a run
    # and the run's rate follow from the two timings.
    assert row["record_every"] == 1000 and row["observe_seconds"] > 0
    between = row["record_every"] / row["steps_per_second"]
    assert row["observables_fraction"] == pytest.approx(
        row["observe_seconds"] / (row["observe_seconds"] + between))
    assert 0 < row["observables_fraction"] < 1
    assert row["run_steps_per_second"] == pytest.approx(
        row["record_every"] / (between + row["observe_seconds"]))


def test_step_work_counts():
    """The work model: m·(N·K + 2M) sigmoids per simultaneous step; alternating adds N·K + M per m."""
    c = bench.BenchConfig(N=10, M=6, K=2, L=3, batch=4)
    s, f = bench.step_work(c)
    assert s == 4 * (10 * 2 + 2 * 6)
    assert f == 3 * 4 * (10 * 2 * 5 + 2 * 6 * 4)
    s_alt, _ = bench.step_work(bench.BenchConfig(N=10, M=6, K=2, L=3, batch=4, scheme="alternating"))
    assert s_alt == s + 4 * (10 * 2 + 6)


def test_table_covers_the_benchmark_grid():
    """The default table spans N ∈ {256..16384}, m, R ∈ {1, 64} and the three schemes."""
    rows = bench.table_configs()
    assert {c.N for c in rows} == {256, 1024, 4096, 16384}
    assert {c.batch for c in rows} == {1, 64} and {c.replicas for c in rows} == {1, 64}
    assert {c.scheme for c in rows} == set(bench.SCHEMES)
    assert all(c.M == c.N for c in rows)


def test_xla_defaults_are_set_and_yield_to_the_user(monkeypatch):
    """``import meanfield`` adds the YNNPACK opt-out on the checked jaxlib series; a user's own
    setting of the flag, or ``MEANFIELD_XLA_DEFAULTS=0``, leaves ``XLA_FLAGS`` alone."""
    import importlib.metadata
    import os

    from meanfield.core import xla as _xla

    checked = importlib.metadata.version("jaxlib").startswith(_xla.CHECKED_SERIES)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    monkeypatch.delenv("MEANFIELD_XLA_DEFAULTS", raising=False)
    assert _xla.apply() == checked
    assert (_xla.FLAG in os.environ["XLA_FLAGS"].split()) == checked
    assert "--xla_force_host_platform_device_count=1" in os.environ["XLA_FLAGS"]
    mine = "--xla_cpu_experimental_ynn_fusion_type=reduce"
    monkeypatch.setenv("XLA_FLAGS", mine)
    assert not _xla.apply() and os.environ["XLA_FLAGS"] == mine
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setenv("MEANFIELD_XLA_DEFAULTS", "0")
    assert not _xla.apply() and os.environ["XLA_FLAGS"] == ""
