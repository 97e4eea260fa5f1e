"""The vanilla GAN as a particle system: the WGAN's shallow networks in the log-loss game
(docs/model.md §7).

:class:`LogLossGAN` shares everything with :class:`~meanfield.systems.wgan.system.WGAN` but the
game and what it records: the laws, the draws, the initial particles, mean-field time
Δt = lr/N and critic speed γ_c = n_c N/M (Algorithm 1), the schemes and the optimisers. The
discriminator D = sigmoid(f_ν) ascends the value V of :mod:`.log_loss`; the generator descends
the saturating or the non-saturating loss. With ``algorithm = "jsd_flow"`` the generator step is
Huang–Zhang's Algorithm 2 (:mod:`.algorithm2`) and a step stands for ε of the JSD flow's time.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from meanfield.core.system import static_field
from meanfield.measures.laws import StandardGaussian
from meanfield.metrics.divergences import jsd_kde
from meanfield.networks.readout import activation
from meanfield.schemes.descent_ascent import DescentAscent, DescentAscentState, Player, zero_sum
from meanfield.schemes.optimizers import optimizer
from meanfield.systems.gan import algorithm2
from meanfield.systems.gan.log_loss import LOSSES, nonsaturating_loss, value
from meanfield.systems.wgan.system import WGAN, make_wgan
from meanfield.systems.wgan.system import from_config as wgan_from_config

Array = jax.Array
ALGORITHMS = ("gan", "jsd_flow")



@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LogLossGAN(WGAN):
    """The vanilla GAN (see module docstring); build it with :func:`make_gan`.

    Attributes (besides :class:`~meanfield.systems.wgan.system.WGAN`'s; ``clip`` = inf is no
    constraint):
        jsd_grid: cell centres ``[G]`` of the JSD estimate (K = 1; empty otherwise).
        jsd_target: P*'s density at them ``[G]``.
        loss: the generator's loss, ``"saturating"`` or ``"nonsaturating"``.
        algorithm: ``"gan"`` (Algorithm 1) or ``"jsd_flow"`` (Algorithm 2).
        epsilon: ε of Algorithm 2.
        fit_steps: Algorithm 2's regression steps per iteration.
        critic_lr: the discriminator's step (0: n_c α simultaneous, α alternating, as the WGAN).
        fit_z, fit_y: latents ``[P, L]`` and the points ``[P, K]`` the generator is regressed onto
            before t = 0 (P = 0: no initial fit).
        fit_init: ``(steps, Adam step, rounds of n_c discriminator steps)`` of the initial fit.
    """

    jsd_grid: Array
    jsd_target: Array
    fit_z: Array
    fit_y: Array
    loss: str = static_field()
    algorithm: str = static_field()
    epsilon: float = static_field()
    fit_steps: int = static_field()
    critic_lr: float = static_field()
    fit_init: tuple = static_field()

    @property
    def dt(self) -> float:
        return self.epsilon if self.algorithm == "jsd_flow" else self.lr / self.N

    def game_settings(self) -> dict:
        settings = super().game_settings()
        if self.critic_lr > 0:
            settings["crit_tx"] = optimizer(self.optimizer, self.critic_lr)
        return settings

    @property
    def game(self) -> DescentAscent:
        """Saturating: zero-sum on V (the generator's loss is the part of V it controls).
        Non-saturating: general-sum, the generator descends −E ln D(G(z))."""
        s = activation(self.act)
        out = self.output_layer(train=True)
        v = lambda g, c, e: value(g, c, e, s, out)  # noqa: E731
        settings = self.game_settings()
        if self.loss == "saturating":
            return zero_sum(v, **settings)
        gen = Player(lambda g, c, e: nonsaturating_loss(g, c, e, s, out), settings.pop("gen_tx"))
        crit = Player(lambda g, c, e: -v(g, c, e), settings.pop("crit_tx"),
                      settings.pop("crit_project"))
        return DescentAscent(gen=gen, crit=crit, **settings)

    def init(self, key: Array) -> DescentAscentState:
        """The WGAN's random particles; with an initial fit, the generator regressed onto
        ``fit_y`` and the discriminator trained against it."""
        state = super().init(key)
        steps, lr, rounds = self.fit_init
        if not steps:
            return state
        s, tx = activation(self.act), optax.adam(lr)
        gen, _ = algorithm2.fit(state.gen, tx.init(state.gen), self.fit_z, self.fit_y, tx, steps,
                                s)
        game = self.game
        state = game.init(gen, state.crit)
        k = jax.random.fold_in(key, 1)
        return jax.lax.fori_loop(0, rounds, lambda i, st: game.critic_steps(
            st, jax.random.fold_in(k, i)), state)

    def step(self, state: DescentAscentState, noise) -> DescentAscentState:
        if self.algorithm == "gan":
            return self.game.step(state, noise)
        # The alternating scheme's draws: n_c discriminator batches from k_crit, then the
        # generator's latents from k_gen, as in Algorithm 1 (so that the two compare step by step).
        k_crit, k_gen = jax.random.split(noise)
        state = self.game.critic_steps(state, k_crit)
        z = self.sample(k_gen)[0]
        gen, opt = algorithm2.generator_step(state.gen, state.gen_opt, state.crit, z,
                                             self.epsilon, optimizer(self.optimizer, self.lr),
                                             self.fit_steps, activation(self.act))
        return state._replace(gen=gen, gen_opt=opt)

    def observe(self, state: DescentAscentState) -> dict[str, Array]:
        """W₁, W₂ and moments (as the WGAN's), the value V under the laws' rule, the lower bound
        (V + ln 4)/2 ≤ JSD (equality at D*), D's mean on data and on generated points, and for
        K = 1 the KDE estimate of JSD(g_μ#λ, P*) (:mod:`meanfield.metrics.divergences`)."""
        out, common = self.output_observables(state)
        fake, wz, real, wx = self.critic_observed(state, out)
        v = wx @ jax.nn.log_sigmoid(real) + wz @ jax.nn.log_sigmoid(-fake)
        obs = {"value": v, "jsd_lower_bound": 0.5 * (v + np.log(4.0)),
               "d_real": wx @ jax.nn.sigmoid(real), "d_fake": wz @ jax.nn.sigmoid(fake),
               **common}
        if self.K == 1:
            obs["jsd"] = jsd_kde(out[:, 0], self.jsd_grid, self.jsd_target)
        return obs


def _jsd_grid(target, K: int, cells: int, dtype) -> tuple[Array, Array]:
    if K != 1:
        return jnp.zeros((0,), dtype), jnp.zeros((0,), dtype)
    lo, hi = target.quantile(np.array([1e-6, 1.0 - 1e-6]))
    pad = 3.0 * float(np.sqrt(np.asarray(target.cov()).reshape(-1)[0]))
    faces = np.linspace(float(lo) - pad, float(hi) + pad, cells + 1)
    y = 0.5 * (faces[1:] + faces[:-1])
    return jnp.asarray(y, dtype), jnp.asarray(target.density(y), dtype)


def _initial_map(law, steps: int, dtype) -> tuple[Array, Array]:
    """1024 latent quantiles z and F₀⁻¹(Φ(z)): the monotone map pushing N(0, 1) to ρ₀."""
    if law is None or not steps:
        return jnp.zeros((0, 1), dtype), jnp.zeros((0, 1), dtype)
    u = (np.arange(1024) + 0.5) / 1024
    z = StandardGaussian(1).quantile(u)
    return jnp.asarray(z[:, None], dtype), jnp.asarray(law.quantile(u)[:, None], dtype)


def make_gan(*, loss: str = "saturating", algorithm: str = "gan", epsilon: float = 0.01,
             fit_steps: int = 1, critic_lr: float = 0.0, clip: float = float("inf"),
             initial=None, initial_fit: tuple = (0, 0.01, 0), jsd_cells: int = 512,
             base: WGAN | None = None, **wgan) -> LogLossGAN:
    """Build a :class:`LogLossGAN`.

    Args:
        loss, algorithm, epsilon, fit_steps, critic_lr: see :class:`LogLossGAN`.
        clip: the discriminator's clipping half-width (inf: none).
        initial: a 1-D law ρ₀ to fit the generator to before t = 0 (K = L = 1, Gaussian latent).
        initial_fit: ``(steps, Adam step, rounds of n_c discriminator steps)`` of that fit.
        jsd_cells: cells of the JSD estimate's grid (K = 1).
        base: a built WGAN to take the networks, laws and numerics from (else ``wgan`` are the
            keyword arguments of :func:`~meanfield.systems.wgan.system.make_wgan`).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(LOSSES)}, got {loss!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    if algorithm == "jsd_flow" and (loss != "saturating" or
                                    (base.scheme if base else wgan.get("scheme", "simultaneous")) != "alternating"):
        raise ValueError("algorithm 'jsd_flow' needs the saturating loss and the alternating "
                         "scheme")
    base = make_wgan(clip=clip, **wgan) if base is None else base
    if base.output != "identity" and (algorithm == "jsd_flow" or initial_fit[0]):
        raise ValueError("output 'smirnov': Algorithm 2 and the initial fit regress g_μ itself; "
                         "expected algorithm 'gan' and no initial fit")
    dt = jnp.dtype(base.dtype)
    grid, density = _jsd_grid(base.target, base.K, jsd_cells, dt)
    fit_z, fit_y = _initial_map(initial, initial_fit[0], dt)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(WGAN)}
    return LogLossGAN(**fields, jsd_grid=grid, jsd_target=density, fit_z=fit_z, fit_y=fit_y,
                      loss=loss, algorithm=algorithm, epsilon=float(epsilon),
                      fit_steps=int(fit_steps), critic_lr=float(critic_lr),
                      fit_init=(int(initial_fit[0]), float(initial_fit[1]),
                                int(initial_fit[2])))


def from_config(cfg, run) -> LogLossGAN:
    """The :class:`LogLossGAN` that a ``[system]`` config
    (:class:`~meanfield.systems.gan.config.GANConfig`) describes, in ``run.dtype``."""
    d, i = cfg.dynamics, cfg.initial
    return make_gan(loss=d.loss, algorithm=d.algorithm, epsilon=d.epsilon,
                    fit_steps=d.fit_steps, critic_lr=d.critic_lr,
                    initial=i.build() if i.steps else None,
                    initial_fit=(i.steps, i.lr, i.critic_rounds),
                    base=wgan_from_config(cfg, run, output=cfg.output))
