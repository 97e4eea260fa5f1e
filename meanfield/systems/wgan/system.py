"""The shallow WGAN as a particle system (docs/model.md §2): generator and critic neurons under SGD,
RMSProp or exact expectations (the population dynamics), with weight clipping.

:class:`WGAN` is a pytree: the hyperparameters that keep array shapes (the clip c, the critic ratio
n_c) and the fixed evaluation arrays are leaves, everything that fixes shapes or the step count
(sizes, laws, α, m, scheme) is static. Stacking several WGANs that differ only in leaves gives one
batched system that the driver vmaps over (``simulate(..., system_batched=True)``): a sweep over c
and n_c is one compiled program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import dataclasses

from meanfield.core.system import static_field
from meanfield.metrics import coagulation, moments
from meanfield.metrics import wasserstein as obs
from meanfield.schemes.descent_ascent import SCHEMES, DescentAscent, DescentAscentState, zero_sum
from meanfield.schemes.optimizers import OPTIMIZERS, box_projection, optimizer
from meanfield.measures.laws import Law, midpoint_quantiles
from meanfield.networks.initial import BlockLaw, init_critic, init_generator
from meanfield.measures.expectation import Expectation
from meanfield.networks import smirnov as smirnov_map
from meanfield.systems.wgan.payoff import generated_points, payoff
from meanfield.networks.readout import activation, blocked, critic, generator, generator_blocked

Array = jax.Array
OUTPUTS = ("identity", "smirnov")
#: Points of the target drawn (fixed seed) for the Smirnov layer when P* is not a data set.
SMIRNOV_POINTS = 4096



@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class WGANInit:
    """Initial laws of the six parameter blocks (docs/model.md §2 notation)."""

    a: BlockLaw = BlockLaw(0.0, 1.0)
    b: BlockLaw = BlockLaw(0.0, 1.0)
    c: BlockLaw = BlockLaw(0.0, 1.0)
    alpha: BlockLaw = BlockLaw(0.0, 1.0)
    beta: BlockLaw = BlockLaw(0.0, 1.0)
    gamma: BlockLaw = BlockLaw(0.0, 1.0)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class WGAN:
    """Shallow WGAN particle dynamics implementing :class:`~meanfield.core.system.ParticleSystem`.

    Build it with :func:`make_wgan`. One step is one generator step: ``dt = lr / N`` of mean-field
    time, with critic speed γ_c = n_c N / M (docs/model.md §2).

    Attributes:
        clip: c, the half-width of Q (leaf).
        n_critic: n_c (integer leaf).
        initial: initial laws of the parameter blocks (leaves).
        rule: the exact-expectation rule of (λ, P*) (population dynamics and the payoff).
        eval_z: fixed latents ``[n_eval, L]`` for W_1, W_2.
        eval_x: target cloud, projected on ``eval_dirs`` and sorted, ``[P, n_eval]``.
        eval_dirs: unit directions ``[P, K]`` (``[[1]]`` when K = 1: exact 1-D distances).
        smirnov: the Smirnov layer's order statistics (``[K, n]``; ``[K, 1]`` zeros, unused, when
            ``output`` is ``"identity"``).
        K, L, N, M: data and latent dimensions, generator and critic particle counts.
        latent, target: the laws λ and P*.
        lr: α, the raw step size.
        batch_size: m (ignored when ``population``).
        scheme: ``"simultaneous"`` or ``"alternating"``.
        optimizer: ``"sgd"`` or ``"rmsprop"``.
        population: replace sample means by the exact expectations of ``rule``.
        act: activation name s.
        dtype: float dtype name of the particles.
        rule_kinds: which rule gives the exact expectations, per law.
        output: ``"identity"`` (the generated point is g_μ(z)) or ``"smirnov"`` (S(g_μ(z)),
            S = F_n⁻¹∘Φ per coordinate, docs/model.md §10: the interpolated layer in the game's
            losses, the exact one in the observables and :meth:`generated`).
    """

    clip: Array
    n_critic: Array
    initial: WGANInit
    rule: Expectation
    eval_z: Array
    eval_x: Array
    eval_dirs: Array
    smirnov: smirnov_map.SmirnovLayer
    K: int = static_field()
    L: int = static_field()
    N: int = static_field()
    M: int = static_field()
    latent: Law = static_field()
    target: Law = static_field()
    lr: float = static_field()
    batch_size: int = static_field()
    scheme: str = static_field()
    optimizer: str = static_field()
    population: bool = static_field()
    act: str = static_field()
    dtype: str = static_field()
    rule_kinds: tuple = static_field()
    output: str = static_field()

    @property
    def dt(self) -> float:
        return self.lr / self.N

    @property
    def critic_speed(self):
        """γ_c = n_c N / M."""
        # n_c is a traced leaf (vmapped in sweeps); keep γ_c in the run's precision.
        return jnp.asarray(self.n_critic, jnp.dtype(self.dtype)) * self.N / self.M

    @property
    def estimator(self) -> str:
        """How W_1 and W_2 are computed: ``"exact-1d"`` (K = 1) or ``"sliced"`` (see observables)."""
        return "exact-1d" if self.K == 1 else "sliced"

    def sample(self, key: Array) -> tuple[Array, Array] | tuple[()]:
        """One draw: latents ``[m, L]`` from λ and data ``[m, K]`` from P*; nothing for the
        population dynamics, whose expectation is the fixed rule."""
        if self.population:
            return ()
        kz, kx = jax.random.split(key)
        m, dt = self.batch_size, jnp.dtype(self.dtype)
        return self.latent.sample(kz, m, dt), self.target.sample(kx, m, dt)

    def expect(self, noise: tuple[Array, Array] | tuple[()]) -> Expectation:
        """The expectation of one update: the batch of :meth:`sample` with weights 1/m, or the
        rule (population)."""
        if self.population:
            return self.rule
        z, x = noise
        # Weights are built here, not carried with the noise: as constants XLA folds them.
        w = jnp.full((self.batch_size,), 1.0 / self.batch_size, z.dtype)
        return Expectation(z, w, x, w)

    def output_layer(self, train: bool):
        """The map after the generator: None (identity), else the Smirnov layer, interpolated
        (differentiable) when ``train``, exact otherwise."""
        if self.output == "identity":
            return None
        f = smirnov_map.interpolated if train else smirnov_map.exact
        return lambda h: f(self.smirnov, h)

    def draw(self, key: Array) -> Expectation:
        """The expectation used by one update drawn from ``key``."""
        return self.expect(self.sample(key))

    def game_settings(self) -> dict:
        """What every game on these networks shares: the generator steps at α, the critic at
        n_c α (simultaneous) or α (alternating) projected onto Q, the draws, the scheme."""
        crit_lr = self.lr * (self.n_critic if self.scheme == "simultaneous" else 1)
        return dict(gen_tx=optimizer(self.optimizer, self.lr),
                    crit_tx=optimizer(self.optimizer, crit_lr),
                    crit_project=box_projection(self.clip), sample=self.sample,
                    expect=self.expect, scheme=self.scheme, n_critic=self.n_critic)

    @property
    def game(self) -> DescentAscent:
        """The zero-sum descent–ascent: the critic ascends Ψ, the generator descends it."""
        s = activation(self.act)
        out = self.output_layer(train=True)
        return zero_sum(lambda g, c, e: payoff(g, c, e, s, out), **self.game_settings())

    # -- ParticleSystem --------------------------------------------------------------------
    def init(self, key: Array) -> DescentAscentState:
        kg, kc = jax.random.split(key)
        i, dt = self.initial, jnp.dtype(self.dtype)
        gen = init_generator(kg, self.N, self.K, self.L, i.a, i.b, i.c, dt)
        crit = init_critic(kc, self.M, self.K, self.clip, i.alpha, i.beta, i.gamma, dt)
        return self.game.init(gen, crit)

    def step_noise(self, key: Array):
        """The randomness of one step, drawn ahead of the step by the driver: the batch
        ``(z, x)`` of :meth:`sample` (``()`` for the population) when simultaneous; the key itself
        when alternating, since n_c (possibly a traced sweep axis) decides how many batches a step
        draws."""
        return self.sample(key) if self.scheme == "simultaneous" else key

    def step(self, state: DescentAscentState, noise) -> DescentAscentState:
        """One generator step; ``noise`` is :meth:`step_noise` of the step's key."""
        return self.game.step(state, noise)

    @property
    def block(self) -> int:
        """Points per block of the observables: they must not need O(n_eval·N·K) memory per
        replica; a block holds about 2^18 generator pre-activations (1 MiB in float32)."""
        return max(8, min(256, 2 ** 18 // (self.N * self.K)))

    def output_observables(self, state: DescentAscentState) -> tuple[Array, dict[str, Array]]:
        """The generated points at the evaluation latents ``[n_eval, K]``, and what every game on
        these networks records: W₁, W₂ to P*, moments of the outputs and of both particle sets."""
        out = generator_blocked(state.gen, self.eval_z, activation(self.act), self.block)
        if self.output != "identity":
            out = self.output_layer(train=False)(out)
        gm, gs = moments.mean_std(state.gen)
        cm, cs = moments.mean_std(state.crit)
        om, os_ = moments.mean_std(out)
        return out, {
            "w1": obs.sliced_wasserstein(out, self.eval_x, self.eval_dirs, 1),
            "w2": obs.sliced_wasserstein(out, self.eval_x, self.eval_dirs, 2),
            "boundary_mass": coagulation.boundary_mass(state.crit, self.clip),
            "gen_out_mean": om, "gen_out_std": os_,
            "gen_param_mean": gm, "gen_param_std": gs,
            "critic_param_mean": cm, "critic_param_std": cs,
        }

    def critic_observed(self, state: DescentAscentState, out: Array):
        """f_ν at the generated and at the data points of the observables, with their weights:
        ``(fake [B], w_fake [B], real [Q], w_real [Q])``.

        The data points are the rule's. The generated points are the rule's latents mapped
        through the generator, except when λ's rule is a fixed sample (L > 1): then they are the
        n_eval points ``out`` that W₁ and W₂ use (an equally weighted sample of λ too), whose
        generator outputs are already computed. A second generator pass over the rule's 4096
        latents cost two thirds of the observables at N = 256, K = L = 8 (benchmarks/README.md),
        for a Monte-Carlo estimate only 2× more precise.
        """
        s, e = activation(self.act), self.rule
        real = blocked(lambda x: critic(state.crit, x, s), e.x, self.block)
        if dict(self.rule_kinds)["latent"] == "sample":
            n = out.shape[0]
            return critic(state.crit, out, s), jnp.full((n,), 1.0 / n, out.dtype), real, e.wx
        fake = blocked(lambda z: critic(state.crit, generated_points(
            state.gen, z, s, self.output_layer(train=False)), s), e.z, self.block)
        return fake, e.wz, real, e.wx

    def observe(self, state: DescentAscentState) -> dict[str, Array]:
        out, common = self.output_observables(state)
        fake, wz, real, wx = self.critic_observed(state, out)
        return {
            "payoff": wz @ fake - wx @ real,
            **common,
            # docs/model.md §4: clamped_mass [K+3], vertex_mass, distinct_atoms, critic_diameter.
            **coagulation.observables(state.crit, self.clip),
        }

    def snapshot(self, state: DescentAscentState) -> dict[str, Array]:
        return {"gen": state.gen, "critic": state.crit}

    def generated(self, gen: Array) -> Array:
        """Generated points at the fixed evaluation latents, ``[n_eval, K]`` (for figures; through
        the exact Smirnov layer when ``output`` is ``"smirnov"``)."""
        out = generator(gen, self.eval_z, activation(self.act))
        return out if self.output == "identity" else self.output_layer(train=False)(out)


def make_wgan(*, K: int, L: int, N: int, M: int, latent: Law, target: Law, lr: float,
              n_critic: int = 1, clip: float = 0.01, batch_size: int = 1,
              scheme: str = "simultaneous", optimizer: str = "sgd", population: bool = False,
              act: str = "sigmoid", initial: WGANInit = WGANInit(), dtype: str = "float32",
              quadrature_nodes: int = 20, max_quadrature_points: int = 4096,
              n_eval: int = 1024, n_directions: int = 64, output: str = "identity",
              smirnov_data=None) -> WGAN:
    """Build a :class:`WGAN`, computing its quadrature rule and evaluation clouds once.

    Args:
        quadrature_nodes: nodes per dimension of the laws' rules.
        max_quadrature_points: above this a rule is a fixed sample of this size.
        n_eval: points per cloud for W_1 and W_2.
        n_directions: directions of the sliced estimator when K > 1.
        output: ``"identity"`` or ``"smirnov"`` (see :class:`WGAN`).
        smirnov_data: the data ``[n, K]`` the Smirnov layer is built from (default: the points of
            a data-set target, else a fixed sample of ``SMIRNOV_POINTS`` points of P*).
        (the others: see :class:`WGAN`).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: expected one of {', '.join(SCHEMES)}, got {scheme!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}, got {output!r}")
    activation(act)  # raises for an unknown activation
    dt = jnp.dtype(dtype)
    if output == "identity":
        layer = smirnov_map.SmirnovLayer(jnp.zeros((K, 1), dt))
    else:
        if smirnov_data is None:
            smirnov_data = getattr(target, "points", None)
        if smirnov_data is None:
            smirnov_data = np.asarray(target.sample(jax.random.key(3), SMIRNOV_POINTS,
                                                    jnp.float32), float)
        layer = smirnov_map.smirnov_layer(jnp.asarray(smirnov_data, dt))
    rz = latent.rule(quadrature_nodes, max_quadrature_points)
    rx = target.rule(quadrature_nodes, max_quadrature_points)
    rule = Expectation(*(jnp.asarray(a, dt) for a in (rz.points, rz.weights, rx.points,
                                                       rx.weights)))
    if L == 1:
        z = midpoint_quantiles(latent, n_eval)[:, None]
    else:
        z = np.asarray(latent.sample(jax.random.key(1), n_eval, jnp.float32), float)
    if K == 1:
        dirs = np.ones((1, 1))
        x = np.sort(midpoint_quantiles(target, n_eval))[None]
    else:
        dirs = obs.unit_directions(K, n_directions)
        pts = np.asarray(target.sample(jax.random.key(2), n_eval, jnp.float32), float)
        x = np.sort(dirs @ pts.T, axis=1)
    return WGAN(clip=jnp.asarray(clip, dt), n_critic=jnp.asarray(n_critic, jnp.int32),
                initial=initial, rule=rule, eval_z=jnp.asarray(z, dt), eval_x=jnp.asarray(x, dt),
                eval_dirs=jnp.asarray(dirs, dt), smirnov=layer, K=K, L=L, N=N, M=M, latent=latent,
                target=target, lr=float(lr), batch_size=batch_size, scheme=scheme,
                optimizer=optimizer, population=population, act=act, dtype=dtype,
                rule_kinds=(("latent", rz.kind), ("target", rx.kind)), output=output)


def from_config(cfg, run, output: str = "identity") -> WGAN:
    """The :class:`WGAN` that a ``[system]`` config (:class:`~meanfield.systems.wgan.config.WGANConfig`)
    describes, in ``run.dtype``, with the output layer ``output`` (a kind's config may hold it)."""
    d, n = cfg.dynamics, cfg.numerics
    return make_wgan(K=cfg.K, L=cfg.L, N=cfg.N, M=cfg.M, latent=cfg.latent.build(cfg.L),
                     target=cfg.target.build(), lr=d.lr, n_critic=d.n_critic, clip=d.clip,
                     batch_size=d.batch_size, scheme=d.scheme, optimizer=d.optimizer,
                     population=d.population, act=cfg.activation,
                     initial=WGANInit(**cfg.init.blocks()), dtype=run.dtype,
                     quadrature_nodes=n.quadrature_nodes,
                     max_quadrature_points=n.max_quadrature_points, n_eval=n.n_eval,
                     output=output)
