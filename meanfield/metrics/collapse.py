"""Mode-collapse statistics of a generated 1-D law against P* = ½N(−1, s²) + ½N(1, s²)
(docs/model.md §11, docs/mode_collapse.md).

For generated points x₁..x_n (K = 1):

- the mass on the right of 0, p = (1/n) #{xᵢ > 0} + (1/2n) #{xᵢ = 0} (a point exactly at the
  boundary counts half on each side, so p(−x) = 1 − p(x) holds exactly);
- the balance b = min(p, 1 − p)/0.5 ∈ [0, 1]: 1 when the two sides of 0 carry equal mass, as under
  P*, 0 when all the mass is on one side (full collapse onto one mode);
- W₁ to P*, exact between two equal-size clouds (:func:`meanfield.metrics.wasserstein.wasserstein_sorted`),
  the target cloud being P*'s midpoint quantiles.

- the mean distance to 0, E|x| (about 1 under P*, the modes' distance to 0 for s ≪ 1).

Neither the balance nor W₁ alone tells the three failure shapes apart: a spike at 0 (the law has
not left P*'s mean) has W₁ ≈ 1 and a balance that only says on which side of 0 the spike's points
happen to lie; full collapse onto one mode also has W₁ ≈ 1, with b = 0. E|x| separates the two
(≈ 0 against ≈ 1), b separates collapse from a law that covers both modes.
All functions are pure JAX and vmap over leading axes by ``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from meanfield.metrics.wasserstein import wasserstein_sorted

Array = jax.Array


def mass_right(x: Array) -> Array:
    """The fraction of points on the right of 0, a point at exactly 0 counting half.

    Args:
        x: generated points ``[n]`` or ``[n, 1]``.

    Returns:
        A scalar p ∈ [0, 1].
    """
    x = jnp.reshape(x, (-1,))
    return jnp.mean(jnp.where(x > 0, 1.0, jnp.where(x == 0, 0.5, 0.0)).astype(x.dtype))


def balance(x: Array) -> Array:
    """min(p, 1 − p)/0.5 with p = :func:`mass_right`: 1 for equal mass on both sides of 0, 0 for
    all of it on one side.

    Args:
        x: generated points ``[n]`` or ``[n, 1]``.

    Returns:
        A scalar in [0, 1].
    """
    p = mass_right(x)
    return jnp.minimum(p, 1.0 - p) / 0.5


def w1(x: Array, target_sorted: Array) -> Array:
    """Exact W₁ between the generated cloud and an equally large, sorted target cloud.

    Args:
        x: generated points ``[n]`` or ``[n, 1]``.
        target_sorted: P*'s cloud ``[n]`` sorted ascending (e.g. its midpoint quantiles).

    Returns:
        A scalar.
    """
    return wasserstein_sorted(jnp.reshape(x, (-1,)), jnp.reshape(target_sorted, (-1,)), 1)


def mean_abs(x: Array) -> Array:
    """E|x|, the mean distance of the points to 0 (the midpoint of P*'s modes).

    Args:
        x: generated points ``[n]`` or ``[n, 1]``.

    Returns:
        A scalar.
    """
    return jnp.mean(jnp.abs(x))


def statistics(x: Array, target_sorted: Array) -> dict[str, Array]:
    """``{"p": mass on the right, "balance": b, "w1": W₁ to P*, "mean_abs": E|x|}`` of one
    generated cloud.

    Args:
        x: generated points ``[n]`` or ``[n, 1]``.
        target_sorted: P*'s cloud ``[n]`` sorted ascending.

    Returns:
        Four scalars.
    """
    return {"p": mass_right(x), "balance": balance(x), "w1": w1(x, target_sorted),
            "mean_abs": mean_abs(x)}
