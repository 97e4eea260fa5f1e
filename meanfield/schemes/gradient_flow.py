"""Gradient flow of one particle measure along the first variation of an energy.

One empirical measure μ_N = (1/N) Σᵢ δ_{xᵢ}, particles xᵢ (rows of an array ``[N, ...]``), moves
down the Wasserstein gradient of an energy F:

    dxᵢ/dt = −∇_x (δF/δμ)[μ_t](xᵢ).

The velocity is the gradient of the first variation itself, which for an empirical measure is
N ∂F/∂xᵢ (docs/model.md §1), so one step of ``optax.sgd(lr)`` is explicit Euler with Δt = lr:

    x_{k+1} = x_k − Δt ∇(δF/δμ)[μ_k](x_k),    Δt = lr   (not lr/N).

Other optax transformations give other discretisations of the same field (a time reading in Δt is
then only approximate). Three optional pieces make the flows of docs/model.md §8 fit the scheme:

- **Noise injection** [AKSG]: the gradient is evaluated at yᵢ = xᵢ + β_k uᵢ (uᵢ drawn per step,
  β_k a schedule of the step count k) while the measure inside δF/δμ stays the unperturbed μ_k:
  x_{k+1} = x_k − Δt ∇(δF/δμ)[μ_k](x_k + β_k u_k).
- **Diffusion**: an increment added after the update, e.g. √(2Δt) ξ_k for the unadjusted Langevin
  algorithm, the discretisation of the KL flow dx = ∇log π dt + √2 dW (F = KL(·‖π)).
- **Inner solve** [GAG]: δF/δμ depends on an auxiliary object (KALE's witness h, a critic) that is
  found by an inner optimisation at the start of every step, warm-started from the previous step's
  solution: a_k = solve(x_k, a_{k−1}), then x_{k+1} = x_k − Δt ∇_y V(y; μ_k, a_k)|_{y = x_k}.

An optional projection (e.g. ``optax.projections.projection_box``) is applied after each update.
As in optax and blackjax, the algorithm is a pair of pure functions, :meth:`GradientFlow.init` and
:meth:`GradientFlow.step`, over a small immutable :class:`FlowState`; both are jit- and
vmap-compatible (the optional pieces are static: ``None`` switches them off at trace time).

The mathematics, conventions and time scalings are in docs/model.md (§1 for the N-scaling, §8 for
the MMD and KALE flows).

References:
    [AKSG] M. Arbel, A. Korba, A. Salim, A. Gretton. *Maximum Mean Discrepancy Gradient Flow.*
        NeurIPS 2019.
    [GAG] P. Glaser, M. Arbel, A. Gretton. *KALE Flow: A Relaxed KL Gradient Flow for
        Probabilities with Disjoint Support.* NeurIPS 2021.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

Array = jax.Array

# (y [n, ...], x [N, ...], aux, e) -> [n]: δF/δμ[μ_x](yⱼ), one value per evaluation point.
Potential = Callable[[Array, Array, Any, Any], Array]


class FlowState(NamedTuple):
    """State of a gradient flow.

    Attributes:
        x: particles ``[N, ...]`` (row i is particle xᵢ).
        aux: state of the inner solve (a witness, a critic), ``()`` when there is none.
        opt: optax state of ``tx`` for ``x``.
        count: steps taken (int32 scalar), read by noise-injection schedules.
    """

    x: Array
    aux: Any
    opt: Any
    count: Array


def _identity(noise: Any) -> Any:
    return noise


@dataclass(frozen=True)
class GradientFlow:
    """Explicit gradient-flow scheme for one particle measure (see module docstring).

    Attributes:
        potential: ``(y [n, ...], x [N, ...], aux, e) -> [n]``, the first variation
            δF/δμ[μ_x](y) at the points y. It must be pointwise in y (output j depends on yⱼ
            only): the velocity is read off the gradient of its sum.
        tx: optax transformation; ``optax.sgd(lr)`` is explicit Euler with Δt = lr.
        solve: ``(x [N, ...], aux, e) -> aux``, an inner solve run at the start of each step,
            warm-started from ``state.aux``; ``None``: aux is passed through unchanged.
        inject: ``(x [N, ...], e, count) -> y [N, ...]``, the points where the velocity is
            evaluated (noise injection: x + β_count u); ``None``: y = x.
        gradient: ``(y [n, ...], x [N, ...], aux, e) -> [n, ...]``, ∇_y of ``potential`` in
            closed form (e.g. blocked kernel sums that autodiff would store whole); ``None``:
            autodiff of ``potential``. The tests check the two agree.
        diffusion: ``(x [N, ...], e, count) -> [N, ...]``, an increment added after the update
            and before the projection (Langevin: √(2Δt) ξ); ``None``: none.
        project: ``x [N, ...] -> x [N, ...]``, applied after each update (e.g. a box);
            ``None``: no projection.
        expect: ``noise -> e``, turns what :meth:`step` receives (a PRNG key, a sample batch,
            fixed noise) into what ``potential``, ``solve`` and ``inject`` receive; identity by
            default.
    """

    potential: Potential
    tx: optax.GradientTransformation
    solve: Optional[Callable[[Array, Any, Any], Any]] = None
    inject: Optional[Callable[[Array, Any, Array], Array]] = None
    project: Optional[Callable[[Array], Array]] = None
    expect: Callable[[Any], Any] = _identity
    gradient: Optional[Callable[[Array, Array, Any, Any], Array]] = None
    diffusion: Optional[Callable[[Array, Any, Array], Array]] = None

    def __post_init__(self):
        if not callable(self.potential):
            raise ValueError(f"potential must be callable, got {type(self.potential).__name__}")
        if not isinstance(self.tx, optax.GradientTransformation):
            raise ValueError(f"tx must be an optax.GradientTransformation, "
                             f"got {type(self.tx).__name__}")
        for name in ("solve", "inject", "project", "gradient", "diffusion"):
            f = getattr(self, name)
            if f is not None and not callable(f):
                raise ValueError(f"{name} must be callable or None, got {type(f).__name__}")
        if not callable(self.expect):
            raise ValueError(f"expect must be callable, got {type(self.expect).__name__}")

    def init(self, x: Array, aux: Any = ()) -> FlowState:
        """Initial state.

        Args:
            x: particles ``[N, ...]``.
            aux: initial guess of the inner solve (its warm start for the first step); ``()``
                when there is no solve.

        Returns:
            ``FlowState(x, aux, tx.init(x), 0)``.
        """
        return FlowState(x, aux, self.tx.init(x), jnp.zeros((), jnp.int32))

    def _gradient(self, state: FlowState, e: Any) -> tuple[Any, Array]:
        """The inner solve, then ∇(δF/δμ)[μ](y) at y = inject(x, e) or x: (aux, ``[N, ...]``)."""
        aux = state.aux if self.solve is None else self.solve(state.x, state.aux, e)
        # x is the measure μ, not the evaluation point: only y is differentiated. The stop also
        # freezes μ for derivatives taken through a whole step (they see only y's dependence on x).
        measure = jax.lax.stop_gradient(state.x)
        y = state.x if self.inject is None else self.inject(state.x, e, state.count)
        if self.gradient is not None:
            return aux, self.gradient(y, measure, aux, e)
        grad = jax.grad(lambda y: jnp.sum(self.potential(y, measure, aux, e)))(y)
        return aux, grad

    def velocity(self, state: FlowState, e: Any) -> Array:
        """The velocity −∇(δF/δμ)[μ](yᵢ) of every particle, after the inner solve.

        Args:
            state: current state.
            e: what ``expect(noise)`` returns for the step (not the raw noise).

        Returns:
            ``[N, ...]``, evaluated at the injected points when ``inject`` is set; one step of
            ``sgd(lr)`` is ``x + lr * velocity`` (before the projection).
        """
        return -self._gradient(state, e)[1]

    def step(self, state: FlowState, noise: Any = None) -> FlowState:
        """One step of the flow: Δt = lr of flow time for ``optax.sgd(lr)``.

        Args:
            state: current state.
            noise: the step's randomness or expectation (a PRNG key, a batch, fixed noise), handed
                to ``expect``; ``None`` for a deterministic flow with the default ``expect``.

        Returns:
            The next state; its ``aux`` is the solve made at the start of this step.
        """
        e = self.expect(noise)
        aux, grad = self._gradient(state, e)
        # optax minimises: the gradient itself is the descent direction for δF/δμ.
        updates, opt = self.tx.update(grad, state.opt, state.x)
        x = optax.apply_updates(state.x, updates)
        if self.diffusion is not None:
            x = x + self.diffusion(state.x, e, state.count)
        if self.project is not None:
            x = self.project(x)
        return FlowState(x, aux, opt, state.count + 1)
