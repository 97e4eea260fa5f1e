"""Teacher–student regression as a :class:`~meanfield.core.system.ParticleSystem`.

:class:`Regression` moves N student neurons θᵢ ``[N, K, L+2]`` down the Wasserstein gradient flow
of the risk E[μ] = ½∫|g_μ − g*|² dP (:mod:`.aggregation`), a
:class:`~meanfield.schemes.gradient_flow.GradientFlow` with ``optax.sgd(lr)``: one step is
explicit Euler with Δt = lr,

    θᵢ ← θᵢ − lr ∇_θ δE/δμ[μ_k](θᵢ + β_k uᵢ),

with the expectation over P either the input law's rule (the population flow) or m fresh samples
(online SGD, an unbiased estimate of the same velocity), and β_k the noise-injection schedule of
[AKSG] (β = 0: none). The velocity is the closed form of
:func:`.aggregation.first_variation_gradient`.

The system is a pytree: the teacher's neurons, the rule and the noise level β are leaves (a sweep
stacks systems that differ in the teacher's seed or in β), everything that fixes shapes or the
step count is static.

Observables (every one under the rule, whichever expectation moves the particles): ``energy`` E,
``half_mmd2`` (½MMD² for the kernel W, from Gram matrices; equal to E up to round-off; when
``numerics.mmd_form``), ``dissipation`` ∫|∇δE/δμ|² dμ (= −dE/dt of the population flow),
``second_moment`` ∫|θ|² dμ, ``inner_distance`` (the |a|-weighted mean distance from each student
neuron's inner weights (b, c) to the nearest teacher neuron's), ``param_mean`` and ``param_std``
``[K, L+2]``.

References:
    [AKSG] M. Arbel, A. Korba, A. Salim, A. Gretton. *Maximum Mean Discrepancy Gradient Flow.*
        NeurIPS 2019.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from meanfield.core.system import static_field
from meanfield.measures.laws import StandardGaussian
from meanfield.metrics import moments
from meanfield.networks.initial import BlockLaw, init_generator
from meanfield.networks.readout import activation, generator
from meanfield.schemes.gradient_flow import FlowState, GradientFlow
from meanfield.schemes.noise_injection import SCHEDULES, perturb
from meanfield.systems.regression import aggregation as agg
from meanfield.measures.sphere import UniformSphere

Array = jax.Array
INPUT_LAWS = {"gaussian": StandardGaussian, "sphere": UniformSphere}



def input_law(name: str, L: int):
    """The input law P called ``name`` (``"gaussian"`` or ``"sphere"``) on R^L."""
    try:
        return INPUT_LAWS[name](L)
    except KeyError:
        raise ValueError(f"inputs: expected one of {', '.join(INPUT_LAWS)}, got {name!r}") from None


def draw_teacher(seed: int, N: int, K: int, L: int, a: BlockLaw, b: BlockLaw, c: BlockLaw,
                 dtype=jnp.float32) -> Array:
    """The teacher's neurons ``[N*, K, L+2]``, drawn from ``seed`` (in float32, then cast, as every
    initial law: one seed gives the same teacher in both precisions)."""
    return init_generator(jax.random.key(seed), N, K, L, a, b, c, jnp.dtype(dtype))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Regression:
    """N student neurons under the gradient flow of the regression risk (module docstring).

    Build it with :func:`make_regression`.

    Attributes:
        teacher: the teacher's neurons ``[N*, K, L+2]``.
        rule_x: the input law's rule points ``[Q, L]``.
        rule_w: their weights ``[Q]``.
        beta: noise level β.
        N, K, L: student neurons, output and input dimensions.
        lr: the step (Δt = lr).
        inputs: the input law P.
        population: expectations by the rule (else ``batch_size`` fresh samples per step).
        batch_size: m.
        initial: the student's initial block laws (a, b, c).
        schedule, n0, k_half: the noise-injection schedule
            (:mod:`meanfield.schemes.noise_injection`).
        act: activation name.
        mmd_form: record ``half_mmd2``.
        dtype: float dtype name.
        rule_kinds: which rule gives the expectations.
    """

    teacher: Array
    rule_x: Array
    rule_w: Array
    beta: Array
    N: int = static_field()
    K: int = static_field()
    L: int = static_field()
    lr: float = static_field()
    inputs: StandardGaussian | UniformSphere = static_field()
    population: bool = static_field()
    batch_size: int = static_field()
    initial: tuple = static_field()
    schedule: str = static_field()
    n0: int = static_field()
    k_half: int = static_field()
    act: str = static_field()
    mmd_form: bool = static_field()
    dtype: str = static_field()
    rule_kinds: tuple = static_field()

    @property
    def dt(self) -> float:
        return float(self.lr)

    @property
    def s(self):
        return activation(self.act)

    # -- the scheme ----------------------------------------------------------------------------
    def expect(self, key: Array):
        """The step's key and its expectation over P: ``(key, x [B, L], w [B])``."""
        if self.population:
            return key, self.rule_x, self.rule_w
        x = self.inputs.sample(jax.random.fold_in(key, 0), self.batch_size,
                               jnp.dtype(self.dtype))
        return key, x, jnp.full((self.batch_size,), 1.0 / self.batch_size, x.dtype)

    def inject(self, theta: Array, e, count: Array) -> Array:
        """θ + β_count u with u ~ N(0, I) drawn from the step's key."""
        return perturb(theta, jax.random.fold_in(e[0], 1), self.schedule, self.beta, count,
                       self.n0, self.k_half)

    def potential(self, y: Array, theta: Array, aux, e) -> Array:
        """δE/δμ[μ_θ] at neurons ``y [n, K, L+2]`` (a :data:`GradientFlow.potential`)."""
        _, x, w = e
        return agg.first_variation(y, theta, self.teacher, x, w, self.s)

    def gradient(self, y: Array, theta: Array, aux, e) -> Array:
        """∇_y δE/δμ ``[n, K, L+2]`` in closed form."""
        _, x, w = e
        return agg.first_variation_gradient(y, theta, self.teacher, x, w, self.s)

    @property
    def scheme(self) -> GradientFlow:
        return GradientFlow(self.potential, optax.sgd(self.lr), gradient=self.gradient,
                            expect=self.expect,
                            inject=self.inject if self.schedule != "none" else None)

    # -- ParticleSystem ------------------------------------------------------------------------
    def init(self, key: Array) -> FlowState:
        a, b, c = self.initial
        theta = init_generator(key, self.N, self.K, self.L, a, b, c, jnp.dtype(self.dtype))
        return self.scheme.init(theta)

    def step(self, state: FlowState, key: Array) -> FlowState:
        return self.scheme.step(state, key)

    def observe(self, state: FlowState) -> dict[str, Array]:
        theta, x, w, s = state.x, self.rule_x, self.rule_w, self.s
        g = agg.first_variation_gradient(theta, theta, self.teacher, x, w, s)
        mean, std = moments.mean_std(theta)
        out = {"energy": agg.energy(theta, self.teacher, x, w, s),
               "dissipation": jnp.mean(jnp.sum(g * g, axis=(1, 2))),
               "second_moment": jnp.mean(jnp.sum(theta * theta, axis=(1, 2))),
               "inner_distance": inner_distance(theta, self.teacher),
               "param_mean": mean, "param_std": std}
        if self.mmd_form:
            out["half_mmd2"] = agg.half_mmd2(theta, self.teacher, x, w, s)
        return out

    def snapshot(self, state: FlowState) -> dict[str, Array]:
        return {"theta": state.x}

    # -- for figures ---------------------------------------------------------------------------
    def student(self, theta: Array, x: Array) -> Array:
        """g_μ(x) ``[B, K]`` for neurons ``theta [N, K, L+2]`` and inputs ``x [B, L]``."""
        return generator(theta, x, self.s)

    def target(self, x: Array) -> Array:
        """g*(x) ``[B, K]``."""
        return generator(self.teacher, x, self.s)


def inner_distance(theta: Array, teacher: Array) -> Array:
    """Σᵢₖ |a_ik| minⱼ |(b, c)_ik − (b, c)*_jk| / Σᵢₖ |a_ik|: how far the student's inner weights
    are from the teacher's, each neuron weighted by its output weight (neurons with a = 0 do not
    contribute to g_μ, wherever they are)."""
    inner, star = theta[..., 1:], teacher[..., 1:]
    d = jnp.sqrt(jnp.sum((inner[:, None] - star[None]) ** 2, axis=-1))  # [N, N*, K]
    a = jnp.abs(theta[..., 0])
    return jnp.sum(a * jnp.min(d, axis=1)) / jnp.maximum(jnp.sum(a), jnp.finfo(a.dtype).tiny)


def make_regression(*, N: int, K: int, L: int, lr: float, teacher: Array,
                    inputs: str = "gaussian", population: bool = True, batch_size: int = 64,
                    initial: tuple[BlockLaw, BlockLaw, BlockLaw] = (BlockLaw(), BlockLaw(),
                                                                    BlockLaw()),
                    schedule: str = "none", beta: float = 0.0, n0: int = 0, k_half: int = 1000,
                    act: str = "sigmoid", quadrature_nodes: int = 64,
                    max_quadrature_points: int = 4096, mmd_form: bool = True,
                    dtype: str = "float32") -> Regression:
    """Build a :class:`Regression`, computing the input law's rule once.

    Args:
        teacher: the teacher's neurons ``[N*, K, L+2]`` (e.g. :func:`draw_teacher`).
        inputs: ``"gaussian"`` or ``"sphere"``.
        quadrature_nodes: nodes per dimension of the rule.
        max_quadrature_points: above this the rule is a fixed sample of this size.
        (the others: see :class:`Regression`).
    """
    teacher = jnp.asarray(teacher)
    if teacher.ndim != 3 or teacher.shape[1:] != (K, L + 2):
        raise ValueError(f"teacher: expected neurons [N*, {K}, {L + 2}], got {teacher.shape}")
    activation(act)  # raises for an unknown activation
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    law = input_law(inputs, L)
    rule = law.rule(quadrature_nodes, max_quadrature_points)
    dt = jnp.dtype(dtype)
    return Regression(
        teacher=jnp.asarray(teacher, dt), rule_x=jnp.asarray(np.asarray(rule.points), dt),
        rule_w=jnp.asarray(np.asarray(rule.weights), dt), beta=jnp.asarray(beta, dt), N=N, K=K,
        L=L, lr=float(lr), inputs=law, population=population, batch_size=batch_size,
        initial=tuple(initial), schedule=schedule, n0=n0, k_half=k_half, act=act,
        mmd_form=mmd_form, dtype=dtype, rule_kinds=(("inputs", rule.kind),))


def from_config(cfg, run) -> Regression:
    """The :class:`Regression` of a ``[system]`` config of kind regression, in ``run.dtype``."""
    t, d, n = cfg.teacher, cfg.dynamics, cfg.numerics
    teacher = draw_teacher(t.seed, t.N, cfg.K, cfg.L, *t.blocks(), dtype=run.dtype)
    return make_regression(
        N=cfg.N, K=cfg.K, L=cfg.L, lr=d.lr, teacher=teacher, inputs=cfg.inputs.law,
        population=d.population, batch_size=d.batch_size, initial=cfg.init.blocks(),
        schedule=cfg.noise.schedule, beta=cfg.noise.beta, n0=cfg.noise.n0, k_half=cfg.noise.k,
        act=cfg.activation, quadrature_nodes=n.quadrature_nodes,
        max_quadrature_points=n.max_quadrature_points, mmd_form=n.mmd_form, dtype=run.dtype)
