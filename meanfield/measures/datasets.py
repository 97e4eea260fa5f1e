"""Data sets as target laws: the empirical law of a fixed point set (docs/digits.md).

:class:`EmpiricalLaw` is P* = (1/n) Σᵢ δ_{xᵢ} over n fixed points of R^K. It offers what the
systems ask of a law (:mod:`meanfield.measures.laws`): ``sample`` (uniform draws of the points,
with replacement), ``rule`` (the points themselves with weights 1/n, or a fixed subset of
``max_points`` of them when n is larger), ``mean``, ``cov``; for K = 1 also ``cdf``, ``quantile``
(the empirical ones) and ``density`` (a Gaussian kernel estimate, for figures and the JSD grid only).

Data sets by name (:data:`DATASETS`):

- ``"digits"``: scikit-learn's 8×8 handwritten digits (1797 images, K = 64, shipped with
  scikit-learn, no download). Pixels 0..16 are divided by 16, so every coordinate lies in [0, 1]
  and an image is its own pixel intensities (no per-pixel standardisation: 19 of the 64 pixels
  have a standard deviation below 0.1 and two are always 0, so standardising would blow up noise
  at the border). The 1797 images are split once, stratified by class, with a fixed seed into a
  training part (70 %, 1257 images) that is the GAN's target and a held-out part (540 images)
  that only the evaluation sees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.measures.laws import RULE_SAMPLE_SEED, Rule

#: Seed of the train/held-out split of a data set: fixed, so the held-out part never changes.
SPLIT_SEED = 20261203
#: Fraction of a data set held out from training.
HELD_OUT = 0.3
#: Pixel scale of the digits: values 0..16 become 0..1.
DIGITS_SCALE = 16.0


@dataclass(frozen=True, eq=False)
class EmpiricalLaw:
    """(1/n) Σᵢ δ_{xᵢ} over fixed points ``[n, K]`` (module docstring).

    Equality and hashing are by content (the points' bytes), so that two systems built from the
    same data set compare equal as static fields of a compiled program (no recompilation).

    Attributes:
        points: ``[n, K]`` float64, read-only.
        name: what the points are (for messages and figures).
    """

    points: np.ndarray
    name: str = "empirical"
    _digest: str = field(init=False, repr=False)

    def __post_init__(self):
        pts = np.array(self.points, np.float64, copy=True)
        if pts.ndim != 2 or not len(pts) or not np.all(np.isfinite(pts)):
            raise ValueError(f"EmpiricalLaw: expected finite points [n, K] with n >= 1, got shape "
                             f"{pts.shape}")
        pts.setflags(write=False)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "_digest", hashlib.sha1(pts.tobytes()
                                                         + str(pts.shape).encode()).hexdigest())

    def __eq__(self, other) -> bool:
        return isinstance(other, EmpiricalLaw) and self._digest == other._digest

    def __hash__(self) -> int:
        return hash(self._digest)

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def n(self) -> int:
        return self.points.shape[0]

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
        """``[n, K]`` uniform draws of the points, with replacement."""
        idx = jax.random.randint(key, (n,), 0, self.n)
        return jnp.asarray(self.points, dtype)[idx]

    def rule(self, n: int = 0, max_points: int = 4096) -> Rule:
        """The points with weights 1/n (``kind "atoms"``: exact); above ``max_points`` points, a
        fixed subset of that many drawn without replacement (``kind "sample"``). ``n`` (nodes per
        dimension of the other laws) is ignored."""
        if self.n <= max_points:
            return Rule(self.points, np.full(self.n, 1.0 / self.n), "atoms")
        idx = np.random.default_rng(RULE_SAMPLE_SEED).choice(self.n, max_points, replace=False)
        return Rule(self.points[np.sort(idx)], np.full(max_points, 1.0 / max_points), "sample")

    def mean(self) -> np.ndarray:
        return self.points.mean(0)

    def cov(self) -> np.ndarray:
        """The empirical law's covariance (normalised by n, not n − 1: it is this law's)."""
        c = self.points - self.points.mean(0)
        return c.T @ c / self.n

    # -- one-dimensional laws (K = 1) -------------------------------------------------------------
    def _column(self) -> np.ndarray:
        if self.dim != 1:
            raise ValueError(f"{self.name}: cdf, quantile and density need K = 1, got K = "
                             f"{self.dim}")
        return np.sort(self.points[:, 0])

    def cdf(self, x):
        """F_n(x) = #{xᵢ ≤ x}/n."""
        return np.searchsorted(self._column(), np.asarray(x, float), side="right") / self.n

    def quantile(self, u):
        """F_n⁻¹(u) = x_(⌈n u⌉), the index clamped to 1..n (as the exact Smirnov layer)."""
        col = self._column()
        idx = np.clip(np.ceil(self.n * np.asarray(u, float)), 1, self.n).astype(int) - 1
        return col[idx]

    def density(self, x):
        """A Gaussian kernel density estimate with Silverman's bandwidth 0.9·min(sd, IQR/1.34)·n^(−1/5)
        (the empirical law has no density; this is for figures and the JSD grid)."""
        col = self._column()
        sd = col.std()
        iqr = np.subtract(*np.percentile(col, [75, 25]))
        h = 0.9 * min(sd, iqr / 1.34 if iqr > 0 else sd) * self.n ** -0.2
        h = h if h > 0 else 1.0
        x = np.asarray(x, float)[..., None]
        return np.exp(-0.5 * ((x - col) / h) ** 2).sum(-1) / (self.n * h * np.sqrt(2 * np.pi))


class Split(NamedTuple):
    """A labelled data set split once into training and held-out parts.

    Attributes:
        x_train: ``[n_train, K]``; the GAN's target.
        y_train: ``[n_train]`` integer labels.
        x_test: ``[n_test, K]``; never used for training the GAN.
        y_test: ``[n_test]``.
        shape: the shape of one image (``(8, 8)`` for the digits), for figures.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    shape: tuple


def digits() -> Split:
    """scikit-learn's 8×8 digits scaled to [0, 1] (pixels/16), split 70/30 stratified by class with
    :data:`SPLIT_SEED` (1257 training and 540 held-out images; module docstring)."""
    # Imported here: the laws must not need scikit-learn.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data.astype(np.float64) / DIGITS_SCALE
    xa, xb, ya, yb = train_test_split(x, d.target, test_size=HELD_OUT, random_state=SPLIT_SEED,
                                      stratify=d.target)
    return Split(xa, ya, xb, yb, (8, 8))


#: Data sets by name: a function returning the :class:`Split`, and the dimension K of a point.
DATASETS = {"digits": (digits, 64)}


def dataset_law(name: str) -> EmpiricalLaw:
    """The empirical law of the training part of the data set ``name``.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")
    return EmpiricalLaw(DATASETS[name][0]().x_train, name)
