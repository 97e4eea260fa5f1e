"""The particle ODE of the JSD flow in 1-D, with a kernel density estimate (docs/model.md §7).

[HZ]'s distribution-dependent ODE moves each particle by

    Y′ = −½ (∂ ln ρ − ∂ ln(ρ_d + ρ))(Y) = −½ ∂_y ln(ρ/(ρ_d + ρ))(Y),

ρ the density of the particles. Here ρ is the Gaussian kernel density estimate of the particles
(:func:`meanfield.metrics.divergences.kde_log_density`) with an absolute bandwidth b: ρ_b = (1/N) Σⱼ N(·; Yⱼ, b²), and the
gradient is taken by automatic differentiation of ln ρ_b − logaddexp(ln ρ_d, ln ρ_b). Explicit
Euler in time.

**Bias (Project).** For N → ∞ the particles follow the flow of ρ * N(0, b²) instead of ρ: the
velocity field sees a density smoothed by b, whose variance is larger by b². The measured effect on
the moments is in docs/model.md §7.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from meanfield.metrics.divergences import kde_log_density

Array = jax.Array


def velocity(y: Array, particles: Array, bandwidth, log_rho_d: Callable[[Array], Array]) -> Array:
    """−½ ∂_y ln(ρ_b/(ρ_d + ρ_b)) at the points ``y`` ``[n]``, ρ_b the KDE of ``particles``."""
    p = jax.lax.stop_gradient(particles)

    def first_variation(z):  # δJSD/δρ = ½ ln(2ρ/(ρ_d + ρ)), up to a constant
        lr = kde_log_density(p, z[None], bandwidth)[0]
        return 0.5 * (lr - jnp.logaddexp(log_rho_d(z), lr))

    return -jax.vmap(jax.grad(first_variation))(y)


def simulate(x0: Array, log_rho_d: Callable[[Array], Array], bandwidth: float, dt: float,
             n_steps: int, every: int = 1) -> Array:
    """Explicit Euler, ``n_steps`` steps of ``dt``; the particles every ``every`` steps.

    Returns:
        ``[n_steps // every + 1, N]``, the initial particles first.
    """
    def step(x, _):
        return x + dt * velocity(x, x, bandwidth, log_rho_d), None

    def chunk(x, _):
        x, _ = jax.lax.scan(step, x, None, length=every)
        return x, x

    _, xs = jax.lax.scan(chunk, x0, None, length=n_steps // every)
    return jnp.concatenate([x0[None], xs])
