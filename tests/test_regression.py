"""Teacher–student regression (docs/regression.md) against identities and closed forms.

Tolerances: float64 throughout. Identities that hold exactly up to round-off (N∇E against the
closed-form velocity, the aggregation and MMD forms of the risk, the sphere rule's moments,
particle duplication, a student equal to the teacher) are checked to 1e-10 or tighter; the
dissipation identity by its first-order rate in Δt; learning a teacher by orders of magnitude of
the risk; SGD's unbiasedness by a 5-standard-error band.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from conftest import ROOT
from meanfield.io import config as C
from meanfield.networks.initial import BlockLaw
from meanfield.networks.readout import activation, generator
from meanfield.systems import regression
from meanfield.systems.regression import aggregation as agg
from meanfield.measures.sphere import UniformSphere
from meanfield.systems.regression.system import draw_teacher, make_regression

@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def neurons(seed, n, K, L, scale=1.0):
    """Neurons ``[n, K, L+2]`` with N(0, scale²) coordinates (numpy: no compilation per shape)."""
    return jnp.asarray(scale * np.random.default_rng(seed).standard_normal((n, K, L + 2)))


def system(*, N=12, K=1, L=1, lr=0.1, teacher=None, **kw):
    if teacher is None:
        teacher = neurons(100, 3, K, L, 2.0)
    kw.setdefault("quadrature_nodes", 12)
    return make_regression(N=N, K=K, L=L, lr=lr, teacher=teacher, dtype="float64", **kw)


def start(s, theta):
    return s.scheme.init(theta)


# -- the risk and its forms ----------------------------------------------------------------

@pytest.mark.parametrize("law, K, L, act", [("gaussian", 2, 2, "sigmoid"),
                                            ("sphere", 1, 3, "tanh")])
def test_aggregation_form_and_half_mmd2_equal_the_risk(law, K, L, act):
    """½∬W dμdμ + ∫V dμ + C = E = ½MMD²_W(μ, μ*) under the same rule (1e-10), and W is a
    symmetric positive semi-definite Gram matrix."""
    s = system(N=15, K=K, L=L, inputs=law, act=act)
    theta, sig = neurons(1, 15, K, L), activation(act)

    @jax.jit
    def forms(theta, teacher, x, w):
        both = jnp.concatenate([theta, teacher])
        return (agg.energy(theta, teacher, x, w, sig),
                agg.aggregation_energy(theta, teacher, x, w, sig),
                agg.half_mmd2(theta, teacher, x, w, sig),
                agg.energy(theta.at[..., 0].set(0.0), teacher, x, w, sig),
                agg.constant(teacher, x, w, sig), agg.interaction(both, both, x, w, sig))

    e, aggregated, mmd, zero, const, gram = forms(theta, s.teacher, s.rule_x, s.rule_w)
    assert float(e) > 1e-2  # not a trivial zero
    np.testing.assert_allclose(aggregated, e, rtol=0, atol=1e-10)
    np.testing.assert_allclose(mmd, e, rtol=0, atol=1e-10)
    # C is the risk of the zero network (a = 0 everywhere).
    np.testing.assert_allclose(zero, const, rtol=0, atol=1e-14)
    gram = np.asarray(gram)
    np.testing.assert_allclose(gram, gram.T, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(gram).min() > -1e-12


def test_features_average_to_the_readout():
    """The per-neuron features σ(x; θᵢ) average to ``generator`` (the shared readout)."""
    theta, x = neurons(2, 7, 2, 3), neurons(3, 11, 1, 1).reshape(11, 3)
    s = activation("tanh")
    np.testing.assert_allclose(agg.features(theta, x, s).mean(axis=1), generator(theta, x, s),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("population", [True, False])
def test_N_grad_E_is_the_velocity(population):
    """N·∇_{θᵢ}E (autodiff of the risk under the step's expectation) = −velocity, by the closed
    form and by autodiff of the first variation (1e-12), for the rule and for an SGD batch."""
    K, L, N = 2, 2, 9
    s = system(N=N, K=K, L=L, population=population, batch_size=17, inputs="sphere")
    st = start(s, neurons(4, N, K, L))

    @jax.jit
    def three(st, key):
        e = s.expect(key)
        _, x, w = e
        dE = jax.grad(lambda th: agg.energy(th, s.teacher, x, w, s.s))(st.x)
        return (dE, s.scheme.velocity(st, e),
                dataclasses.replace(s.scheme, gradient=None).velocity(st, e))

    dE, closed, auto = three(st, jax.random.key(5))
    assert float(jnp.abs(closed).max()) > 1e-3
    np.testing.assert_allclose(N * dE, -closed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(auto, closed, rtol=0, atol=1e-12)


def test_energy_dissipation_along_the_population_flow():
    """dE/dt = −∫|∇δE/δμ|² dμ: one step's difference quotient has an O(Δt) relative error."""
    errs = []
    for dt in (1e-3, 5e-4):
        s = system(N=20, K=2, L=2, lr=dt)
        st = start(s, neurons(6, 20, 2, 2))
        obs = jax.jit(s.observe)
        o0 = obs(st)
        o1 = obs(jax.jit(s.step)(st, jax.random.key(0)))
        rate = -o0["dissipation"]
        errs.append(float(abs((o1["energy"] - o0["energy"]) / dt - rate) / abs(rate)))
    assert errs[0] < 1e-3, errs
    assert 1.8 < errs[0] / errs[1] < 2.2, errs  # first order in Δt


def test_sgd_velocity_is_unbiased():
    """The mean SGD velocity over 4000 batches of m = 8 fresh inputs is the population velocity
    (rule of 64 Gauss–Hermite nodes), within 5 standard errors in every coordinate."""
    kw = dict(N=6, K=1, L=1, quadrature_nodes=64, batch_size=8)
    sgd, pop = system(population=False, **kw), system(population=True, **kw)
    st = start(sgd, neurons(7, 6, 1, 1))
    keys = jax.random.split(jax.random.key(8), 4000)
    v = np.asarray(jax.jit(jax.vmap(lambda k: sgd.scheme.velocity(st, sgd.expect(k))))(keys))
    exact = np.asarray(pop.scheme.velocity(st, pop.expect(jax.random.key(0))))
    se = v.std(axis=0) / np.sqrt(len(v))
    assert np.all(np.abs(v.mean(axis=0) - exact) < 5 * se + 1e-12), (v.mean(0) - exact) / se


# -- minima, invariances -------------------------------------------------------------------

def test_student_made_of_the_teacher_twice_is_at_rest():
    """μ = μ* with every teacher neuron twice: E = 0 and the flow stays put (50 steps)."""
    s = system(N=6, K=2, L=2, lr=0.5, teacher=neurons(9, 3, 2, 2, 2.0))
    st = start(s, jnp.concatenate([s.teacher, s.teacher]))
    energy = jax.jit(lambda st: s.observe(st)["energy"])
    assert float(energy(st)) < 1e-28
    v = jax.jit(lambda st: s.scheme.velocity(st, s.expect(jax.random.key(0))))(st)
    assert float(jnp.abs(v).max()) < 1e-14
    end = jax.jit(lambda st: jax.lax.fori_loop(0, 50, lambda i, st: s.step(st, None), st))(st)
    np.testing.assert_allclose(end.x, st.x, rtol=0, atol=1e-13)
    assert float(energy(end)) < 1e-28


def test_overparameterised_student_learns_the_teacher():
    """N = 60 ≫ N* = 3 from a nearby init (each teacher neuron 20 times, perturbed by N(0, 0.5²)):
    the population flow lowers E by more than two orders of magnitude in 200 steps (T = 100)."""
    teacher = draw_teacher(1, 3, 1, 1, BlockLaw(0.0, 4.0), BlockLaw(0.0, 3.0), BlockLaw(0.0, 1.0),
                           dtype="float64")
    s = system(N=60, K=1, L=1, lr=0.5, teacher=teacher, quadrature_nodes=64)
    theta = jnp.repeat(teacher, 20, axis=0) + neurons(10, 60, 1, 1, 0.5)
    energy = jax.jit(lambda st: s.observe(st)["energy"])
    st = start(s, theta)
    e0 = float(energy(st))
    end = jax.jit(lambda st: jax.lax.fori_loop(0, 200, lambda i, st: s.step(st, None), st))(st)
    e1 = float(energy(end))
    assert e0 > 1e-2 and e1 < 1e-2 * e0, (e0, e1)


@pytest.mark.parametrize("population", [True, False])
def test_duplicating_every_particle_leaves_the_flow_unchanged(population):
    """Neurons enter only through μ: 2N neurons, each twice, move as the N originals (20 steps;
    SGD draws the same batches, whose size does not depend on N)."""
    kw = dict(K=2, L=2, lr=0.3, population=population, batch_size=16, inputs="gaussian")
    one, two = system(N=8, **kw), system(N=16, **kw)
    s1 = start(one, neurons(11, 8, 2, 2))
    s2 = start(two, jnp.concatenate([s1.x, s1.x]))
    step1, step2 = jax.jit(one.step), jax.jit(two.step)
    for i in range(20):
        s1, s2 = step1(s1, jax.random.key(i)), step2(s2, jax.random.key(i))
    assert float(jnp.abs(s1.x - neurons(11, 8, 2, 2)).max()) > 1e-2  # they did move
    np.testing.assert_allclose(s2.x[:8], s1.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s2.x[8:], s1.x, rtol=0, atol=1e-12)


def test_noise_injection_evaluates_the_velocity_at_perturbed_neurons():
    """One step with β: θ ← θ − lr ∇δE/δμ[μ](θ + βu), the measure unperturbed, u drawn from the
    step's key; with β = 0 the constant schedule is the noiseless step."""
    beta, lr = 0.4, 0.2
    s = system(N=10, K=1, L=2, lr=lr, schedule="constant", beta=beta)
    st = start(s, neurons(12, 10, 1, 2))
    key = jax.random.key(13)
    u = jax.random.normal(jax.random.fold_in(key, 1), st.x.shape, st.x.dtype)
    by_hand = jax.jit(lambda st: st.x - lr * s.gradient(st.x + beta * u, st.x, (), s.expect(key)))
    noisy = jax.jit(s.step)(st, key).x
    np.testing.assert_allclose(noisy, by_hand(st), rtol=0, atol=1e-14)
    quiet, none = (jax.jit(system(N=10, K=1, L=2, lr=lr, schedule=sch, beta=0.0).step)(st, key).x
                   for sch in ("constant", "none"))
    np.testing.assert_allclose(quiet, none, rtol=0, atol=1e-15)
    assert float(jnp.abs(noisy - none).max()) > 1e-3


def test_systems_differing_in_vmapped_fields_stack():
    """Systems with another teacher seed and β stack into one batched pytree whose vmapped steps
    are the systems' own (the kind's ``vmapped`` fields keep shapes)."""
    cfgs = [C.from_dict({"system": {"kind": "regression", "N": 8, "teacher": {"seed": seed},
                                    "noise": {"schedule": "constant", "beta": beta},
                                    "numerics": {"quadrature_nodes": 8}},
                         "run": {"dtype": "float64"}})
            for seed, beta in ((0, 0.1), (5, 0.3))]
    systems = [mf.build_system(c) for c in cfgs]
    assert not np.allclose(systems[0].teacher, systems[1].teacher)
    batched = jax.tree.map(lambda *a: jnp.stack(a), *systems)
    key = jax.random.key(0)
    states = jax.vmap(lambda s: s.init(key))(batched)
    nxt = jax.jit(jax.vmap(lambda s, st: s.step(st, key)))(batched, states)
    alone = jax.jit(lambda s: s.step(s.init(key), key).x)  # one compilation for both systems
    for i, s in enumerate(systems):
        np.testing.assert_allclose(nxt.x[i], alone(s), rtol=0, atol=1e-14)


# -- the input law on the sphere -----------------------------------------------------------

@pytest.mark.parametrize("L", [1, 2, 3])
def test_sphere_rule_moments(L):
    """The sphere rule integrates E x = 0, E xxᵀ = I and E x₁⁴ = 3L/(L + 2) (radius √L) exactly,
    and samples lie on the sphere."""
    law = UniformSphere(L)
    pts, w, _ = law.rule(8)
    assert abs(w.sum() - 1) < 1e-14
    np.testing.assert_allclose(np.sum(pts ** 2, 1), L, rtol=1e-13)
    np.testing.assert_allclose(w @ pts, 0.0, atol=1e-14)
    np.testing.assert_allclose((w[:, None] * pts).T @ pts, np.eye(L), atol=1e-13)
    np.testing.assert_allclose(w @ pts[:, 0] ** 4, 3 * L / (L + 2), rtol=1e-13)
    x = law.sample(jax.random.key(0), 100, jnp.float64)
    np.testing.assert_allclose(jnp.sum(x * x, 1), L, rtol=1e-13)


# -- the kind as a config and a run --------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    ({"noise": {"schedule": "constant", "beta": 0.0}}, "system.noise.beta"),
    ({"noise": {"beta": -1.0}}, "system.noise.beta"),
    ({"inputs": {"law": "cube"}}, "system.inputs.law"),
    ({"teacher": {"N": 0}}, "system.teacher.N"),
    ({"teacher": {"seed": -1}}, "system.teacher.seed"),
    ({"dynamics": {"lr": 0.0}}, "system.dynamics.lr"),
    ({"activation": "relu"}, "system.activation"),
    ({"init": {"b_std": -1.0}}, "system.init.b_std"),
    ({"numerics": {"mmd_form": 1}}, "system.numerics.mmd_form"),
])
def test_bad_configs_name_the_field(raw, key):
    with pytest.raises(C.ConfigError, match=key.replace(".", r"\.")):
        C.from_dict({"system": {"kind": "regression", **raw}})


def test_shipped_config_loads_and_documents_its_keys():
    cfg = C.load(ROOT / "configs" / "regression.toml")
    assert cfg.kind == "regression" and cfg.system.K == 1 and cfg.system.L == 1
    assert "kind = 'regression'" in C.describe()


def test_the_kind_runs_and_its_risk_falls(tmp_path):
    """A small SGD run through the registry: E falls, the Gram form tracks it, the figures and the
    kind's summary entries are written."""
    raw = {"system": {"kind": "regression", "N": 32,
                      "dynamics": {"lr": 0.5, "population": False, "batch_size": 32},
                      "numerics": {"quadrature_nodes": 16}},
           "run": {"T": 20.0, "n_records": 5, "replicas": 2, "snapshot_times": [0.0, 20.0]}}
    res = mf.run(C.from_dict(raw), tmp_path / "r")
    e = np.asarray(res.trajectory.observables["energy"])
    assert np.all(np.isfinite(e)) and np.all(e[:, -1] < 0.5 * e[:, 0]), e
    # float32 run: the Gram form agrees with the risk to float32 round-off.
    np.testing.assert_allclose(res.trajectory.observables["half_mmd2"], e, rtol=1e-4,
                               atol=1e-6)
    assert (tmp_path / "r" / "figures" / "loss.png").exists()
    assert (tmp_path / "r" / "figures" / "function.png").exists()
    assert 0 < res.summary["energy_ratio"] < 0.5
    assert "t = k·lr" in res.summary["time_reading"]


def test_parity_figure_when_L_exceeds_one(tmp_path):
    cfg = C.from_dict({"system": {"kind": "regression", "L": 3, "N": 5}})
    theta = np.random.default_rng(0).standard_normal((1, 2, 5, 1, 5)).astype(np.float32)
    regression.KIND.figures(tmp_path, cfg, np.array([0.0, 1.0]),
                            {"energy": np.ones((1, 2)), "dissipation": np.ones((1, 2))},
                            np.array([0.0, 1.0]), {"theta": theta})
    assert (tmp_path / "parity.png").exists() and (tmp_path / "loss.png").exists()
