"""Noise injection [AKSG]: the velocity of a gradient flow evaluated at perturbed points.

At step n the particles' velocity is evaluated at xᵢ + β_n uᵢ, uᵢ ~ N(0, I) drawn afresh, while the
measure inside the first variation stays unperturbed (docs/model.md §8). β_n follows a schedule:
``none`` 0; ``constant`` β; ``until`` β for n < n0, then 0; ``sqrt`` β/√(n + 1); ``halving``
β·2^(−⌊n/k⌋). The MMD flow and the teacher–student regression share it.

References:
    [AKSG] M. Arbel, A. Korba, A. Salim, A. Gretton. *Maximum Mean Discrepancy Gradient Flow.*
        NeurIPS 2019.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array
SCHEDULES = ("none", "constant", "until", "sqrt", "halving")


def noise_level(schedule: str, beta, count: Array, n0: int = 0, k: int = 1) -> Array:
    """β_n of a schedule at step ``count`` (a traced scalar; see the module docstring)."""
    beta = jnp.asarray(beta)
    n = count.astype(beta.dtype)
    if schedule == "none":
        return jnp.zeros_like(beta)
    if schedule == "constant":
        return beta
    if schedule == "until":
        return jnp.where(count < n0, beta, 0.0)
    if schedule == "sqrt":
        return beta / jnp.sqrt(n + 1.0)
    if schedule == "halving":
        return beta * 0.5 ** (count // k).astype(beta.dtype)
    raise ValueError(f"noise schedule: unknown {schedule!r}; expected one of {SCHEDULES}")


def perturb(x: Array, key: Array, schedule: str, beta, count: Array, n0: int = 0,
            k: int = 1) -> Array:
    """x + β_count u, u ~ N(0, I) of ``x``'s shape drawn from ``key``."""
    level = noise_level(schedule, beta, count, n0, k)
    return x + level * jax.random.normal(key, x.shape, x.dtype)
