"""The regression risk of a shallow network and its aggregation form (docs/regression.md).

The student g_μ(x) = ∫σ(x; θ) dμ(θ) = (1/N) Σᵢ σ(x; θᵢ) is the shallow readout of
:func:`meanfield.networks.readout.generator` (the input x in the latent's place), the teacher
g* = g_{μ*} the same readout of N* fixed neurons. Under the input law P, the risk

    E[μ] = ½ ∫ |g_μ(x) − g*(x)|² dP(x)

is quadratic in μ, an *aggregation energy* [MMN], [CB]:

    E[μ] = ½ ∬ W(θ, θ′) dμ(θ) dμ(θ′) + ∫ V(θ) dμ(θ) + C,
    W(θ, θ′) = ∫ σ(x; θ)·σ(x; θ′) dP(x),   V(θ) = −∫ g*(x)·σ(x; θ) dP(x),   C = ½ ∫ |g*|² dP.

W is a positive semi-definite kernel k on parameter space (a Gram matrix of features in L²(P)),
V = −∫k(·, θ*) dμ*(θ*) and C = ½∬k dμ* dμ*, so E[μ] = ½ MMD²_k(μ, μ*). The first variation is

    δE/δμ[μ](θ) = ∫ (g_μ(x) − g*(x))·σ(x; θ) dP(x) = ∫W(θ, θ′) dμ(θ′) + V(θ),

and the particles move by θ′ = −∇_θ δE/δμ(θ), which is N ∇_{θᵢ}E at θᵢ (docs/model.md §1).

Every integral over P is a weighted sum over points ``x [B, L]`` with weights ``w [B]``: a
quadrature rule (the population risk), or a batch with weights 1/m (its SGD estimate). All the
functions below evaluate the same sums, so the identities hold to round-off under any rule.

References:
    [CB] L. Chizat, F. Bach. *On the Global Convergence of Gradient Descent for
        Over-parameterized Models using Optimal Transport.* NeurIPS 2018.
    [MMN] S. Mei, A. Montanari, P.-M. Nguyen. *A mean field view of the landscape of two-layer
        neural networks.* PNAS 115(33), 2018.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from meanfield.networks.readout import generator, preactivations

Array = jax.Array
Activation = Callable[[Array], Array]


def features(theta: Array, x: Array, s: Activation) -> Array:
    """σ(x_b; θᵢ) of every neuron at every point.

    Args:
        theta: neurons ``[N, K, L+2]``.
        x: inputs ``[B, L]``.
        s: activation.

    Returns:
        ``[B, N, K]``; its mean over axis 1 is ``generator(theta, x, s)``.
    """
    # One neuron as a network of N = 1: the readout's convention, not a second copy of it.
    return jax.vmap(lambda th: generator(th[None], x, s), out_axes=1)(theta)


def residual(theta: Array, teacher: Array, x: Array, s: Activation) -> Array:
    """g_μ(x) − g*(x), ``[B, K]``, for students ``[N, K, L+2]`` and teachers ``[N*, K, L+2]``."""
    return generator(theta, x, s) - generator(teacher, x, s)


def energy(theta: Array, teacher: Array, x: Array, w: Array, s: Activation) -> Array:
    """E[μ] = ½ Σ_b w_b |g_μ(x_b) − g*(x_b)|² (a scalar)."""
    r = residual(theta, teacher, x, s)
    return 0.5 * jnp.sum(w * jnp.sum(r * r, axis=1))


def first_variation(y: Array, theta: Array, teacher: Array, x: Array, w: Array,
                    s: Activation) -> Array:
    """δE/δμ[μ](yⱼ) = Σ_b w_b (g_μ − g*)(x_b)·σ(x_b; yⱼ) at points ``y [n, K, L+2]``: ``[n]``."""
    r = residual(theta, teacher, x, s)
    return jnp.einsum("b,bk,bnk->n", w, r, features(y, x, s))


def first_variation_gradient(y: Array, theta: Array, teacher: Array, x: Array, w: Array,
                             s: Activation) -> Array:
    """∇_y δE/δμ[μ](y) in closed form, ``[n, K, L+2]`` (columns a, b, c as the neurons').

    With σ(x; θ)_k = a_k s(b_k·x + c_k) and r = g_μ − g*:
    ∂_{a_k} = Σ_b w_b r_k s(·), ∂_{b_k} = a_k Σ_b w_b r_k s′(·) x_b, ∂_{c_k} = a_k Σ_b w_b r_k s′(·).
    """
    r = residual(theta, teacher, x, s)
    n, k, _ = y.shape
    a = y[..., :1]
    pre = preactivations(y, x)  # [n, K, B]
    # s is elementwise, so a unit tangent gives s′ at every pre-activation in the same pass.
    act, slope = jax.jvp(s, (pre,), (jnp.ones_like(pre),))
    wr = (w[:, None] * r).T[None]  # [1, K, B]
    ga = jnp.sum(act * wr, axis=-1, keepdims=True)
    gpre = slope * wr
    gb = a * (gpre.reshape(n * k, -1) @ x).reshape(n, k, -1)
    gc = a * jnp.sum(gpre, axis=-1, keepdims=True)
    return jnp.concatenate([ga, gb, gc], axis=-1)


def interaction(theta: Array, other: Array, x: Array, w: Array, s: Activation) -> Array:
    """The kernel W(θᵢ, θ′ⱼ) = Σ_b w_b σ(x_b; θᵢ)·σ(x_b; θ′ⱼ), ``[N, N′]``."""
    return jnp.einsum("b,bik,bjk->ij", w, features(theta, x, s), features(other, x, s))


def confinement(theta: Array, teacher: Array, x: Array, w: Array, s: Activation) -> Array:
    """The external potential V(θᵢ) = −Σ_b w_b g*(x_b)·σ(x_b; θᵢ), ``[N]``."""
    return -jnp.einsum("b,bk,bnk->n", w, generator(teacher, x, s), features(theta, x, s))


def constant(teacher: Array, x: Array, w: Array, s: Activation) -> Array:
    """C = ½ Σ_b w_b |g*(x_b)|² (a scalar): the risk of the zero network."""
    gs = generator(teacher, x, s)
    return 0.5 * jnp.sum(w * jnp.sum(gs * gs, axis=1))


def aggregation_energy(theta: Array, teacher: Array, x: Array, w: Array,
                       s: Activation) -> Array:
    """½ (1/N²) Σᵢⱼ W(θᵢ, θⱼ) + (1/N) Σᵢ V(θᵢ) + C: the risk from its pair interaction, external
    potential and constant (O(N²·B) work, against O(N·B) for :func:`energy`)."""
    return (0.5 * jnp.mean(interaction(theta, theta, x, w, s))
            + jnp.mean(confinement(theta, teacher, x, w, s)) + constant(teacher, x, w, s))


def half_mmd2(theta: Array, teacher: Array, x: Array, w: Array, s: Activation) -> Array:
    """½ MMD²_W(μ, μ*) = ½ (⟨W⟩_{μμ} − 2⟨W⟩_{μμ*} + ⟨W⟩_{μ*μ*}) from the three Gram matrices
    (a V-statistic: diagonal terms included, as the risk requires)."""
    return 0.5 * (jnp.mean(interaction(theta, theta, x, w, s))
                  - 2.0 * jnp.mean(interaction(theta, teacher, x, w, s))
                  + jnp.mean(interaction(teacher, teacher, x, w, s)))
