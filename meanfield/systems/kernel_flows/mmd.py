"""The MMD gradient flow with noise injection [AKSG] (docs/model.md §8).

For particles xᵢ with weights pᵢ (1/N) and target points zₘ with weights qₘ (1/M, or quadrature
weights), F(ν) = ½MMD²(ν, μ) as a V-statistic (diagonal terms included),

    F = ½(Σᵢₗ pᵢpₗ k(xᵢ, xₗ) − 2Σᵢₘ pᵢqₘ k(xᵢ, zₘ) + Σₘₙ qₘqₙ k(zₘ, zₙ)),

its witness is f(y) = Σₗ pₗ k(xₗ, y) − Σₘ qₘ k(zₘ, y), and N ∂F/∂xᵢ = ∇f(xᵢ) (with pᵢ = 1/N). The
particles follow X′ = −∇f(X); the scheme x ← x − γ∇f(x + β_n u) advances flow time by Δt = γ, so a raw
gradient step s on F is γ = s/N. Along the flow dF/dt = −Σᵢ pᵢ|∇f(xᵢ)|².

Noise injection evaluates ∇f at x + β_n u (u ~ N(0, I), the measure inside f unperturbed). In
expectation over u this is the flow of the smoothed witness, f_β(y) = E f(y + βu), which for the
Gaussian kernel is a witness with a Gaussian kernel again
(:func:`meanfield.measures.kernels.smoothed_gaussian`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from meanfield.measures.kernels import Kernel, kernel_sums

Array = jax.Array


def witness(kernel: Kernel, y: Array, x: Array, p: Array, z: Array, q: Array,
            block: int = 1024, grad: bool = True) -> tuple[Array, Array | None]:
    """f(y) ``[n]`` and ∇f(y) ``[n, d]`` at points ``y`` for particles ``(x, p)`` and target
    ``(z, q)`` (blocked)."""
    return kernel_sums(kernel, y, jnp.concatenate([x, z]), jnp.concatenate([p, -q]), block, grad)


def half_mmd2(kernel: Kernel, x: Array, p: Array, z: Array, q: Array, qq: Array,
              block: int = 1024) -> Array:
    """½MMD² (V-statistic) of ``(x, p)`` and ``(z, q)``, given qq = Σₘₙ qₘqₙ k(zₘ, zₙ)."""
    v = kernel_sums(kernel, x, jnp.concatenate([x, z]), jnp.concatenate([p, -2.0 * q]), block,
                    grad=False)[0]
    # Clamped at 0: the three terms cancel to round-off when the particles sit on the target.
    return 0.5 * jnp.maximum(p @ v + qq, 0.0)
