"""The unadjusted Langevin algorithm (ULA), the particle scheme of the KL flow (docs/model.md §8).

For a target π with a log-density, F(ν) = KL(ν‖π) has the Wasserstein gradient flow
∂ρ/∂t = ∇·(ρ∇log(ρ/π)), the law of dX = ∇log π(X) dt + √2 dW. ULA discretises it with step γ:

    x ← x + γ∇log π(x) + √(2γ) ξ,     ξ ~ N(0, I),   Δt = γ.

For π = N(m, s²I) the iteration is linear and its stationary law is exactly
N(m, s²/(1 − γ/(2s²)) I) (:func:`stationary_variance`): the O(γ) bias of ULA.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.measures.laws import GaussianMixture

Array = jax.Array


def log_density(law: GaussianMixture, x: Array) -> Array:
    """log π(x) ``[n]`` of a Gaussian mixture Σⱼ wⱼ N(mⱼ, diag(sⱼ²)) at points ``x [n, d]``."""
    w, m, s = (jnp.asarray(np.asarray(a), x.dtype) for a in (law.weights, law.means, law.stds))
    z = (x[:, None, :] - m[None]) / s[None]
    comp = -0.5 * jnp.sum(z * z, -1) - jnp.sum(jnp.log(s), -1)[None] \
        - 0.5 * x.shape[1] * jnp.log(2 * jnp.pi)
    return jax.nn.logsumexp(comp + jnp.log(w)[None], axis=1)


def stationary_variance(s2: float, step: float) -> float:
    """Variance per coordinate of ULA's stationary law for π = N(m, s²I): s²/(1 − γ/(2s²)).

    Raises:
        ValueError: when γ ≥ 2s², where the iteration is unstable.
    """
    if not step < 2 * s2:
        raise ValueError(f"ULA on N(m, {s2} I) is unstable for step {step} >= {2 * s2}")
    return s2 / (1.0 - step / (2.0 * s2))
