"""Initial particle measures: N iid draws per parameter block (docs/model.md §1–2).

Each block of a neuron (the generator's a, b, c; the critic's α, β, γ) is drawn from its own
Gaussian N(mean, std²), coordinatewise. Critic particles are then projected into
Q = [−c, c]^{K+2}, so the critic starts in Q as the projected dynamics requires. The standard
normal draws are made in float32 and cast to the run's dtype (see ``_draw``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class BlockLaw(NamedTuple):
    """N(mean, std²) for every coordinate of one parameter block."""

    mean: float = 0.0
    std: float = 1.0


def _draw(key: Array, law: BlockLaw, shape, dtype) -> Array:
    # Drawn in float32 whatever the run's dtype, then cast: the same seed gives the same initial
    # particles in float32 and float64, so switching the dtype isolates rounding.
    z = jax.random.normal(key, shape, jnp.float32).astype(dtype)
    return law.mean + law.std * z


def init_generator(key: Array, N: int, K: int, L: int, a: BlockLaw, b: BlockLaw, c: BlockLaw,
                   dtype=jnp.float32) -> Array:
    """N iid generator neurons ``[N, K, L+2]`` with columns ``(a, b_1..b_L, c)``."""
    ka, kb, kc = jax.random.split(key, 3)
    return jnp.concatenate([_draw(ka, a, (N, K, 1), dtype), _draw(kb, b, (N, K, L), dtype),
                            _draw(kc, c, (N, K, 1), dtype)], axis=-1)


def init_critic(key: Array, M: int, K: int, clip: float, alpha: BlockLaw, beta: BlockLaw,
                gamma: BlockLaw, dtype=jnp.float32) -> Array:
    """M iid critic neurons ``[M, K+2]`` with columns ``(α, β_1..β_K, γ)``, projected into Q."""
    ka, kb, kc = jax.random.split(key, 3)
    w = jnp.concatenate([_draw(ka, alpha, (M, 1), dtype), _draw(kb, beta, (M, K), dtype),
                         _draw(kc, gamma, (M, 1), dtype)], axis=-1)
    return jnp.clip(w, -clip, clip)
