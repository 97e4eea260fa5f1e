"""The MMD, KALE and Langevin flows (docs/model.md §8) against closed forms and identities.

Tolerances: float64 throughout. Identities that hold exactly up to round-off (closed-form gradient
against autodiff, blocked against dense sums, the Gaussian smoothing under Gauss–Hermite
quadrature, particle duplication) are checked to 1e-10 or tighter; the limits (KALE → ½MMD²,
KALE → KL, dissipation as Δt → 0) by their rates; Langevin's stationary law by a 5-standard-error
band.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield.io import config as C
from meanfield.measures import laws
from meanfield.measures.kernels import KERNELS, Kernel, kernel_sums, smoothed_gaussian
from meanfield.schemes.noise_injection import noise_level
from meanfield.systems.kernel_flows import kale, langevin, mmd
from meanfield.systems.kernel_flows.system import make_flow


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def cloud(seed, n, d=2, shift=0.0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(n, d)) + shift)


def dense_half_mmd2(k: Kernel, x, z):
    """½MMD² from dense Gram matrices (the definition)."""
    return 0.5 * (k(x, x).mean() - 2 * k(x, z).mean() + k(z, z).mean())


@pytest.mark.parametrize("name", KERNELS)
def test_blocked_sums_and_gradient_match_dense_and_autodiff(name):
    """kernel_sums in blocks of 3 (padding included) = dense sums; its closed-form gradient =
    autodiff of the dense sum, a coincident pair included (the Laplace kernel's gradient at
    r = 0 is 0 in both)."""
    k = Kernel(name, 0.7)
    y, x = cloud(0, 9), cloud(1, 7)
    x = x.at[0].set(y[0])  # a coincident pair: r = 0
    w = jnp.asarray(np.random.default_rng(2).normal(size=7))
    val, grad = kernel_sums(k, y, x, w, block=3)
    np.testing.assert_allclose(val, k(y, x) @ w, rtol=0, atol=1e-13)
    # At r = 0 both set the gradient to 0 (Kernel.profile's double where): no special case.
    auto = jax.grad(lambda y: jnp.sum(k(y, x) @ w))(y)
    np.testing.assert_allclose(grad, auto, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", KERNELS)
def test_N_dF_equals_witness_gradient(name):
    """N·∂F/∂xᵢ = ∇f(xᵢ): autodiff of the dense ½MMD² against the blocked witness gradient."""
    k = Kernel(name, 1.3)
    x, z = cloud(3, 11), cloud(4, 6, shift=1.0)
    N, M = len(x), len(z)
    dF = jax.grad(lambda x: dense_half_mmd2(k, x, z))(x)
    _, grad = mmd.witness(k, x, x, jnp.full(N, 1 / N), z, jnp.full(M, 1 / M), block=4)
    np.testing.assert_allclose(N * dF, grad, rtol=0, atol=1e-12)
    v = mmd.half_mmd2(k, x, jnp.full(N, 1 / N), z, jnp.full(M, 1 / M), k(z, z).mean(),
                      block=4)
    np.testing.assert_allclose(v, dense_half_mmd2(k, x, z), rtol=1e-13)


def _mmd_system(N=40, M=30, lr=1e-3, **kw):
    return make_flow(flow="mmd", N=N, d=2, lr=lr, initial=laws.gaussian_mixture([1], [[1, 1]], [1]),
                     target=laws.gaussian_mixture([1], [[0, 0]], [1]), kernel=Kernel("gaussian", 1.0),
                     M=M, dtype="float64", **kw)


def test_dissipation_along_the_flow():
    """dF/dt = −(1/N)Σ|∇f(xᵢ)|²: the explicit step's difference quotient has an O(Δt) error."""
    errs = []
    for dt in (1e-3, 5e-4):
        s = _mmd_system(lr=dt)
        st = s.init(jax.random.key(0))
        loss = jax.jit(lambda st: s.observe(st)["half_mmd2"])
        f0 = loss(st)
        g = s.gradient(st.x, st.x, (), s.expect(jax.random.key(1)))
        rate = -jnp.mean(jnp.sum(g * g, -1))
        f1 = loss(jax.jit(s.step)(st, jax.random.key(1)))
        errs.append(float(abs((f1 - f0) / dt - rate) / abs(rate)))
    assert errs[0] < 2e-3, errs
    assert 1.8 < errs[0] / errs[1] < 2.2, errs  # first order in Δt


def test_noise_injection_is_the_smoothed_kernel_flow_in_expectation():
    """E_u ∇f(x + βu) = ∇f_β(x), f_β the witness of c·k_{√(σ²+β²)} (Gauss–Hermite in u, d = 2)."""
    sigma, beta = 0.8, 0.6
    s = _mmd_system(schedule="constant", beta=beta)
    st = s.init(jax.random.key(0))
    x = st.x
    _, z, q = s.expect(jax.random.key(1))
    u, wts = laws.gauss_hermite(40, 2)
    k = Kernel("gaussian", sigma)
    p = jnp.full(s.N, 1 / s.N)

    grads = jax.jit(jax.vmap(lambda shift: mmd.witness(k, x + beta * shift[None], x, p, z, q)[1]))
    mean = jnp.einsum("q,qnd->nd", jnp.asarray(wts), grads(jnp.asarray(u)))
    c, kb = smoothed_gaussian(sigma, beta, 2)
    exact = c * mmd.witness(kb, x, x, p, z, q)[1]
    np.testing.assert_allclose(mean, exact, rtol=0, atol=1e-10)


@pytest.mark.parametrize("flow", ["mmd", "kale", "langevin"])
def test_closed_form_gradient_is_the_potentials_gradient(flow):
    """GradientFlow with ``gradient`` (blocked closed form) = the same flow differentiating
    ``potential`` by autodiff: one step, noise injection on for mmd."""
    kw = dict(schedule="constant", beta=0.3) if flow == "mmd" else {}
    s = make_flow(flow=flow, N=12, d=2, lr=0.1, initial=laws.gaussian_mixture([1], [[1, 1]], [1]),
                  target=laws.gaussian_mixture([1], [[0, 0]], [1]), kernel=Kernel("imq", 0.8),
                  M=9, dtype="float64", block=4, lam=0.3, **kw)
    st = s.init(jax.random.key(0))
    auto = dataclasses.replace(s.scheme, gradient=None)
    key = jax.random.key(1)
    np.testing.assert_allclose(jax.jit(s.step)(st, key).x, jax.jit(auto.step)(st, key).x,
                               rtol=0, atol=1e-13)


def test_noise_schedules():
    n = jnp.arange(8)
    np.testing.assert_allclose(noise_level("until", 2.0, n, n0=3), [2, 2, 2, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(noise_level("sqrt", 2.0, n), 2 / np.sqrt(np.arange(8) + 1))
    np.testing.assert_allclose(noise_level("halving", 2.0, n, k=3),
                               [2, 2, 2, 1, 1, 1, .5, .5])
    np.testing.assert_allclose(noise_level("constant", 2.0, n), 2.0)
    np.testing.assert_allclose(noise_level("none", 2.0, n), 0.0)


def test_duplicating_every_particle_leaves_the_flow_unchanged():
    """Particles appear in the dynamics only through the empirical measure: 2N particles made of
    each particle twice move as the N originals (the MMD and KALE flows, 20 steps)."""
    for flow in ("mmd", "kale"):
        kw = dict(d=2, lr=0.05, initial=laws.gaussian_mixture([1], [[1, 1]], [1]),
                  target=laws.gaussian_mixture([1], [[0, 0]], [1]), kernel=Kernel("gaussian", 1.0),
                  M=25, dtype="float64", lam=0.5, newton_tol=1e-13)
        one, two = make_flow(flow=flow, N=16, **kw), make_flow(flow=flow, N=32, **kw)
        s1 = one.init(jax.random.key(0))
        s2 = two.scheme.init(jnp.concatenate([s1.x, s1.x]), s1.aux)
        step1, step2 = jax.jit(one.step), jax.jit(two.step)
        for i in range(20):
            s1, s2 = step1(s1, jax.random.key(i)), step2(s2, jax.random.key(i))
        np.testing.assert_allclose(s2.x[:16], s1.x, rtol=0, atol=1e-12)
        np.testing.assert_allclose(s2.x[16:], s1.x, rtol=0, atol=1e-12)


# -- KALE ----------------------------------------------------------------------------------

def _kale_pair():
    y, x = cloud(5, 40), cloud(6, 30, shift=0.8)
    return Kernel("gaussian", 1.0), y, jnp.full(40, 1 / 40), x, jnp.full(30, 1 / 30)


def test_kale_duality_gap_certifies_the_solve():
    """At Newton's solution the gap D(α) − J(h_α) is round-off; at α = q (a = 0) it is positive."""
    k, y, p, x, q = _kale_pair()
    for lam in (1e-2, 1.0, 1e2):
        _, sol = kale.kale(k, y, p, x, q, lam)
        assert bool(sol.converged)
        assert abs(float(sol.gap)) < 1e-12, (lam, sol.gap)
        pr = kale.problem(k, y, p, x, q, k(x, x), lam)
        assert float(kale.dual(jnp.zeros(30), pr) - kale.primal(jnp.zeros(30), pr)) > 1e-6


def test_kale_approaches_half_mmd2_like_one_over_lambda():
    """KALE − ½MMD² = O(1/λ): fitted log–log slope over λ = 10², …, 10⁴ within 0.05 of −1."""
    k, y, p, x, q = _kale_pair()
    h = float(dense_half_mmd2(k, y, x))
    lams = np.array([1e2, 1e3, 1e4])
    err = [float(kale.kale(k, y, p, x, q, lam)[0]) - h for lam in lams]
    assert all(e > 0 for e in err), err
    slope = np.polyfit(np.log(lams), np.log(err), 1)[0]
    assert abs(slope + 1) < 0.05, (slope, err)


def test_kale_approaches_kl_on_a_shared_finite_support():
    """P ≪ Q on five common points: KALE → KL(P‖Q) as λ → 0 (relative error < 1e-3 at 1e-6)."""
    k = Kernel("gaussian", 1.0)
    pts = cloud(7, 5) * 2
    p = jnp.array([.1, .2, .3, .15, .25])
    q = jnp.full(5, .2)
    kl = float(jnp.sum(p * jnp.log(p / q)))
    errs = [abs(float(kale.kale(k, pts, p, pts, q, lam, max_steps=100)[0]) - kl) / kl
            for lam in (1e-2, 1e-4, 1e-6)]
    assert errs[-1] < 1e-3 and errs[0] > errs[1] > errs[2], errs


def test_kale_warm_start_does_not_change_the_solution():
    """Newton from a = 0 and from the previous step's solution (moved particles) agree."""
    k, y, p, x, q = _kale_pair()
    lam = 0.1
    cold = kale.kale(k, y, p, x, q, lam)[1]
    y2 = y + 0.05
    pr2 = kale.problem(k, y2, p, x, q, k(x, x), lam)
    warm = kale.solve(pr2, cold.a)
    fresh = kale.solve(pr2, jnp.zeros(30))
    np.testing.assert_allclose(warm.a, fresh.a, rtol=0, atol=1e-9)
    assert int(warm.steps) < int(fresh.steps)


# -- Langevin ------------------------------------------------------------------------------

def test_langevin_stationary_law_for_a_gaussian_target():
    """ULA on N(m, I) with γ = 0.5 keeps N(m, I/(1 − γ/2)): variance 4/3, not 1."""
    gamma, m = 0.5, np.array([1.0, -2.0])
    s = make_flow(flow="langevin", N=20000, d=2, lr=gamma,
                  initial=laws.gaussian_mixture([1], [m.tolist()], [1]),
                  target=laws.gaussian_mixture([1], [m.tolist()], [1]),
                  kernel=Kernel("gaussian", 1.0), M=10, dtype="float64")
    st = s.init(jax.random.key(0))
    step = jax.jit(s.step)
    for i in range(60):
        st = step(st, jax.random.key(i))
    v = langevin.stationary_variance(1.0, gamma)
    x = np.asarray(st.x)
    se = v * np.sqrt(2 / x.size)
    assert abs(x.var(0).mean() - v) < 5 * se, (x.var(0), v)
    assert np.all(np.abs(x.mean(0) - m) < 5 * np.sqrt(v / len(x)))


# -- the kinds as configs and runs ---------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    ({"kind": "kale", "target_points": "resampled"}, "system.target_points"),
    ({"kind": "langevin", "target": {"law": "atoms", "atoms": [[0.0, 0.0]]}}, "system.target.law"),
    ({"kind": "mmd", "target_points": "quadrature", "target": {"law": "atoms"}},
     "system.target_points"),
    ({"kind": "mmd", "d": 3}, "system.initial.means"),
    ({"kind": "mmd", "kernel": {"name": "cauchy"}}, "system.kernel.name"),
    ({"kind": "mmd", "noise": {"beta": -1.0}}, "system.noise.beta"),
])
def test_bad_configs_name_the_field(raw, key):
    with pytest.raises(C.ConfigError, match=key.replace(".", r"\.")):
        C.from_dict({"system": raw})


@pytest.mark.parametrize("kind", ["mmd", "kale", "langevin"])
def test_each_kind_runs_and_its_loss_falls(kind, tmp_path):
    raw = {"system": {"kind": kind, "N": 64, "M": 64, "lr": 1.0,
                      "initial": {"means": [[2.0, 2.0]]}, "target_points": "fixed"},
           "run": {"T": 10.0, "n_records": 3, "replicas": 2, "snapshot_times": [0.0, 10.0]}}
    if kind == "mmd":
        raw["system"]["noise"] = {"schedule": "until", "beta": 0.5, "n0": 5}
    res = mf.run(C.from_dict(raw), tmp_path / kind)
    h = np.asarray(res.trajectory.observables["half_mmd2"])
    assert np.all(np.isfinite(h)) and np.all(h[:, -1] < 0.5 * h[:, 0]), h
    assert (tmp_path / kind / "figures" / "particles.png").exists()
    assert (tmp_path / kind / "figures" / "loss.png").exists()
    assert "kernel" in res.summary
    if kind == "kale":
        assert np.all(np.asarray(res.trajectory.observables["newton_converged"]) == 1)
        assert np.all(np.abs(np.asarray(res.trajectory.observables["duality_gap"])) < 1e-5)


@pytest.mark.slow  # 13 s; the default suite keeps the kinds' runs above
def test_noise_injection_study_in_process(tmp_path):
    """The noise-injection study on tiny sizes (the scripts' subprocess smoke tests, the λ study
    included, are slow-marked): numbers.json, and a rerun reads the runs back."""
    from meanfield.studies import flows

    raw = {"system": {"kind": "mmd", "N": 30, "M": 30, "lr": 1.0,
                      "initial": {"means": [[2.0, 2.0]]},
                      "noise": {"schedule": "halving", "beta": 1.0, "k": 5}},
           "run": {"T": 20.0, "n_records": 3, "replicas": 2, "snapshot_times": [0.0, 20.0]}}
    cfg = C.from_dict(raw)
    with jax.enable_x64(False):
        numbers = flows.noise_injection(cfg, tmp_path / "g")
        mtime = (tmp_path / "g" / "noise" / "summary.json").stat().st_mtime
        assert flows.noise_injection(cfg, tmp_path / "g") == numbers
    assert (tmp_path / "g" / "noise" / "summary.json").stat().st_mtime == mtime
    assert len(numbers["noise"]["final_half_mmd2_per_seed"]) == 2
    assert numbers["noise"]["initial_w2_exact"] == numbers["no_noise"]["initial_w2_exact"]
