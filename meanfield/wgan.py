"""The shallow WGAN as a particle system (MODEL.md §2): generator and critic neurons under SGD,
RMSProp or exact expectations (the population dynamics), with weight clipping."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from meanfield import observables as obs
from meanfield.dynamics import Game, GameState, box_projection, optimizer
from meanfield.laws import Law, midpoint_quantiles
from meanfield.measure import BlockLaw, init_critic, init_generator
from meanfield.payoff import Expectation, payoff
from meanfield.readout import activation, generator

Array = jax.Array


@dataclass(frozen=True)
class WGANInit:
    """Initial laws of the six parameter blocks (MODEL.md §2 notation)."""

    a: BlockLaw = BlockLaw(0.0, 1.0)
    b: BlockLaw = BlockLaw(0.0, 1.0)
    c: BlockLaw = BlockLaw(0.0, 1.0)
    alpha: BlockLaw = BlockLaw(0.0, 1.0)
    beta: BlockLaw = BlockLaw(0.0, 1.0)
    gamma: BlockLaw = BlockLaw(0.0, 1.0)


@dataclass(frozen=True, eq=False)
class WGAN:
    """Shallow WGAN particle dynamics implementing :class:`~meanfield.system.ParticleSystem`.

    One step is one generator step: ``dt = lr / N`` of mean-field time, with critic speed
    γ_c = n_c N / M (MODEL.md §2).

    Attributes:
        K, L, N, M: data and latent dimensions, generator and critic particle counts.
        latent, target: the laws λ and P*.
        lr: α, the raw step size.
        n_critic: n_c.
        clip: c, the half-width of Q.
        batch_size: m (ignored when ``population``).
        scheme: ``"simultaneous"`` or ``"alternating"``.
        optimizer: ``"sgd"`` or ``"rmsprop"``.
        population: replace sample means by the exact expectations of the laws' rules.
        act: activation name s.
        initial: initial laws of the parameter blocks.
        dtype: float dtype of particles.
        quadrature_nodes: nodes per dimension of the laws' rules.
        max_quadrature_points: above this the rule is a fixed sample of this size.
        n_eval: points per cloud for W_1 and W_2.
    """

    K: int
    L: int
    N: int
    M: int
    latent: Law
    target: Law
    lr: float
    n_critic: int = 1
    clip: float = 0.01
    batch_size: int = 1
    scheme: str = "simultaneous"
    optimizer: str = "sgd"
    population: bool = False
    act: str = "sigmoid"
    initial: WGANInit = WGANInit()
    dtype: str = "float32"
    quadrature_nodes: int = 20
    max_quadrature_points: int = 4096
    n_eval: int = 1024
    n_directions: int = 64
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # -- pieces ----------------------------------------------------------------------------
    @property
    def dt(self) -> float:
        return self.lr / self.N

    @property
    def critic_speed(self) -> float:
        """γ_c = n_c N / M."""
        return self.n_critic * self.N / self.M

    @property
    def s(self):
        return activation(self.act)

    def _rules(self) -> tuple[Expectation, dict]:
        if "rules" not in self._cache:
            rz = self.latent.rule(self.quadrature_nodes, self.max_quadrature_points)
            rx = self.target.rule(self.quadrature_nodes, self.max_quadrature_points)
            dt = jnp.dtype(self.dtype)
            e = Expectation(jnp.asarray(rz.points, dt), jnp.asarray(rz.weights, dt),
                            jnp.asarray(rx.points, dt), jnp.asarray(rx.weights, dt))
            self._cache["rules"] = (e, {"latent": rz.kind, "target": rx.kind})
        return self._cache["rules"]

    @property
    def rule_kinds(self) -> dict:
        """Which rule gives the exact expectations: ``{"latent": kind, "target": kind}``."""
        return self._rules()[1]

    def draw(self, key: Array) -> Expectation:
        """The expectation used by one update: a fresh batch, or the fixed rule (population)."""
        if self.population:
            return self._rules()[0]
        kz, kx = jax.random.split(key)
        m, dt = self.batch_size, jnp.dtype(self.dtype)
        w = jnp.full((m,), 1.0 / m, dt)
        return Expectation(self.latent.sample(kz, m, dt), w, self.target.sample(kx, m, dt), w)

    @property
    def game(self) -> Game:
        crit_lr = self.lr * (self.n_critic if self.scheme == "simultaneous" else 1)
        return Game(payoff=lambda g, c, e: payoff(g, c, e, self.s), draw=self.draw,
                    scheme=self.scheme, n_critic=self.n_critic,
                    gen_tx=optimizer(self.optimizer, self.lr),
                    crit_tx=optimizer(self.optimizer, crit_lr), project=box_projection(self.clip))

    def _eval_clouds(self):
        """Fixed latents ``[n, L]`` and target points (sorted, or projected and sorted)."""
        if "eval" not in self._cache:
            n, dt = self.n_eval, jnp.dtype(self.dtype)
            if self.L == 1:
                z = midpoint_quantiles(self.latent, n)[:, None]
            else:
                z = np.asarray(self.latent.sample(jax.random.key(1), n, jnp.float32), float)
            if self.K == 1:
                x = np.sort(midpoint_quantiles(self.target, n))[None]
                dirs = np.ones((1, 1))
            else:
                dirs = obs.unit_directions(self.K, self.n_directions)
                pts = np.asarray(self.target.sample(jax.random.key(2), n, jnp.float32), float)
                x = np.sort(dirs @ pts.T, axis=1)
            self._cache["eval"] = tuple(jnp.asarray(a, dt) for a in (z, x, dirs))
        return self._cache["eval"]

    @property
    def estimator(self) -> str:
        """How W_1 and W_2 are computed: ``"exact-1d"`` (K = 1) or ``"sliced"``."""
        return "exact-1d" if self.K == 1 else "sliced"

    # -- ParticleSystem --------------------------------------------------------------------
    def init(self, key: Array) -> GameState:
        kg, kc = jax.random.split(key)
        i, dt = self.initial, jnp.dtype(self.dtype)
        gen = init_generator(kg, self.N, self.K, self.L, i.a, i.b, i.c, dt)
        crit = init_critic(kc, self.M, self.K, self.clip, i.alpha, i.beta, i.gamma, dt)
        return self.game.init(gen, crit)

    def step(self, state: GameState, key: Array) -> GameState:
        return self.game.step(state, key)

    def observe(self, state: GameState) -> dict[str, Array]:
        z, x_sorted, dirs = self._eval_clouds()
        out = generator(state.gen, z, self.s)
        gm, gs = obs.mean_std(state.gen)
        cm, cs = obs.mean_std(state.crit)
        om, os_ = obs.mean_std(out)
        return {
            "payoff": payoff(state.gen, state.crit, self._rules()[0], self.s),
            "w1": obs.sliced_wasserstein(out, x_sorted, dirs, 1),
            "w2": obs.sliced_wasserstein(out, x_sorted, dirs, 2),
            "boundary_mass": obs.boundary_mass(state.crit, self.clip),
            "gen_out_mean": om, "gen_out_std": os_,
            "gen_param_mean": gm, "gen_param_std": gs,
            "critic_param_mean": cm, "critic_param_std": cs,
        }

    def snapshot(self, state: GameState) -> dict[str, Array]:
        return {"gen": state.gen, "critic": state.crit}

    def generated(self, gen: Array) -> Array:
        """Generated points at the fixed evaluation latents, ``[n_eval, K]`` (for figures)."""
        return generator(gen, self._eval_clouds()[0], self.s)
