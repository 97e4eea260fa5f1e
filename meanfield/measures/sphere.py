"""The uniform law on the sphere of radius √L in R^L (an input law of the teacher–student regression).

The radius √L gives the law the covariance I_L, that of the standard Gaussian it replaces, so the
two input laws put pre-activations b·x on the same scale (the convention of [MMN]). Its rule for
exact expectations, ``(points [Q, L], weights [Q])`` like those of
:mod:`meanfield.measures.laws`:

- L = 1: the two points ±1, weight ½ each (exact);
- L = 2: n equispaced angles, weight 1/n (exact for trigonometric polynomials of degree < n);
- L = 3: Gauss–Legendre in the height u = cos ϑ (n nodes, the area element is du dφ) times 2n
  equispaced azimuths (exact for spherical polynomials of degree ≤ 2n − 1);
- L ≥ 4, or more than ``max_points`` points: a fixed sample of ``max_points`` points, shared by
  every step (``Rule.kind == "sample"``).

References:
    [MMN] S. Mei, A. Montanari, P.-M. Nguyen. *A mean field view of the landscape of two-layer
        neural networks.* PNAS 115(33), 2018.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import legendre

from meanfield.measures.laws import RULE_SAMPLE_SEED, Rule


@dataclass(frozen=True)
class UniformSphere:
    """The uniform law on {x ∈ R^dim : |x| = √dim} (covariance I)."""

    dim: int

    @property
    def radius(self) -> float:
        return float(np.sqrt(self.dim))

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        """``[n, dim]``: standard Gaussians scaled to the sphere (their direction is uniform)."""
        g = jax.random.normal(key, (n, self.dim), dtype)
        return self.radius * g / jnp.linalg.norm(g, axis=1, keepdims=True)

    def rule(self, n: int = 20, max_points: int = 4096) -> Rule:
        """The rule of the module docstring with ``n`` nodes per angle."""
        r = self.radius
        if self.dim == 1:
            return Rule(np.array([[-1.0], [1.0]]), np.array([0.5, 0.5]), "atoms")
        if self.dim == 2 and n <= max_points:
            phi = 2 * np.pi * np.arange(n) / n
            return Rule(r * np.stack([np.cos(phi), np.sin(phi)], -1), np.full(n, 1.0 / n),
                        "trapezoid")
        if self.dim == 3 and 2 * n * n <= max_points:
            u, wu = legendre.leggauss(n)
            phi = 2 * np.pi * np.arange(2 * n) / (2 * n)
            uu, pp = np.meshgrid(u, phi, indexing="ij")
            rho = np.sqrt(1.0 - uu ** 2)
            pts = np.stack([rho * np.cos(pp), rho * np.sin(pp), uu], -1).reshape(-1, 3)
            w = np.repeat(wu / wu.sum(), 2 * n) / (2 * n)
            return Rule(r * pts, w, "gauss-legendre-trapezoid")
        pts = np.asarray(self.sample(jax.random.key(RULE_SAMPLE_SEED), max_points,
                                     jnp.float64 if jax.config.jax_enable_x64 else jnp.float32),
                         float)
        return Rule(pts, np.full(max_points, 1.0 / max_points), "sample")

    def mean(self) -> np.ndarray:
        return np.zeros(self.dim)

    def cov(self) -> np.ndarray:
        return np.eye(self.dim)
