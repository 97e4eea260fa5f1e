"""Descent–ascent: two players, each descending its own loss (docs/model.md §2).

A general-sum two-player game between a generator (particles ``gen``) and a critic (particles
``crit``): the generator descends ℓ_G(gen, crit, e), the critic descends ℓ_C(gen, crit, e), each
with its own optax optimiser and optional projection, under an
:class:`~meanfield.measures.expectation.Expectation` ``e`` (a sample batch, or a fixed rule for
the population dynamics: the same code path). The WGAN is the zero-sum instance ℓ_C = −ℓ_G = −Ψ,
for which one backward pass gives both gradients (:func:`zero_sum`). With SGD:

- **simultaneous**: one draw e; θ ← P_G(θ − α_G ∇_θ ℓ_G), ω ← P_C(ω − α_C ∇_ω ℓ_C), both at the
  old state (for the WGAN α_G = α, α_C = n_c α, Δt = α/N, γ_c = n_c N/M);
- **alternating**: n_c critic steps, each with its own draw, then one generator step with a fresh
  draw.

The noise a step receives has one type per game: the simultaneous step takes what ``sample(key)``
returns (drawn ahead of the step by the driver) and turns it into the step's expectation with
``expect``; the alternating step takes the step's key, since n_c (possibly a traced sweep axis)
decides how many draws it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import optax

Array = jax.Array
Loss = Callable[[Array, Array, Any], Array]
SCHEMES = ("simultaneous", "alternating")


class Player(NamedTuple):
    """One player: the loss it descends, its optimiser and its projection.

    Attributes:
        loss: ``(gen, crit, e) -> scalar``, descended with respect to this player's particles.
        tx: the player's optax optimiser.
        project: applied to the particles after each of its updates (None: no projection).
    """

    loss: Loss
    tx: optax.GradientTransformation
    project: Callable[[Array], Array] | None = None


class DescentAscentState(NamedTuple):
    """Particles of both players and their optimiser states."""

    gen: Array
    crit: Array
    gen_opt: Any
    crit_opt: Any


@dataclass(frozen=True)
class DescentAscent:
    """A descent–ascent scheme (see module docstring).

    Attributes:
        gen: the generator :class:`Player`.
        crit: the critic :class:`Player`.
        sample: ``key -> noise``, the randomness of one draw.
        expect: ``noise -> e``, the expectation the losses are evaluated under.
        scheme: ``"simultaneous"`` or ``"alternating"``.
        n_critic: critic steps per generator step (alternating; a Python int or an integer array).
        zero_sum: ``crit.loss == −gen.loss``: one backward pass of ``gen.loss`` gives both gradients.
    """

    gen: Player
    crit: Player
    sample: Callable[[Array], Any]
    expect: Callable[[Any], Any]
    scheme: str = "simultaneous"
    n_critic: Any = 1
    zero_sum: bool = False

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme: expected one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        for name, p in (("gen", self.gen), ("crit", self.crit)):
            if not callable(p.loss) or not isinstance(p.tx, optax.GradientTransformation):
                raise ValueError(f"{name}: expected a Player with a callable loss and an optax "
                                 "transformation")

    def init(self, gen: Array, crit: Array) -> DescentAscentState:
        return DescentAscentState(gen, crit, self.gen.tx.init(gen), self.crit.tx.init(crit))

    @staticmethod
    def _update(player: Player, x: Array, grad: Array, opt) -> tuple[Array, Any]:
        upd, opt = player.tx.update(grad, opt, x)
        x = optax.apply_updates(x, upd)
        return (x if player.project is None else player.project(x)), opt

    def _gen_step(self, s: DescentAscentState, e) -> DescentAscentState:
        g = jax.grad(self.gen.loss, argnums=0)(s.gen, s.crit, e)
        gen, opt = self._update(self.gen, s.gen, g, s.gen_opt)
        return s._replace(gen=gen, gen_opt=opt)

    def _crit_grad(self, gen: Array, crit: Array, e) -> Array:
        if self.zero_sum:
            # −∇Ψ rather than ∇(−Ψ): the same number, and the program XLA has always compiled.
            return -jax.grad(self.gen.loss, argnums=1)(gen, crit, e)
        return jax.grad(self.crit.loss, argnums=1)(gen, crit, e)

    def _crit_step(self, s: DescentAscentState, e) -> DescentAscentState:
        g = self._crit_grad(s.gen, s.crit, e)
        crit, opt = self._update(self.crit, s.crit, g, s.crit_opt)
        return s._replace(crit=crit, crit_opt=opt)

    def step(self, state: DescentAscentState, noise) -> DescentAscentState:
        """One generator step and its critic step(s).

        Args:
            state: the current state.
            noise: ``sample(key)`` of the step's key (simultaneous), or the key (alternating).
        """
        if self.scheme == "simultaneous":
            e = self.expect(noise)
            if self.zero_sum:
                # One forward pass serves both gradients: the generator's outputs are shared.
                g_gen, g_crit = jax.grad(self.gen.loss, argnums=(0, 1))(state.gen, state.crit, e)
                g_crit = -g_crit
            else:
                g_gen = jax.grad(self.gen.loss, argnums=0)(state.gen, state.crit, e)
                g_crit = self._crit_grad(state.gen, state.crit, e)
            gen, gen_opt = self._update(self.gen, state.gen, g_gen, state.gen_opt)
            crit, crit_opt = self._update(self.crit, state.crit, g_crit, state.crit_opt)
            return DescentAscentState(gen, crit, gen_opt, crit_opt)

        k_crit, k_gen = jax.random.split(noise)
        state = self.critic_steps(state, k_crit)
        return self._gen_step(state, self.expect(self.sample(k_gen)))

    def critic_steps(self, state: DescentAscentState, key: Array) -> DescentAscentState:
        """The alternating scheme's n_c critic steps, draw i from ``fold_in(key, i)``; schemes
        that replace the generator step (Huang–Zhang's Algorithm 2) share them."""
        def critic_step(i, s: DescentAscentState) -> DescentAscentState:
            return self._crit_step(s, self.expect(self.sample(jax.random.fold_in(key, i))))

        # n_c may be a traced leaf (a vmapped sweep axis), hence fori_loop rather than scan.
        return jax.lax.fori_loop(0, self.n_critic, critic_step, state)


def zero_sum(payoff: Loss, gen_tx: optax.GradientTransformation,
             crit_tx: optax.GradientTransformation, crit_project: Callable | None = None,
             **kw) -> DescentAscent:
    """The zero-sum game in which the critic ascends Ψ = ``payoff`` and the generator descends it.

    ``kw`` are the other fields of :class:`DescentAscent` (``sample``, ``expect``, ``scheme``,
    ``n_critic``).
    """
    return DescentAscent(gen=Player(payoff, gen_tx),
                         crit=Player(lambda g, c, e: -payoff(g, c, e), crit_tx, crit_project),
                         zero_sum=True, **kw)
