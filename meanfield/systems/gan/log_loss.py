"""The log-loss game of the original GAN (Goodfellow et al. 2014; docs/model.md §7).

The discriminator is D = sigmoid(ℓ), ℓ = f_ν the shallow critic's readout (its *logit*). For
generated points y = G(z) and data x the discriminator ascends the value

    V(D, G) = E_x ln D(x) + E_z ln(1 − D(G(z))) = E_x ln σ(ℓ(x)) + E_z ln σ(−ℓ(G(z))),

written with ``jax.nn.log_sigmoid`` so that saturated discriminators (|ℓ| ≫ 1) lose no digits. The
generator descends

- **saturating** (Algorithm 1 of [GPM]): E_z ln(1 − D(G(z))), the part of V it controls — the game
  is then zero-sum;
- **non-saturating**: −E_z ln D(G(z)), the same fixed points with stronger gradients where D(G(z))
  is near 0; the game is general-sum.

For a fixed generator with density ρ_G the value is maximised pointwise by D* = ρ_d/(ρ_d + ρ_G),
where V(D*, G) = −ln 4 + 2·JSD(ρ_d, ρ_G) [GPM, Theorem 1] (:func:`optimal_discriminator`,
:func:`optimal_value`). At D* the drift of Huang–Zhang's Algorithm 2,
∇D/(2(1 − D)) = −½∇ ln(1 − D) = ½ D ∇ℓ, is the velocity of the JSD flow's particle ODE,
−½ ∇ ln(ρ_G/(ρ_d + ρ_G)) (:func:`drift`).

References:
    [GPM] I. Goodfellow, J. Pouget-Abadie, M. Mirza et al. *Generative adversarial nets.*
        NeurIPS 2014.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np

from meanfield.measures.expectation import Expectation
from meanfield.networks.readout import critic
from meanfield.systems.wgan.payoff import generated_points

Array = jax.Array
LOSSES = ("saturating", "nonsaturating")


def value_at(crit: Array, fake: Array, wz: Array, real: Array, wx: Array,
             s: Callable = jax.nn.sigmoid) -> Array:
    """V at given generated points ``fake`` ``[B, K]`` (weights ``wz`` ``[B]``) and data
    ``real`` ``[B', K]`` (weights ``wx``), for the discriminator sigmoid(f_ν), ν = ``crit``."""
    return wx @ jax.nn.log_sigmoid(critic(crit, real, s)) \
        + wz @ jax.nn.log_sigmoid(-critic(crit, fake, s))


def value(gen: Array, crit: Array, e: Expectation, s: Callable = jax.nn.sigmoid,
          out: Callable | None = None) -> Array:
    """V(D_ν, G_μ) under the expectation ``e`` (a batch, or a rule for the population).

    Args:
        gen: generator particles ``[N, K, L+2]``.
        crit: discriminator particles ``[M, K+2]``.
        e: latents and data with their weights.
        s: activation of both networks.
        out: an output layer after the generator (None: G = g_μ), e.g. the Smirnov layer.

    Returns:
        A scalar; the discriminator ascends it.
    """
    return value_at(crit, generated_points(gen, e.z, s, out), e.wz, e.x, e.wx, s)


def nonsaturating_loss(gen: Array, crit: Array, e: Expectation,
                       s: Callable = jax.nn.sigmoid, out: Callable | None = None) -> Array:
    """−E_z ln D(G(z)), the non-saturating generator loss (``out``: as :func:`value`)."""
    return -(e.wz @ jax.nn.log_sigmoid(critic(crit, generated_points(gen, e.z, s, out), s)))


def drift(logit: Callable[[Array], Array], y: Array) -> Array:
    """∇D/(2(1 − D)) = ½ D ∇ℓ for D = sigmoid(ℓ), at the points ``y`` ``[B, K]``.

    Args:
        logit: ℓ, ``[B, K] -> [B]`` pointwise (a critic's readout, or a closed form).
        y: points ``[B, K]``.

    Returns:
        ``[B, K]``.
    """
    ell, grad = jax.vmap(jax.value_and_grad(lambda p: logit(p[None])[0]))(y)
    return 0.5 * jax.nn.sigmoid(ell)[:, None] * grad


def optimal_discriminator(rho_d, rho_g):
    """D* = ρ_d/(ρ_d + ρ_G) for densities at the same points (numpy or JAX arrays)."""
    return rho_d / (rho_d + rho_g)


def optimal_value(jsd) -> float:
    """V(D*, G) = −ln 4 + 2·JSD(ρ_d, ρ_G)."""
    return -np.log(4.0) + 2.0 * jsd
