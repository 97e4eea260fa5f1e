"""Sorting floating-point numbers through order-preserving integer keys.

XLA:CPU sorts floating-point arrays with a comparator for IEEE-754's total order, about 5× slower
than its integer sort (measured: 64 rows of 1024 float32 numbers, 9.0 ms against 1.7 ms; the
sliced Wasserstein observables sort such rows at every record). Numbers of one sign are ordered
as their bit patterns read as signed integers are; flipping the magnitude bits of the negative
ones makes the map :func:`key` increasing on all numbers (−0 just below +0, NaNs at the ends by
their sign bit), and the flip is its own inverse (:func:`from_key`). Sorting the keys and mapping
back gives exactly the numbers ``jnp.sort`` gives, except that subnormal numbers, which
XLA:CPU's float comparator takes as zero, come in IEEE-754 order as with numpy
(``tests/test_sorting.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _int_dtype(dtype) -> jnp.dtype:
    return jnp.dtype(f"int{jnp.dtype(dtype).itemsize * 8}")


def _flip(i: Array) -> Array:
    # i >> (bits − 1) is −1 for a set sign bit and 0 otherwise (arithmetic shift).
    bits = i.dtype.itemsize * 8
    return i ^ ((i >> (bits - 1)) & jnp.iinfo(i.dtype).max)


def key(x: Array) -> Array:
    """The integer key of each number of ``x`` (same shape, a signed integer of the same width):
    x < y implies key(x) < key(y)."""
    return _flip(jax.lax.bitcast_convert_type(x, _int_dtype(x.dtype)))


def from_key(k: Array, dtype) -> Array:
    """The numbers of ``dtype`` whose keys are ``k`` (the inverse of :func:`key`)."""
    return jax.lax.bitcast_convert_type(_flip(k), jnp.dtype(dtype))


def sort(x: Array, axis: int = -1) -> Array:
    """``jnp.sort(x, axis)`` for a floating-point ``x``, sorted as integer keys."""
    return from_key(jnp.sort(key(x), axis=axis), x.dtype)


def argsort(x: Array, axis: int = -1, stable: bool = True) -> Array:
    """``jnp.argsort(x, axis, stable=stable)`` for a floating-point ``x``, sorted as integer keys
    (−0 is placed before +0, which ``jnp.argsort`` treats as equal)."""
    return jnp.argsort(key(x), axis=axis, stable=stable)
