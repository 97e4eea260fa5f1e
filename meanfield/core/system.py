"""The interface every particle dynamics implements, so the driver never assumes the WGAN.

A *particle system* is, in the style of optax and blackjax, a pair of pure functions over a small
immutable state, plus the mean-field time one step advances and the observables it exposes:

- ``init(key) -> state``: initial particles (and optimiser state);
- ``step(state, noise) -> state``: one step, advancing mean-field time by ``dt`` (docs/model.md §1);
  ``noise`` is the step's key, or ``step_noise(key)`` when the system defines that optional method
  (the driver then draws the noise of many steps at once, see :mod:`meanfield.core.driver`);
- ``observe(state) -> dict[str, Array]``: observables recorded on the run's time grid;
- ``snapshot(state) -> dict[str, Array]``: the particles saved at the requested snapshot times.

All four are traced by ``jax.jit``/``jax.vmap``; ``dt`` is a Python float. A system may also
define ``summary(t, observables) -> dict``, called on the host with the recorded ``t`` ``[n]`` and
observables ``[R, n, ...]`` (numpy), whose entries are added to ``summary.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, runtime_checkable

import jax

Array = jax.Array
PyTree = Any


@runtime_checkable
class ParticleSystem(Protocol):
    """A mean-field particle dynamics the driver can run (see module docstring)."""

    dt: float

    def init(self, key: Array) -> PyTree: ...

    def step(self, state: PyTree, key: Array) -> PyTree: ...

    def observe(self, state: PyTree) -> dict[str, Array]: ...

    def snapshot(self, state: PyTree) -> dict[str, Array]: ...


def finite_check(tree: PyTree) -> Array:
    """True when every leaf of ``tree`` is finite; the driver uses it to stop a diverging run.

    Args:
        tree: any pytree of floating arrays.

    Returns:
        A scalar boolean array.
    """
    leaves = [jax.numpy.all(jax.numpy.isfinite(x)) for x in jax.tree.leaves(tree)
              if jax.numpy.issubdtype(x.dtype, jax.numpy.inexact)]
    if not leaves:
        return jax.numpy.asarray(True)
    return jax.numpy.stack(leaves).all()


StepFn = Callable[[PyTree, Array], PyTree]


def static_field():
    """A field of a pytree system (``jax.tree_util.register_dataclass``) that is static: it fixes
    shapes or the step count, so systems that differ in it compile separately and cannot be
    stacked into one vmapped sweep group."""
    return dataclasses.field(metadata={"static": True})
