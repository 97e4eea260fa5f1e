"""Recompilation guards: a run compiles its chunk program once, whatever its number of chunks,
and a sweep group of cells differing only in vmapped fields is one program (chex.assert_max_traces).

Each guarded step also counts its traces, so that a cached program (zero traces) cannot pass for a
guarded one: the tests use horizons no other test uses and check the count is exactly one.
"""

import chex
import jax
import numpy as np
import pytest

import meanfield as mf
from meanfield.studies import sweep
from meanfield.systems.toy.game import ToyGame
from meanfield.systems.wgan.system import WGAN


def _guard(monkeypatch, cls, n=1):
    """Replace ``cls.step`` by a wrapper that allows ``n`` traces and counts them."""
    original = cls.step
    count = [0]

    def counted(self, state, noise):
        count[0] += 1
        return original(self, state, noise)

    chex.clear_trace_counter()
    monkeypatch.setattr(cls, "step", chex.assert_max_traces(counted, n=n))
    return count


def test_a_run_traces_its_step_once_across_chunks_reruns_and_resume(monkeypatch):
    count = _guard(monkeypatch, ToyGame)
    game = ToyGame(N=3, M=2, dt=0.01, theta0=-1.0, theta_spread=0.1, dtype="float32")
    schedule = mf.make_schedule(game.dt, T=0.37, n_records=38)
    ik, nk = mf.replica_keys(7, 2)
    checkpoints = []
    traj = mf.simulate(game, schedule, ik, nk, chunk_records=2,
                       on_chunk=lambda done, total, ckpt: checkpoints.append(ckpt))
    assert len(checkpoints) > 10 and count[0] == 1
    again = mf.simulate(game, schedule, ik, nk, chunk_records=2)
    resumed = mf.simulate(game, schedule, ik, nk, chunk_records=2, resume=checkpoints[5])
    assert count[0] == 1  # 19 chunks, a rerun and a resume: one trace of the step
    for k in traj.observables:
        np.testing.assert_array_equal(traj.observables[k], again.observables[k])
        np.testing.assert_array_equal(traj.observables[k], resumed.observables[k])


def test_the_guard_fails_when_shapes_change(monkeypatch):
    """The same guard rejects a second trace: a run with another particle count recompiles."""
    _guard(monkeypatch, ToyGame)
    schedule = mf.make_schedule(0.01, T=0.41, n_records=42)
    ik, nk = mf.replica_keys(0, 1)
    mf.simulate(ToyGame(N=3, M=2, dt=0.01), schedule, ik, nk)
    with pytest.raises(AssertionError, match="trace"):
        mf.simulate(ToyGame(N=4, M=2, dt=0.01), schedule, ik, nk)


def test_a_sweep_group_is_one_program(monkeypatch):
    """Four WGAN cells differing in n_c, c and the seed: one trace of the step (stacked and
    vmapped), and the replicas of each cell match the cell run alone."""
    count = _guard(monkeypatch, WGAN, n=2)
    base = ["system.N=8", "system.M=8", "system.dynamics.lr=0.5", "system.dynamics.batch_size=2",
            "system.numerics.n_eval=32", "system.numerics.quadrature_nodes=6", "run.T=0.43",
            "run.n_records=44", "run.replicas=2", "run.snapshot_times=[0.0]"]
    cells = [(1, 1.0, 0), (2, 1.0, 0), (1, 0.1, 1), (3, 0.5, 2)]
    configs = [mf.load_config(None, base + [f"system.dynamics.n_critic={n}",
                                            f"system.dynamics.clip={c}", f"run.seed={s}"])
               for n, c, s in cells]
    assert len(sweep.groups([sweep.Cell(str(i), {}, c) for i, c in enumerate(configs)])) == 1
    group = sweep.simulate_cells(configs)
    assert count[0] == 1
    alone = sweep.simulate_cells(configs[3:])  # another replica count: a new program
    assert count[0] == 2
    w1 = group.trajectory.observables["w1"][6:8]
    chex.assert_trees_all_close(w1, alone.trajectory.observables["w1"], rtol=1e-5, atol=1e-6)
    chex.assert_tree_all_finite(jax.tree.map(np.asarray, group.trajectory.observables))
