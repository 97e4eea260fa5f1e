"""The Smirnov transform as an output layer (docs/model.md §10, [GMGT]).

For a scalar Z with continuous increasing CDF F_Z and any CDF F, F⁻¹(F_Z(Z)) has law F, where
F⁻¹(u) = inf{x : F(x) ≥ u} is the quantile function. With F = F_n the empirical CDF of one feature
of the data x₁..x_n and Z ~ N(0, 1), the layer

    S(h) = F_n⁻¹(Φ(h)),   Φ the standard normal CDF,

is applied to every output coordinate separately. It can sit after any generator (h = the
generator's output, ``[B, d]``): whatever the generator does, the law of each coordinate of S(h)
when that coordinate of h is N(0, 1) is exactly the data's marginal in that feature. Only the
marginals are fixed; the joint law (the dependence between features) is left to the generator.

**Exact.** With the order statistics x_(1) ≤ … ≤ x_(n) of one feature,
F_n⁻¹(u) = x_(⌈n u⌉) for u ∈ (0, 1] (:func:`exact`; the index is clamped to 1..n, so u = 0 gives
x_(1)). u ~ U(0, 1) falls in ((i−1)/n, i/n] with probability 1/n, so each data point receives mass
1/n (a value repeated k times, k/n). The map is a step function of h: its derivative is zero almost
everywhere, so it passes no gradient to the generator.

**Interpolated.** For training, :func:`interpolated` is the piecewise-linear function of u through
the points (uᵢ, x_(i)), uᵢ = (i − ½)/n, constant x_(1) below u₁ and x_(n) above u_n. It is
continuous and nondecreasing in h, agrees with the exact map at every uᵢ (⌈n uᵢ⌉ = i), and never
leaves the data range. Where u ∈ ((i−1)/n, i/n] the exact map gives x_(i) and the interpolation lies
in [x_(i−1), x_(i+1)]: the two differ by at most one gap between neighbouring order statistics.
Its derivative in h, (x_(i+1) − x_(i)) n φ(h) on (uᵢ, uᵢ₊₁), is positive between distinct data
values and zero outside (u₁, u_n).

**Upper tail.** Φ(h) rounds to 1 long before Φ(−h) rounds to 0 (in float32, 1 − Φ(h) is resolved
only to 6·10⁻⁸), so for h > 0 both maps are written with Φ(−h): ⌈n(1 − v)⌉ = n − ⌊n v⌋ for the
exact one, and the interpolation of the reversed order statistics for the other. Both maps are then
equivariant under reflection (data ↦ −data, h ↦ −h) in any precision, the exact one except where
n·Φ(−h) rounds to an integer (a boundary between two data points).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

Array = jax.Array


class SmirnovLayer(NamedTuple):
    """The data's order statistics, per feature (a pytree; build it with :func:`smirnov_layer`).

    Attributes:
        sorted: ``[d, n]``, row j the n values of feature j in ascending order.
    """

    sorted: Array


def smirnov_layer(data: Array) -> SmirnovLayer:
    """The Smirnov layer of a data set.

    Args:
        data: ``[n, d]``, n ≥ 1 points of R^d.

    Returns:
        The layer, holding ``[d, n]`` sorted values.
    """
    data = jnp.asarray(data)
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"smirnov_layer: expected data [n, d] with n >= 1, got shape {data.shape}")
    return SmirnovLayer(jnp.sort(data, axis=0).T)


def _check(layer: SmirnovLayer, h: Array) -> None:
    d = layer.sorted.shape[0]
    if h.ndim != 2 or h.shape[1] != d:
        raise ValueError(f"Smirnov layer of {d} features: expected h [B, {d}], got shape {h.shape}")


@jax.jit
def exact(layer: SmirnovLayer, h: Array) -> Array:
    """The exact step map x_(⌈n Φ(h)⌉), per coordinate (module docstring).

    Args:
        layer: the layer (``[d, n]`` order statistics).
        h: pre-activations ``[B, d]``.

    Returns:
        ``[B, d]``, each entry one of the data values of its feature.
    """
    _check(layer, h)
    n = layer.sorted.shape[1]
    lower = jnp.ceil(n * norm.cdf(h))
    upper = n - jnp.floor(n * norm.cdf(-h))
    idx = jnp.clip(jnp.where(h > 0, upper, lower), 1, n).astype(jnp.int32) - 1
    return jnp.take_along_axis(layer.sorted.T, idx, axis=0)


@jax.jit
def interpolated(layer: SmirnovLayer, h: Array) -> Array:
    """The piecewise-linear quantile map through ((i − ½)/n, x_(i)), per coordinate.

    Differentiable in ``h`` (module docstring for its derivative and its distance to
    :func:`exact`).

    Args:
        layer: the layer (``[d, n]`` order statistics).
        h: pre-activations ``[B, d]``.

    Returns:
        ``[B, d]``, inside [x_(1), x_(n)] of each feature.
    """
    _check(layer, h)
    n = layer.sorted.shape[1]
    knots = (jnp.arange(n, dtype=layer.sorted.dtype) + 0.5) / n
    # Over columns: u [B, d] against the knots [n] and the values [d, n] of each feature.
    interp = jax.vmap(jnp.interp, in_axes=(1, None, 0), out_axes=1)
    lower = interp(norm.cdf(h), knots, layer.sorted)
    # Q(1 − v) goes through (uᵢ, x_(n+1−i)) in v, since 1 − uᵢ = u_{n+1−i}.
    upper = interp(norm.cdf(-h), knots, layer.sorted[:, ::-1])
    return jnp.where(h > 0, upper, lower)
