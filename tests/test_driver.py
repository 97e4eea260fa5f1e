"""The driver and the observables: schedules, reproducibility (seed, chunk size, resume from a
checkpoint, batched systems) and the Wasserstein distances against scipy and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, special, stats

import meanfield as mf
from conftest import QUICKSTART, bimodal, small_wgan, stack
from meanfield.io import experiment, results
from meanfield.measures import laws
from meanfield.metrics import coagulation
from meanfield.metrics import wasserstein as observables
from meanfield.networks import readout
from meanfield.core.driver import (NonFiniteError, make_schedule, replica_keys, schedule_notes,
                              simulate)

# A quick config: 40 steps of Δt = 0.25 (N = 16, α = 4), 2 replicas, 21 records, 3 snapshots.
TINY = ["system.N=16", "system.M=16", "run.T=10.0", "run.n_records=21", "run.replicas=2",
        "run.snapshot_times=[0.0, 5.0, 10.0]", "system.numerics.n_eval=128", "run.seed=3",
        "system.numerics.quadrature_nodes=8"]


def _tiny(*extra):
    return mf.load_config(QUICKSTART, TINY + list(extra))


@pytest.fixture(scope="module")
def tiny_reference() -> mf.Trajectory:
    """The uninterrupted in-memory run of ``_tiny()`` (default chunking: 2 records per chunk)."""
    return mf.run(_tiny(), None).trajectory


def _assert_same_trajectory(a: mf.Trajectory, b: mf.Trajectory):
    """Bitwise equality of every recorded array and of the final state."""
    np.testing.assert_array_equal(a.t, b.t)
    assert a.observables.keys() == b.observables.keys()
    for k in a.observables:
        np.testing.assert_array_equal(a.observables[k], b.observables[k], err_msg=k)
    np.testing.assert_array_equal(a.snapshot_t, b.snapshot_t)
    for k in a.snapshots:
        np.testing.assert_array_equal(a.snapshots[k], b.snapshots[k], err_msg=k)
    for x, y in zip(jax.tree.leaves(a.final_state), jax.tree.leaves(b.final_state)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# -- schedule -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt,T,n_records", [(0.25, 10.0, 21), (0.1, 1.0, 101), (0.3, 1.0, 4),
                                            (1 / 3, 7.0, 5), (1 / 3, 6.9, 5)])
def test_schedule_covers_horizon(dt, T, n_records):
    # The run ends at the first recorded time >= T, at most one record interval past T, with at
    # most twice the requested records; t is uniform with step record_every·dt.
    s = make_schedule(dt, T, n_records, (0.0, T))
    assert s.T >= T - 1e-9 and s.T < T + s.record_every * dt + 1e-9
    assert s.n_intervals + 1 <= 2 * (n_records - 1) + 1
    np.testing.assert_allclose(np.diff(s.t), s.record_every * dt, rtol=1e-12)
    assert s.t[-1] == pytest.approx(s.T)
    assert s.snapshot_records == (0, s.n_intervals)  # a snapshot at T is the final state
    notes = schedule_notes(s, T, n_records, (0.0, T))
    assert (abs(s.T - T) > 1e-9) == any("the run ends at" in n for n in notes)
    assert (s.n_intervals + 1 != n_records) == any("records every" in n for n in notes)


def test_schedule_hits_requested_times_where_the_step_allows():
    # The coagulation config: dt = 1/128, T = 20, 401 records asked (every 6.4 steps: impossible).
    # Snapshots at 0.5, 1, ... are 64, 128, ... steps: records every 8 steps hit all of them and T.
    snaps = (0.0, 0.5, 1.0, 1.5, 2.0, 4.0, 10.0, 20.0)
    s = make_schedule(1 / 128, 20.0, 401, snaps)
    assert s.record_every == 8 and s.T == 20.0
    np.testing.assert_allclose(s.snapshot_t, snaps, rtol=0, atol=1e-12)
    assert [n for n in schedule_notes(s, 20.0, 401, snaps) if "snapshot at" in n] == []
    # Where the request is possible, it is met exactly and nothing is noted.
    s = make_schedule(4 / 256, 1500.0, 151, (0.0, 300.0, 600.0, 1500.0))
    assert (s.n_intervals, s.record_every, s.T) == (150, 640, 1500.0)
    assert schedule_notes(s, 1500.0, 151, (0.0, 300.0, 600.0, 1500.0)) == []
    # A snapshot off the step grid is rounded up to a record and said so; times beyond T dropped.
    s = make_schedule(0.25, 10.0, 11, (0.0, 3.1, 12.0))
    notes = schedule_notes(s, 10.0, 11, (0.0, 3.1, 12.0))
    assert s.snapshot_t[1] >= 3.1 and len(s.snapshot_t) == 2
    assert any("instead of 3.1" in n for n in notes) and any("beyond T" in n for n in notes)


@pytest.mark.parametrize("T", [7.0, 6.9, 7.9])
def test_snapshot_at_T_is_the_final_state(T):
    # A snapshot asked at T must hold the particles the run ends with (where summary.json's
    # final observables are taken), not those of an earlier record: snapshot times round up to the
    # grid, as T does.
    s = make_schedule(1 / 3, T, 5, (0.0, T))
    assert s.T >= T - 1e-9
    assert s.snapshot_records[-1] == s.n_intervals, s


def test_schedule_rejects_bad_arguments():
    for args in ((0.0, 1.0), (0.1, 0.0), (0.1, -1.0)):
        with pytest.raises(ValueError):
            make_schedule(*args)
    with pytest.raises(ValueError):
        make_schedule(0.1, 1.0, n_records=1)


# -- reproducibility ------------------------------------------------------------------------------

@pytest.mark.slow  # 17 s; resume equality stays in the default run
def test_same_seed_same_arrays_and_chunk_size_irrelevant(tiny_reference):
    # Same config and seed: bitwise equal runs; chunk_records 1 and 20 (one chunk) give bitwise
    # the same arrays as the default (2 records per chunk).
    ref = tiny_reference
    _assert_same_trajectory(ref, mf.run(_tiny(), None).trajectory)
    for chunk in (1, 20):
        _assert_same_trajectory(ref, mf.run(_tiny(f"run.chunk_records={chunk}"), None).trajectory)
    # Replicas are independent draws: they differ from each other.
    assert not np.array_equal(ref.snapshots["gen"][0], ref.snapshots["gen"][1])


def test_simulate_resumes_from_a_checkpoint_exactly(tiny_reference):
    # Capture the checkpoint after the first chunk (of 5), let the run finish, then resume from
    # the captured checkpoint: bitwise the same arrays as the uninterrupted run.
    cfg = _tiny("run.chunk_records=4")
    system = experiment.build_system(cfg)
    sched = experiment.schedule_for(cfg, system)
    ik, nk = replica_keys(cfg.run.seed, cfg.run.replicas)
    captured = []

    def on_chunk(done, total, ckpt):
        if not captured:
            # Keep a private copy too: the checkpoint handed out must not change afterwards.
            captured.append((ckpt, [np.array(x, copy=True) for x in ckpt["carry_leaves"]]))

    full = simulate(system, sched, ik, nk, chunk_records=4, on_chunk=on_chunk)
    ckpt, copy = captured[0]
    assert ckpt["records_done"] == 4
    for x, y in zip(ckpt["carry_leaves"], copy):
        np.testing.assert_array_equal(x, y)
    assert ckpt["observables"]["w1"].shape == (2, 5)
    resumed = simulate(system, sched, ik, nk, chunk_records=4, resume=ckpt)
    _assert_same_trajectory(full, resumed)
    _assert_same_trajectory(tiny_reference, resumed)


def test_experiment_run_resumes_after_interruption(tmp_path, tiny_reference):
    # experiment.run(cfg, out) interrupted after its first chunk (the progress callback raises)
    # leaves out.partial/checkpoint.npz and no out/; rerunning resumes from it and writes the same
    # metrics as an uninterrupted in-memory run (bitwise).
    cfg = _tiny("run.chunk_records=4")
    out = tmp_path / "run"

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        mf.run(cfg, out, progress=stop, draw=False)
    assert not out.exists()
    assert (results.partial_dir(out) / "checkpoint.npz").exists()
    res = mf.run(cfg, out, draw=False)
    assert res.summary["resumed_at_record"] == 4
    assert not results.partial_dir(out).exists()
    saved = results.read_run(out)
    ref = tiny_reference  # same numbers whatever the chunking
    want = results.metrics_arrays(ref.t, ref.observables, ref.snapshot_t, ref.snapshots)
    assert saved.metrics.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(saved.metrics[k], want[k], err_msg=k)


def test_replica_keys():
    # shared_init: every replica gets the same init key (same particles) but its own noise key.
    kd = jax.random.key_data
    ik, nk = replica_keys(0, 3, shared_init=True)
    assert (kd(ik) == kd(ik[0])[None]).all()
    assert len({tuple(np.asarray(kd(k))) for k in nk}) == 3
    ik2, nk2 = replica_keys(0, 3)
    assert len({tuple(np.asarray(kd(k))) for k in ik2}) == 3
    np.testing.assert_array_equal(kd(nk2), kd(nk))  # noise keys do not depend on shared_init


def test_batched_systems_match_separate_runs(x64):
    # Stacked WGANs differing in c and n_c (pytree leaves) run as one vmapped program; each
    # replica equals its own single run (float64, 1e-12). initial_state: the runs start exactly
    # from the given particles (snapshot at t = 0).
    clips, ncs = (0.3, 1.0), (1, 3)
    systems = [small_wgan(N=6, M=5, clip=c, n_critic=n, population=True, scheme="alternating")
               for c, n in zip(clips, ncs)]
    batched = jax.tree.map(lambda *xs: jnp.stack(xs), *systems)
    sched = make_schedule(systems[0].dt, 2.0, 5, (0.0, 2.0))
    ik, nk = replica_keys(1, 2, shared_init=True)
    init = systems[1].init(ik[0])  # same particles for both, inside the smaller Q
    both = simulate(batched, sched, ik, nk, system_batched=True, initial_state=stack(init, 2))
    for r in range(2):
        np.testing.assert_array_equal(both.snapshots["gen"][r, 0], init.gen)
        np.testing.assert_array_equal(both.snapshots["critic"][r, 0], init.crit)
    for r, w in enumerate(systems):
        one = simulate(w, sched, ik[r:r + 1], nk[r:r + 1], initial_state=stack(init))
        for k in ("gen", "critic"):
            np.testing.assert_allclose(both.snapshots[k][r], one.snapshots[k][0], rtol=1e-12,
                                       atol=1e-14)
    assert not np.allclose(both.snapshots["critic"][0], both.snapshots["critic"][1])


def test_non_finite_state_stops_the_run(x64):
    # A NaN particle at t = 0 is reported as such; one born during the steps is reported as
    # NonFiniteError naming the steps of the first bad record (lr = 1e30: the first step
    # overflows).
    w = small_wgan(N=4, M=4)
    st = w.init(jax.random.key(0))
    sched = make_schedule(w.dt, 40 * w.dt, 11)
    ik, nk = replica_keys(0, 2)
    bad = st._replace(gen=st.gen.at[0, 0, 0].set(jnp.nan))
    with pytest.raises(NonFiniteError, match=r"replica 1 at t = 0"):
        simulate(w, sched, ik, nk, initial_state=jax.tree.map(lambda a, b: jnp.stack([a, b]),
                                                              st, bad))
    wild = small_wgan(N=4, M=4, lr=1e300)
    sched = make_schedule(wild.dt, 40 * wild.dt, 11)
    with pytest.raises(NonFiniteError, match=r"replica 0 between step 1 and step 4"):
        simulate(wild, sched, ik, nk, initial_state=stack(st, 2))


# -- observables ----------------------------------------------------------------------------------

def _w2_assignment(a, b):
    """Exact W_2 between equal-size uniform 1-D clouds by optimal assignment (independent of
    sorting)."""
    cost = (a[:, None] - b[None, :]) ** 2
    r, c = optimize.linear_sum_assignment(cost)
    return np.sqrt(cost[r, c].mean())


def test_one_dimensional_wasserstein_against_scipy(x64):
    # W_1 against scipy.stats.wasserstein_distance, W_2 against optimal assignment, 1e-10.
    rng = np.random.default_rng(0)
    for n in (7, 200):
        a = rng.standard_normal(n) * 1.3 + 0.2
        b = np.sort(rng.standard_t(3, n))
        w1 = observables.wasserstein_sorted(jnp.asarray(a), jnp.asarray(b), 1)
        w2 = observables.wasserstein_sorted(jnp.asarray(a), jnp.asarray(b), 2)
        assert float(w1) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
        assert float(w2) == pytest.approx(_w2_assignment(a, b), rel=1e-10)
        d = jnp.ones((1, 1))
        s1 = observables.sliced_wasserstein(jnp.asarray(a)[:, None], jnp.asarray(b)[None], d, 1)
        s2 = observables.sliced_wasserstein(jnp.asarray(a)[:, None], jnp.asarray(b)[None], d, 2)
        assert float(s1) == pytest.approx(float(w1), rel=1e-12)
        assert float(s2) == pytest.approx(float(w2), rel=1e-12)


def test_sliced_wasserstein_is_mean_over_directions(x64):
    # (mean over directions of W_p^p of the projections)^{1/p}, each W_p by scipy / assignment.
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 3)), rng.standard_normal((64, 3)) + [1.0, 0.0, -0.5]
    dirs = observables.unit_directions(3, 5)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, rtol=1e-14)
    bp = np.sort(dirs @ b.T, axis=1)
    w1 = np.mean([stats.wasserstein_distance(dirs[i] @ a.T, bp[i]) for i in range(5)])
    w2 = np.sqrt(np.mean([_w2_assignment(dirs[i] @ a.T, bp[i]) ** 2 for i in range(5)]))
    args = (jnp.asarray(a), jnp.asarray(bp), jnp.asarray(dirs))
    assert float(observables.sliced_wasserstein(*args, 1)) == pytest.approx(w1, rel=1e-10)
    assert float(observables.sliced_wasserstein(*args, 2)) == pytest.approx(w2, rel=1e-10)


def test_wgan_w1_w2_observables_against_scipy(x64):
    # K = L = 1: the recorded w1/w2 are the exact 1-D distances between g_μ at the evaluation
    # latents (recomputed with readout.generator) and the target's midpoint quantiles.
    w = small_wgan(N=5, M=4, n_eval=300)
    st = w.init(jax.random.key(1))
    o = w.observe(st)
    fake = np.asarray(readout.generator(st.gen, w.eval_z))[:, 0]
    real = laws.midpoint_quantiles(bimodal(1), 300)
    assert float(o["w1"]) == pytest.approx(stats.wasserstein_distance(fake, real), rel=1e-10)
    assert float(o["w2"]) == pytest.approx(_w2_assignment(fake, real), rel=1e-10)


def test_wgan_distances_of_a_constant_generator(x64):
    # A generator that is exactly the constant map p (a = 2p, b = c = 0, s(0) = ½): W_1 = E|X − p|
    # and W_2² = E (X − p)² in closed form for the Gaussian mixture P*. The midpoint quantisation
    # of P* with n points is first order: measured errors 5.2e-5 / 1.2e-5 (W_1) at n = 1024 / 4096,
    # so the fitted order is 1 ± 0.15 and the error at n = 4096 is below 2e-5 (W_1) and 4e-5 (W_2).
    p = 0.3
    law = bimodal(1)
    wts, m, s = np.asarray(law.weights), np.asarray(law.means)[:, 0] - p, np.asarray(law.stds)[:, 0]
    e1 = wts @ (s * np.sqrt(2 / np.pi) * np.exp(-m ** 2 / (2 * s ** 2))
                + m * (1 - 2 * special.ndtr(-m / s)))
    e2 = np.sqrt(wts @ (m ** 2 + s ** 2))
    errs = []
    for n in (1024, 4096):
        w = small_wgan(N=4, M=4, n_eval=n)
        st = w.init(jax.random.key(0))
        o = w.observe(st._replace(gen=jnp.zeros_like(st.gen).at[:, :, 0].set(2 * p)))
        errs.append((abs(float(o["w1"]) - e1), abs(float(o["w2"]) - e2)))
    order = np.log2(errs[0][0] / errs[1][0]) / 2
    assert order == pytest.approx(1.0, abs=0.15), errs
    assert errs[1][0] < 2e-5 and errs[1][1] < 4e-5, errs


def test_boundary_mass_counts_clamped_particles():
    c = 0.5
    crit = jnp.array([[0.1, 0.2, 0.3], [0.5, 0.0, 0.0], [-0.5, -0.5, 0.5], [0.49, -0.49, 0.0]])
    np.testing.assert_array_equal(coagulation.clamped_counts(crit, c), [0, 1, 3, 0])
    assert float(coagulation.boundary_mass(crit, c)) == 0.5


# -- noise drawn in blocks ------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, population", [
    ("simultaneous", False), pytest.param("alternating", False, marks=pytest.mark.slow),
    ("simultaneous", True)])
@pytest.mark.parametrize("block_bytes, steps", [(None, 24), (64, 24), (384, 26)])
def test_block_drawn_noise_equals_per_step_draws(x64, monkeypatch, scheme, population,
                                                 block_bytes, steps):
    """The driver draws the noise of many steps at once (``step_noise``), in blocks that may be
    shorter than a record, and with a shorter last block when the record interval (13, a prime)
    has no good divisor; the trajectory must be the one of
    ``step(state, step_noise(fold_in(key, k)))`` taken step by step, to rounding (float64,
    1e-12)."""
    from meanfield.core import driver

    if block_bytes is not None:  # a few steps per block: several blocks per record
        monkeypatch.setattr(driver, "NOISE_BLOCK_BYTES", block_bytes)
    w = small_wgan(N=6, M=5, batch_size=3, n_critic=2, scheme=scheme, population=population)
    sched = make_schedule(w.dt, steps * w.dt, n_records=3)
    assert sched.n_steps == steps and sched.record_every == steps // 2
    if block_bytes is not None and not population and scheme == "simultaneous":
        block, rest = driver._noise_block(w, sched.record_every)
        # 48 bytes a step (z and x, 3 points each, float64): blocks of 1 step (64 bytes), and
        # of 8 steps then 5 for a record of 13 steps (384 bytes).
        assert (block, rest) == ((1, 0) if block_bytes == 64 else (8, 5))
    key_init, key_noise = jax.random.key(1), jax.random.key(2)
    traj = simulate(w, sched, key_init[None], key_noise[None])
    state = w.init(key_init)
    step = jax.jit(w.step)
    for k in range(steps):
        state = step(state, w.step_noise(jax.random.fold_in(key_noise, k)))
    assert np.abs(np.asarray(state.gen) - np.asarray(w.init(key_init).gen)).max() > 1e-4
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(traj.final_state)):
        np.testing.assert_allclose(np.asarray(y)[0], np.asarray(x), rtol=0, atol=1e-12)


@pytest.mark.slow  # 30 s: three compilations of large chunk programs
def test_memory_grows_with_snapshots_not_steps():
    """XLA's buffers of a compiled chunk: once the steps per record exceed one block of
    pre-drawn noise (``NOISE_BLOCK_BYTES``), 10× more steps cost no more memory; every extra
    snapshot costs one copy of the particles."""
    from meanfield.core import driver

    w = small_wgan(N=64, M=64, dtype="float32")
    init_keys, noise_keys = replica_keys(0, 2)

    def chunk_bytes(record_every, snaps):
        sched = driver.Schedule(w.dt, record_every, 4, snaps)
        prog = driver._Programs(sched, 4, False, None)
        state = jax.vmap(w.init)(init_keys)
        shot = jax.vmap(w.snapshot)(state)
        buf = jax.tree.map(lambda x: jnp.repeat(x[:, None], max(1, len(snaps)), 1), shot)
        carry = driver.Carry(state, buf, jnp.full((2,), -1, jnp.int32))
        m = prog.compiled(w, carry, noise_keys).memory_analysis()
        return m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes

    particles = 2 * 64 * (3 + 3) * 4  # R · (N·(L+2) + M·(K+2)) float32 bytes
    # Drawing a block of noise needs about 20x its size in RNG temporaries: bounded, whatever
    # the number of steps.
    base = chunk_bytes(1, (4,))
    for steps in (100_000, 1_000_000):
        assert chunk_bytes(steps, (4,)) - base <= 2 * 32 * driver.NOISE_BLOCK_BYTES, steps
    one, five = chunk_bytes(100, (4,)), chunk_bytes(100, (0, 1, 2, 3, 4))
    assert five - one >= 4 * particles
