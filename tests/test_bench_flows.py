"""The PyTorch MMD and KALE steps of `meanfield bench` follow meanfield's trajectories (so the
flows section compares identical work), and the section's rows without PyTorch."""

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from meanfield.measures import laws  # noqa: E402
from meanfield.measures.kernels import Kernel  # noqa: E402
from meanfield.studies import bench  # noqa: E402
from meanfield.systems.kernel_flows.system import make_flow  # noqa: E402

torch_reference = bench.torch_reference()  # benchmarks/torch_reference.py, outside the package

SIGMA, LR = 1.0, 1.0


def _flow(flow, **kw):
    """N = 40 particles from N(0, I₂) toward 30 points of N((2, 2), 0.5²I₂), float64: close enough
    for the kernel of bandwidth 1 to move every particle by O(1) over the steps."""
    return make_flow(flow=flow, N=40, d=2, lr=LR,
                     initial=laws.gaussian_mixture([1.0], [[0.0, 0.0]], [1.0]),
                     target=laws.gaussian_mixture([1.0], [[2.0, 2.0]], [0.5]),
                     kernel=Kernel("gaussian", SIGMA), M=30, dtype="float64", **kw)


def _meanfield_run(system, state, steps):
    """``steps`` calls of ``ParticleFlow.step`` in a scan: the final state."""
    keys = jax.random.split(jax.random.key(1), steps)
    return jax.jit(lambda s: jax.lax.scan(lambda c, k: (system.step(c, k), None), s, keys)[0])(
        state)


def test_mmd_same_trajectory_as_meanfield():
    """20 MMD steps from the same particles and target points agree to 1e-10 (float64)."""
    steps = 20
    with jax.enable_x64(True):
        system = _flow("mmd")
        state0 = system.init(jax.random.key(0))
        x_j = np.asarray(_meanfield_run(system, state0, steps).x)
        x0 = np.asarray(state0.x)
        x_t = torch_reference.mmd_trajectory(x0, np.asarray(system.target_x),
                                             np.asarray(system.target_w), LR, SIGMA, steps)
    # The particles must move (else agreement would be vacuous): about 2 here.
    assert np.abs(x_j - x0).max() > 0.1
    np.testing.assert_allclose(x_t, x_j, rtol=0, atol=1e-10)


def test_kale_same_trajectory_as_meanfield():
    """5 KALE steps (inner Newton solve, warm-started) agree to 1e-10 (float64).

    meanfield stops Newton when an update is below 1e-12; the reference runs a fixed 10
    iterations. Newton converges quadratically (4–5 iterations per step here), so both end with
    a at round-off of the same root (measured: a agrees to 3e-16, x to 2e-15): the 1e-10
    tolerance leaves five orders of margin for other BLAS/LAPACK builds and still fails when one
    side stops early (3 iterations per step already give a 1e-9 difference in x).
    """
    steps = 5
    with jax.enable_x64(True):
        system = _flow("kale", lam=1.0, newton_tol=1e-12)
        state0 = system.init(jax.random.key(0))
        final = _meanfield_run(system, state0, steps)
        x0 = np.asarray(state0.x)
        x_t, a_t = torch_reference.kale_trajectory(
            x0, np.asarray(state0.aux.a), np.asarray(system.target_x),
            np.asarray(system.target_w), np.asarray(system.gram), LR, SIGMA, 1.0, steps,
            newton_steps=10)
    assert bool(final.aux.converged)
    assert np.abs(np.asarray(final.x) - x0).max() > 0.1
    np.testing.assert_allclose(a_t, np.asarray(final.aux.a), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x_t, np.asarray(final.x), rtol=0, atol=1e-10)


def test_regression_same_trajectory_as_meanfield():
    """20 steps of the regression's population flow (autograd of the risk in PyTorch, the closed
    form of ∇δE/δμ in meanfield) agree to 1e-10 (float64), with K = 2 outputs, L = 3 inputs."""
    from meanfield.networks.initial import BlockLaw
    from meanfield.systems.regression.system import draw_teacher, make_regression

    steps = 20
    with jax.enable_x64(True):
        teacher = draw_teacher(0, 3, 2, 3, BlockLaw(0, 4), BlockLaw(0, 3), BlockLaw(0, 1),
                               "float64")
        system = make_regression(N=12, K=2, L=3, lr=2.0, teacher=teacher, quadrature_nodes=5,
                                 dtype="float64")
        state0 = system.init(jax.random.key(0))
        theta_j = np.asarray(_meanfield_run(system, state0, steps).x)
        th0 = np.asarray(state0.x)
        run = torch_reference.regression_runner(th0, np.asarray(teacher),
                                                np.asarray(system.rule_x),
                                                np.asarray(system.rule_w), 2.0)
        theta_t = run(steps)
    assert np.abs(theta_j - th0).max() > 0.1
    np.testing.assert_allclose(theta_t, theta_j, rtol=0, atol=1e-10)


@pytest.mark.parametrize("flow", ["mmd", "kale", "regression"])
def test_flow_row_without_torch(flow):
    """A tiny flows row with the PyTorch side switched off: meanfield timed, torch columns None,
    and the markdown table renders it."""
    cfg = bench.FlowBenchConfig(flow=flow, N=16, M=16 if flow != "regression" else 3)
    row = bench.bench_flow(cfg, budget=0.01, torch=False)
    assert row["steps_per_second"] > 0 and row["repeats"] >= 3
    for k in ("torch_steps_per_second", "torch_compile_steps_per_second", "speedup_vs_torch",
              "speedup_vs_torch_compile"):
        assert row[k] is None
    if flow == "kale":
        assert row["newton_steps"] >= 1
    md = bench.flows_markdown([row])
    assert f"| {flow} | 16 | {cfg.M} | {cfg.d} |" in md and "| — | — |" in md


def test_flow_table():
    """The flows section: MMD at N = M ∈ {1000, 4096} and KALE at N = M = 300 (d = 2), the
    regression at N = 1024 (d = 1) and N = 4096 (d = 8); float32."""
    rows = [(c.flow, c.N, c.M, c.d, c.dtype) for c in bench.flow_configs()]
    assert rows == [("mmd", 1000, 1000, 2, "float32"), ("mmd", 4096, 4096, 2, "float32"),
                    ("kale", 300, 300, 2, "float32"), ("regression", 1024, 4, 1, "float32"),
                    ("regression", 4096, 16, 8, "float32")]
