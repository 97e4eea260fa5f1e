"""Probability laws: latents λ and targets P* (docs/model.md §2).

Every law can be sampled and has a *rule* ``(points [Q, d], weights [Q])`` for exact expectations,
used by the population dynamics: tensor Gauss–Hermite for Gaussians and Gaussian mixtures (exact
for polynomials of degree ``2n - 1`` in each coordinate), Gauss–Legendre in the quantile variable
for the logistic law, exact sums for atoms. When ``n**d`` would exceed ``max_points``, the rule is a
large fixed sample instead (``Rule.kind == "sample"``), shared by every step.

One-dimensional laws also give their CDF, density and quantile function (numpy, host side), which
the observables use for exact 1-D Wasserstein distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import hermite_e, legendre
from scipy import special

#: Seed of the fixed sample used when quadrature is impossible; fixed so runs are reproducible.
RULE_SAMPLE_SEED = 20240415


class Rule(NamedTuple):
    """Points and weights with ``sum(weights) == 1``: ``E f ≈ weights @ f(points)``.

    Attributes:
        points: ``[Q, d]``.
        weights: ``[Q]``.
        kind: ``"gauss-hermite"``, ``"gauss-legendre"``, ``"atoms"`` or ``"sample"``.
    """

    points: np.ndarray
    weights: np.ndarray
    kind: str


def _tensor(nodes: np.ndarray, weights: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    grids = np.meshgrid(*([nodes] * d), indexing="ij")
    wgrids = np.meshgrid(*([weights] * d), indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=-1)
    w = np.prod(np.stack([g.ravel() for g in wgrids], axis=-1), axis=-1)
    return pts, w


def gauss_hermite(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite rule for the standard Gaussian on R^d: ``[n**d, d]``, ``[n**d]``."""
    x, w = hermite_e.hermegauss(n)
    return _tensor(x, w / w.sum(), d)


def _bisect_quantile(cdf, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    a, b = np.full_like(u, lo), np.full_like(u, hi)
    for _ in range(200):
        m = 0.5 * (a + b)
        below = cdf(m) < u
        a, b = np.where(below, m, a), np.where(below, b, m)
    return 0.5 * (a + b)


@dataclass(frozen=True)
class StandardGaussian:
    """N(0, I_d): the default latent law."""

    dim: int

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        return jax.random.normal(key, (n, self.dim), dtype)

    def rule(self, n: int = 20, max_points: int = 4096) -> Rule:
        if n ** self.dim > max_points:
            return _sample_rule(self, max_points)
        pts, w = gauss_hermite(n, self.dim)
        return Rule(pts, w, "gauss-hermite")

    def mean(self) -> np.ndarray:
        return np.zeros(self.dim)

    def cov(self) -> np.ndarray:
        return np.eye(self.dim)

    def cdf(self, x):
        return special.ndtr(x)

    def density(self, x):
        return np.exp(-0.5 * np.asarray(x) ** 2) / np.sqrt(2 * np.pi)

    def quantile(self, u):
        return special.ndtri(u)


@dataclass(frozen=True)
class Logistic:
    """Coordinates iid standard logistic, CDF 1/(1 + e^{-x}) (the toy game's latent, docs/model.md §5)."""

    dim: int

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        return jax.random.logistic(key, (n, self.dim), dtype)

    def rule(self, n: int = 40, max_points: int = 4096) -> Rule:
        if n ** self.dim > max_points:
            return _sample_rule(self, max_points)
        u, w = legendre.leggauss(n)
        pts, wt = _tensor(special.logit(0.5 * (u + 1)), w / w.sum(), self.dim)
        return Rule(pts, wt, "gauss-legendre")

    def mean(self) -> np.ndarray:
        return np.zeros(self.dim)

    def cov(self) -> np.ndarray:
        return np.eye(self.dim) * np.pi ** 2 / 3

    def cdf(self, x):
        return special.expit(x)

    def density(self, x):
        s = special.expit(np.asarray(x))
        return s * (1 - s)

    def quantile(self, u):
        return special.logit(u)


@dataclass(frozen=True)
class GaussianMixture:
    """Σ_j w_j N(m_j, diag(s_j²)) on R^K.

    Attributes:
        weights: ``(J,)`` positive, normalised on construction by :func:`gaussian_mixture`.
        means: ``(J, K)`` nested tuples.
        stds: ``(J, K)`` nested tuples.
    """

    weights: tuple[float, ...]
    means: tuple[tuple[float, ...], ...]
    stds: tuple[tuple[float, ...], ...]

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def _arrays(self):
        return np.asarray(self.weights), np.asarray(self.means), np.asarray(self.stds)

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        w, m, s = self._arrays()
        kc, kn = jax.random.split(key)
        j = jax.random.choice(kc, len(w), (n,), p=jnp.asarray(w, dtype))
        eps = jax.random.normal(kn, (n, self.dim), dtype)
        return jnp.asarray(m, dtype)[j] + jnp.asarray(s, dtype)[j] * eps

    def rule(self, n: int = 20, max_points: int = 4096) -> Rule:
        w, m, s = self._arrays()
        if len(w) * n ** self.dim > max_points:
            return _sample_rule(self, max_points)
        x, v = gauss_hermite(n, self.dim)
        pts = (m[:, None, :] + s[:, None, :] * x[None]).reshape(-1, self.dim)
        return Rule(pts, (w[:, None] * v[None]).ravel(), "gauss-hermite")

    def mean(self) -> np.ndarray:
        w, m, _ = self._arrays()
        return w @ m

    def cov(self) -> np.ndarray:
        w, m, s = self._arrays()
        mu = w @ m
        second = sum(wj * (np.diag(sj ** 2) + np.outer(mj, mj)) for wj, mj, sj in zip(w, m, s))
        return second - np.outer(mu, mu)

    def cdf(self, x):
        w, m, s = self._arrays()
        x = np.asarray(x, float)[..., None]
        return (w * special.ndtr((x - m[:, 0]) / s[:, 0])).sum(-1)

    def density(self, x):
        w, m, s = self._arrays()
        x = np.asarray(x, float)[..., None]
        # The normal density written out: scipy.stats costs half a second at import.
        z = (x - m[:, 0]) / s[:, 0]
        return (w * np.exp(-0.5 * z ** 2) / (np.sqrt(2 * np.pi) * s[:, 0])).sum(-1)

    def quantile(self, u):
        _, m, s = self._arrays()
        return _bisect_quantile(self.cdf, np.asarray(u, float), float((m - 40 * s).min()),
                                float((m + 40 * s).max()))


@dataclass(frozen=True)
class AtomicMixture:
    """Σ_j w_j δ_{a_j} on R^K (e.g. the toy game's ½δ_{−1} + ½δ_{1})."""

    weights: tuple[float, ...]
    atoms: tuple[tuple[float, ...], ...]

    @property
    def dim(self) -> int:
        return len(self.atoms[0])

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        j = jax.random.choice(key, len(self.weights), (n,), p=jnp.asarray(self.weights, dtype))
        return jnp.asarray(self.atoms, dtype)[j]

    def rule(self, n: int = 0, max_points: int = 0) -> Rule:
        return Rule(np.asarray(self.atoms, float), np.asarray(self.weights, float), "atoms")

    def mean(self) -> np.ndarray:
        return np.asarray(self.weights) @ np.asarray(self.atoms)

    def cov(self) -> np.ndarray:
        a, w = np.asarray(self.atoms), np.asarray(self.weights)
        mu = w @ a
        return (w[:, None] * (a - mu)).T @ (a - mu)

    def cdf(self, x):
        a, w = np.asarray(self.atoms)[:, 0], np.asarray(self.weights)
        return (w * (np.asarray(x, float)[..., None] >= a)).sum(-1)

    def density(self, x):
        return None

    def quantile(self, u):
        a, w = np.asarray(self.atoms)[:, 0], np.asarray(self.weights)
        order = np.argsort(a)
        cum = np.cumsum(w[order])
        idx = np.minimum(np.searchsorted(cum, np.asarray(u, float), side="left"), len(a) - 1)
        return a[order][idx]


Law = StandardGaussian | Logistic | GaussianMixture | AtomicMixture


def _sample_rule(law, n: int) -> Rule:
    pts = np.asarray(law.sample(jax.random.key(RULE_SAMPLE_SEED), n, jnp.float64
                                if jax.config.jax_enable_x64 else jnp.float32), float)
    return Rule(pts, np.full(n, 1.0 / n), "sample")


def gaussian_mixture(weights, means, stds) -> GaussianMixture:
    """Build a mixture from lists; ``stds`` may be one number per component (isotropic).

    Args:
        weights: ``J`` positive numbers (normalised here).
        means: ``J`` points of R^K (a number per component when K = 1).
        stds: ``J`` numbers or ``J`` vectors of length K.
    """
    w = np.asarray(weights, float)
    m = np.atleast_2d(np.asarray(means, float).reshape(len(w), -1))
    # Each entry is a number (isotropic) or a K-vector, so the list may be ragged.
    s = np.stack([np.broadcast_to(np.asarray(e, float).ravel(), (m.shape[1],)) for e in stds])
    return GaussianMixture(tuple(w / w.sum()), tuple(map(tuple, m)), tuple(map(tuple, s)))


def atomic_mixture(weights, atoms) -> AtomicMixture:
    """Build ``Σ_j w_j δ_{a_j}`` from lists (``atoms`` a number per atom when K = 1)."""
    w = np.asarray(weights, float)
    a = np.asarray(atoms, float).reshape(len(w), -1)
    return AtomicMixture(tuple(w / w.sum()), tuple(map(tuple, a)))


def midpoint_quantiles(law, n: int) -> np.ndarray:
    """The 1-D law's quantiles at ``(i + ½)/n``, ``[n]``: an n-atom approximation whose W_p error
    is O(1/n) for laws with light tails, used to evaluate exact 1-D Wasserstein distances."""
    return np.asarray(law.quantile((np.arange(n) + 0.5) / n), float)
