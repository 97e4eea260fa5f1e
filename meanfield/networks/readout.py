"""Shallow networks as readouts of particle measures (docs/model.md §2).

A generator neuron θ = (a_k, b_k, c_k)_{k=1..K} is stored as a row ``[K, L+2]`` with columns
``(a, b_1..b_L, c)``; the generator is the mean of its N neurons, g_μ(z) = (1/N) Σ_i σ(z; θ_i),
σ(z; θ)_k = a_k s(b_k·z + c_k). A critic neuron ω = (α, β, γ) is a row ``[K+2]`` with columns
``(α, β_1..β_K, γ)``, and f_ν(x) = (1/M) Σ_j α_j s(β_j·x + γ_j).

Because both are *means* over particles, N·∇_{θ_i} of any functional written with them is the
mean-field velocity at θ_i (docs/model.md §1); the dynamics rely on this.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array

#: Activations s offered by name (docs/model.md §2: logistic sigmoid by default).
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
}


def activation(name: str) -> Callable[[Array], Array]:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


def preactivations(gen: Array, z: Array) -> Array:
    """The pre-activations b_k·z + c_k of every generator neuron at every latent.

    Args:
        gen: generator particles ``[N, K, L+2]``.
        z: latents ``[B, L]``.

    Returns:
        ``[N, K, B]``, the batch last: one matrix product ``[N·K, L] @ [L, B]``. Written with the
        batch first (``einsum("nkl,bl->bnk")``), XLA:CPU's particle step, forward and backward,
        was 1.7–2.3× slower at K = L = 8, m = 64 (benchmarks/README.md).
    """
    n, k, _ = gen.shape
    rows = gen.reshape(n * k, -1)
    return (rows[:, 1:-1] @ z.T + rows[:, -1:]).reshape(n, k, -1)


def generator(gen: Array, z: Array, s: Callable = jax.nn.sigmoid) -> Array:
    """g_μ(z) for a batch of latents.

    Args:
        gen: generator particles ``[N, K, L+2]``.
        z: latents ``[B, L]``.
        s: activation.

    Returns:
        ``[B, K]``.
    """
    return jnp.mean(gen[..., :1] * s(preactivations(gen, z)), axis=0).T


def blocked(f: Callable[[Array], Array], points: Array, block: int) -> Array:
    """``f(points)`` for a pointwise ``f`` (row i of the result depends on ``points[i]`` only),
    evaluated ``block`` points at a time: the same values with the intermediates of ``block``
    points in memory instead of all of them.

    ``f`` sees whole blocks ``[block, ...]`` (then the remainder), so its products stay matrix
    products; ``lax.map(..., batch_size=block)`` over single points made them batches of
    matrix–vector products (the payoff under a 4096-point rule: 2.3× slower on CPU,
    benchmarks/README.md).
    """
    n = points.shape[0]
    if n <= block:
        return f(points)
    full, rest = divmod(n, block)
    head = jax.lax.map(f, points[:full * block].reshape(full, block, *points.shape[1:]))
    out = head.reshape(full * block, *head.shape[2:])
    return out if rest == 0 else jnp.concatenate([out, f(points[full * block:])])


def generator_blocked(gen: Array, z: Array, s: Callable = jax.nn.sigmoid,
                      block: int = 256) -> Array:
    """:func:`generator` at many latents ``[B, L]``, ``block`` at a time: ``[B, K]`` with
    O(block·N·K) memory instead of O(B·N·K) (observables at ``n_eval`` latents, large N)."""
    return blocked(lambda zz: generator(gen, zz, s), z, block)


def critic(crit: Array, x: Array, s: Callable = jax.nn.sigmoid) -> Array:
    """f_ν(x) for a batch of points.

    Args:
        crit: critic particles ``[M, K+2]``.
        x: points ``[B, K]``.
        s: activation.

    Returns:
        ``[B]``.
    """
    # [M, B] with the batch last, as in :func:`generator`.
    alpha, beta, gamma = crit[:, :1], crit[:, 1:-1], crit[:, -1:]
    return jnp.mean(alpha * s(beta @ x.T + gamma), axis=0)


def generator_neuron(theta: Array, z: Array, s: Callable = jax.nn.sigmoid) -> Array:
    """σ(z; θ) for one neuron ``[K, L+2]`` and one latent ``[L]``; returns ``[K]``."""
    return theta[:, 0] * s(theta[:, 1:-1] @ z + theta[:, -1])


def critic_neuron(omega: Array, x: Array, s: Callable = jax.nn.sigmoid) -> Array:
    """φ(x; ω) for one neuron ``[K+2]`` and one point ``[K]``; returns a scalar."""
    return omega[0] * s(omega[1:-1] @ x + omega[-1])
