"""Optimisers and projections the schemes apply to particles (optax transformations).

``sgd`` is the mean-field scheme: explicit Euler steps of the particle velocities
(docs/model.md §1–2). ``rmsprop`` is the WGAN paper's choice in PyTorch's form, for which the
mean-field time reading is only approximate. Projections are optax's.
"""

from __future__ import annotations

from typing import Callable

import jax
import optax

Array = jax.Array
OPTIMIZERS = ("sgd", "rmsprop", "adam")


def optimizer(name: str, lr: float) -> optax.GradientTransformation:
    """The optax optimiser ``name`` with step size ``lr``.

    ``rmsprop`` is PyTorch's ``torch.optim.RMSprop`` with its defaults, as in the WGAN reference
    code (decay 0.99, eps 1e-8, no momentum, not centred, ν_0 = 0): per coordinate,

        ν_k = 0.99 ν_{k−1} + 0.01 g_k²,    x_k = x_{k−1} − lr g_k / (√ν_k + 1e-8).

    eps sits *outside* the square root as in PyTorch; optax's default puts it inside,
    g/√(ν + eps), which shrinks steps whose gradients are not large against √eps = 1e-4 (at a
    steady gradient of 1e-4 by 1/√2) — and raw gradients scale like 1/N, so that form would damp
    large-N runs more.

    ``adam`` is optax's (β = (0.9, 0.999), eps 1e-8), for inner problems solved to convergence
    (a discriminator trained towards D*, Algorithm 2's regression), where no time is read.

    Raises:
        ValueError: for an unknown ``name``.
    """
    if name == "sgd":
        return optax.sgd(lr)
    if name == "rmsprop":
        return optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")


def box_projection(clip: float | Array) -> Callable[[Array], Array]:
    """P_Q for Q = [−clip, clip]^d: the coordinatewise clip."""
    return lambda w: optax.projections.projection_box(w, -clip, clip)
