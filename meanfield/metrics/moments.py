"""Moments of an empirical measure over its particle axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def mean_std(x: Array) -> tuple[Array, Array]:
    """Mean and standard deviation over the leading (particle) axis."""
    return jnp.mean(x, axis=0), jnp.std(x, axis=0)
