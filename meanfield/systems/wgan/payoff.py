"""The WGAN payoff Ψ(μ, ν) = E_z f_ν(g_μ(z)) − E_{x∼P*} f_ν(x) (docs/model.md §2).

Expectations are weighted sums, so the same function serves a sample batch (weights 1/m), a
quadrature rule (the population dynamics) and a large fixed sample.
"""

from __future__ import annotations

from typing import Callable

import jax

from meanfield.measures.expectation import Expectation
from meanfield.networks.readout import blocked, critic, generator

Array = jax.Array


def payoff(gen: Array, crit: Array, e: Expectation, s: Callable = jax.nn.sigmoid,
           out: Callable | None = None) -> Array:
    """Ψ̂(μ_N, ν_M) under the expectation ``e``.

    Args:
        gen: generator particles ``[N, K, L+2]``.
        crit: critic particles ``[M, K+2]``.
        e: where and with which weights to evaluate the expectations.
        s: activation of both networks.
        out: an output layer ``[B, K] -> [B, K]`` after the generator (None: g_μ itself), e.g.
            the Smirnov layer (:mod:`meanfield.networks.smirnov`).

    Returns:
        A scalar. The critic ascends it, the generator descends it.
    """
    fake = critic(crit, generated_points(gen, e.z, s, out), s)
    real = critic(crit, e.x, s)
    return e.wz @ fake - e.wx @ real


def generated_points(gen: Array, z: Array, s: Callable = jax.nn.sigmoid,
                     out: Callable | None = None) -> Array:
    """The generated points ``[B, K]`` at latents ``z`` ``[B, L]``: g_μ(z), then ``out`` if any."""
    y = generator(gen, z, s)
    return y if out is None else out(y)


def payoff_blocked(gen: Array, crit: Array, e: Expectation, s: Callable = jax.nn.sigmoid,
                   block: int = 256, out: Callable | None = None) -> Array:
    """:func:`payoff`, evaluating the readouts ``block`` points at a time.

    Same value (up to rounding), memory O(block·(N·K + M)) instead of O(B·(N·K + M)): for
    observables under a large rule (a 4096-point sample) with large N and many replicas.
    """
    fake = blocked(lambda z: critic(crit, generated_points(gen, z, s, out), s), e.z, block)
    real = blocked(lambda x: critic(crit, x, s), e.x, block)
    return e.wz @ fake - e.wx @ real


def velocities(gen: Array, crit: Array, e: Expectation, s: Callable = jax.nn.sigmoid):
    """Mean-field velocities (V_μ(θ_i), V_ν(ω_j)) via N·∇_θ Ψ̂ and M·∇_ω Ψ̂ (docs/model.md §1).

    Returns:
        ``([N, K, L+2], [M, K+2])``: V_μ at each generator particle and V_ν at each critic particle.
    """
    g_gen, g_crit = jax.grad(payoff, argnums=(0, 1))(gen, crit, e, s)
    return gen.shape[0] * g_gen, crit.shape[0] * g_crit
