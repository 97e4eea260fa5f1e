"""Discrete two-player dynamics on particle measures: the schemes of docs/model.md §2.

A game is a payoff Ψ(gen, crit, e) that the critic ascends and the generator descends, evaluated
under an :class:`~meanfield.payoff.Expectation` drawn each step. On raw particles, with SGD:

- **simultaneous**: one draw; θ ← θ − α ∇_θ Ψ̂, ω ← P_Q(ω + n_c α ∇_ω Ψ̂)  (Δt = α/N, γ_c = n_c N/M);
- **alternating**: n_c critic steps ω ← P_Q(ω + α ∇_ω Ψ̂), each with its own draw, then one
  generator step with a fresh draw.

The optimiser is an optax transformation (``sgd`` is the mean-field scheme; ``rmsprop`` is the WGAN
paper's choice, in PyTorch's form (see :func:`optimizer`), for which the mean-field time reading is
only approximate). P_Q is optax's box projection. The *population* dynamics is the same step with
a draw that returns a fixed quadrature rule, so SGD and population runs share every line of the
update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import optax

from meanfield.payoff import Expectation

Array = jax.Array
SCHEMES = ("simultaneous", "alternating")
OPTIMIZERS = ("sgd", "rmsprop")


class GameState(NamedTuple):
    """Particles of both players and their optimiser states."""

    gen: Array
    crit: Array
    gen_opt: Any
    crit_opt: Any


def optimizer(name: str, lr: float) -> optax.GradientTransformation:
    """The optax optimiser ``name`` with step size ``lr``.

    ``rmsprop`` is PyTorch's ``torch.optim.RMSprop`` with its defaults, as in the WGAN reference
    code (decay 0.99, eps 1e-8, no momentum, not centred, ν_0 = 0): per coordinate,

        ν_k = 0.99 ν_{k−1} + 0.01 g_k²,    x_k = x_{k−1} − lr g_k / (√ν_k + 1e-8).

    eps sits *outside* the square root as in PyTorch; optax's default puts it inside,
    g/√(ν + eps), which shrinks steps whose gradients are not large against √eps = 1e-4 (at a
    steady gradient of 1e-4 by 1/√2) — and raw gradients scale like 1/N, so that form would damp
    large-N runs more.
    """
    if name == "sgd":
        return optax.sgd(lr)
    if name == "rmsprop":
        return optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")


def box_projection(clip: float) -> Callable[[Array], Array]:
    """P_Q for Q = [−clip, clip]^d: the coordinatewise clip."""
    return lambda w: optax.projections.projection_box(w, -clip, clip)


@dataclass(frozen=True)
class Game:
    """A descent–ascent scheme over a payoff (see module docstring).

    Attributes:
        payoff: ``Ψ(gen, crit, e) -> scalar``.
        draw: ``key -> Expectation`` (a sample batch, or a fixed rule for the population).
        scheme: ``"simultaneous"`` or ``"alternating"``.
        n_critic: critic steps per generator step, n_c (a Python int or an integer array).
        gen_tx: generator optimiser (step α).
        crit_tx: critic optimiser (step n_c α for simultaneous, α for alternating).
        project: P_Q, applied after every critic update.
    """

    payoff: Callable[[Array, Array, Expectation], Array]
    draw: Callable[[Array], Expectation]
    scheme: str
    n_critic: int
    gen_tx: optax.GradientTransformation
    crit_tx: optax.GradientTransformation
    project: Callable[[Array], Array]

    def init(self, gen: Array, crit: Array) -> GameState:
        return GameState(gen, crit, self.gen_tx.init(gen), self.crit_tx.init(crit))

    def _gen_update(self, state: GameState, grad: Array) -> tuple[Array, Any]:
        upd, opt = self.gen_tx.update(grad, state.gen_opt, state.gen)
        return optax.apply_updates(state.gen, upd), opt

    def _crit_update(self, state: GameState, grad: Array) -> tuple[Array, Any]:
        # Ascent: optax minimises, so hand it −∇Ψ.
        upd, opt = self.crit_tx.update(-grad, state.crit_opt, state.crit)
        return self.project(optax.apply_updates(state.crit, upd)), opt

    def step(self, state: GameState, key: Any) -> GameState:
        """One generator step (Δt of mean-field time) and its n_c critic steps.

        ``key`` is a PRNG key; the simultaneous scheme also takes the step's
        :class:`~meanfield.payoff.Expectation` already drawn (what ``draw(key)`` would return).
        """
        if self.scheme == "simultaneous":
            e = key if isinstance(key, Expectation) else self.draw(key)
            # One forward pass serves both gradients: g_μ(z) is shared.
            g_gen, g_crit = jax.grad(self.payoff, argnums=(0, 1))(state.gen, state.crit, e)
            gen, gen_opt = self._gen_update(state, g_gen)
            crit, crit_opt = self._crit_update(state, g_crit)
            return GameState(gen, crit, gen_opt, crit_opt)

        k_crit, k_gen = jax.random.split(key)

        def critic_step(i, s: GameState) -> GameState:
            g = jax.grad(self.payoff, argnums=1)(s.gen, s.crit,
                                                 self.draw(jax.random.fold_in(k_crit, i)))
            crit, opt = self._crit_update(s, g)
            return s._replace(crit=crit, crit_opt=opt)

        # n_c may be a traced leaf (a vmapped sweep axis), hence fori_loop rather than scan.
        state = jax.lax.fori_loop(0, self.n_critic, critic_step, state)
        g = jax.grad(self.payoff, argnums=0)(state.gen, state.crit, self.draw(k_gen))
        gen, gen_opt = self._gen_update(state, g)
        return state._replace(gen=gen, gen_opt=gen_opt)
