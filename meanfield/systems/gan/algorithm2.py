"""Huang–Zhang's Algorithm 2: the generator follows the JSD flow's particle ODE (docs/model.md §7).

After the discriminator's steps, each generated point moves along the drift of the particle ODE,

    yᵢ = G(zᵢ) + ε ∇D/(2(1 − D))(G(zᵢ)),

and the generator regresses onto the moved points, held fixed (no gradient through yᵢ), by steps
on R(θ) = (1/m) Σᵢ |G_θ(zᵢ) − yᵢ|² (no ½). At the current parameters

    ∇_θ R = (2/m) Σᵢ J_θ G(zᵢ)ᵀ (G(zᵢ) − yᵢ) = −(ε/m) Σᵢ J_θ G(zᵢ)ᵀ ∇D/(1 − D) = ε ∇_θ (1/m) Σᵢ ln(1 − D(G(zᵢ))),

so one SGD step of size η on R is one generator step of Algorithm 1 (saturating loss) of size η ε
([HZ], Proposition; tested to 1e-10). A generator that fits the yᵢ (several regression steps, a
flexible G) moves its law by ε along the ODE: iteration k is the flow's time t = k ε.

References:
    [HZ] Y.-J. Huang, Y. Zhang. *GANs as gradient flows that converge.* JMLR 24 (2023).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from meanfield.networks.readout import critic, generator
from meanfield.systems.gan.log_loss import drift

Array = jax.Array


def moved_points(gen: Array, crit: Array, z: Array, epsilon, s: Callable = jax.nn.sigmoid
                 ) -> Array:
    """yᵢ = G(zᵢ) + ε ∇D/(2(1 − D))(G(zᵢ)) for latents ``z`` ``[m, L]``; returns ``[m, K]``."""
    x = generator(gen, z, s)
    return x + epsilon * drift(lambda p: critic(crit, p, s), x)


def regression_loss(gen: Array, z: Array, y: Array, s: Callable = jax.nn.sigmoid) -> Array:
    """R = (1/m) Σᵢ |G(zᵢ) − yᵢ|² (no ½: the identity with Algorithm 1 needs it so)."""
    return jnp.mean(jnp.sum((generator(gen, z, s) - y) ** 2, axis=-1))


def fit(gen: Array, opt, z: Array, y: Array, tx: optax.GradientTransformation, steps: int,
        s: Callable = jax.nn.sigmoid) -> tuple[Array, object]:
    """``steps`` optimiser steps of ``tx`` on :func:`regression_loss` with the targets fixed.

    Returns:
        ``(gen, opt)`` after the steps.
    """
    def body(carry, _):
        g, o = carry
        upd, o = tx.update(jax.grad(regression_loss)(g, z, y, s), o, g)
        return (optax.apply_updates(g, upd), o), None

    (gen, opt), _ = jax.lax.scan(body, (gen, opt), None, length=steps)
    return gen, opt


def generator_step(gen: Array, opt, crit: Array, z: Array, epsilon,
                   tx: optax.GradientTransformation, steps: int = 1,
                   s: Callable = jax.nn.sigmoid) -> tuple[Array, object]:
    """Algorithm 2's generator update: move the points by ε along the drift, then fit them.

    Args:
        gen: generator particles ``[N, K, L+2]``; ``opt``: its optimiser state under ``tx``.
        crit: the discriminator's particles ``[M, K+2]`` (held fixed).
        z: latents ``[m, L]``.
        epsilon: ε, the flow time the update stands for.
        tx: the generator's optimiser (step η).
        steps: regression steps towards the fixed targets.
    """
    y = jax.lax.stop_gradient(moved_points(gen, crit, z, epsilon, s))
    return fit(gen, opt, z, y, tx, steps, s)
