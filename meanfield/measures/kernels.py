"""Positive-definite kernels on R^d and blocked kernel sums (docs/model.md §8).

Every kernel here is radial, k(y, x) = φ(|y − x|²), with bandwidth σ > 0 written out exactly
(conventions differ between papers and their code by factors of 2 and squares):

=========== ================================== =========================================
name        k(y, x), r = |y − x|                 dφ/d(r²)
=========== ================================== =========================================
gaussian    exp(−r²/(2σ²))                       −φ/(2σ²)
laplace     exp(−r/σ)                            −φ/(2σr)  (0 at r = 0, see below)
imq         (1 + r²/σ²)^(−1/2)                   −½(1 + r²/σ²)^(−3/2)/σ²
=========== ================================== =========================================

The gradient in the first argument is ∇_y k(y, x) = 2 φ'(r²)(y − x). The Laplace kernel is not
differentiable at r = 0; there the gradient is set to 0 (the element of least norm of its
subdifferential), which is what makes a particle's interaction with itself vanish.

**Smoothing.** For the Gaussian kernel, averaging over a Gaussian perturbation of the first
argument gives another Gaussian kernel (:func:`smoothed_gaussian`):
E_u k(y + βu, x) = (σ²/(σ² + β²))^{d/2} exp(−|y − x|²/(2(σ² + β²))), u ~ N(0, I_d).

**Blocked sums.** :func:`kernel_sums` evaluates Σⱼ wⱼ k(yᵢ, xⱼ) and its gradient in yᵢ over blocks of
the source points, so memory is O(n·block) instead of O(n·m): N = M = 10⁴ particles fit anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

Array = jax.Array
KERNELS = ("gaussian", "laplace", "imq")


@dataclass(frozen=True)
class Kernel:
    """A radial kernel k(y, x) = φ(|y − x|²) (module docstring for the formulas).

    Attributes:
        name: ``"gaussian"``, ``"laplace"`` or ``"imq"``.
        bandwidth: σ > 0.
    """

    name: str = "gaussian"
    bandwidth: float = 1.0

    def __post_init__(self):
        if self.name not in KERNELS:
            raise ValueError(f"kernel: expected one of {', '.join(KERNELS)}, got {self.name!r}")
        if not self.bandwidth > 0:
            raise ValueError(f"kernel bandwidth: expected > 0, got {self.bandwidth!r}")

    def profile(self, r2: Array) -> tuple[Array, Array]:
        """φ(r²) and dφ/d(r²), elementwise, for squared distances ``r2`` (any shape)."""
        s = self.bandwidth
        if self.name == "gaussian":
            k = jnp.exp(-r2 / (2 * s * s))
            return k, -k / (2 * s * s)
        if self.name == "laplace":
            pos = r2 > 0
            # Double where: the square root's derivative must not meet r = 0 in any branch.
            r = jnp.sqrt(jnp.where(pos, r2, 1.0))
            k = jnp.where(pos, jnp.exp(-r / s), 1.0)
            return k, jnp.where(pos, -k / (2 * s * r), 0.0)
        q = 1.0 + r2 / (s * s)
        return q ** -0.5, -0.5 * q ** -1.5 / (s * s)

    def __call__(self, y: Array, x: Array) -> Array:
        """The Gram matrix ``[n, m]`` of points ``y [n, d]`` and ``x [m, d]`` (dense)."""
        return self.profile(squared_distances(y, x))[0]


def squared_distances(y: Array, x: Array) -> Array:
    """|yᵢ − xⱼ|² ``[n, m]`` from differences (exact 0 on the diagonal of a cloud with itself)."""
    d = y[:, None, :] - x[None, :, :]
    return jnp.sum(d * d, axis=-1)


def smoothed_gaussian(bandwidth: float, beta: float, d: int) -> tuple[float, Kernel]:
    """E_u k(y + βu, x) for the Gaussian kernel of ``bandwidth`` σ: ``(c, Kernel)`` with the
    smoothed kernel equal to ``c`` times the Gaussian kernel of bandwidth √(σ² + β²)."""
    s2 = bandwidth ** 2 + beta ** 2
    return (bandwidth ** 2 / s2) ** (d / 2), Kernel("gaussian", s2 ** 0.5)


def _pad(x: Array, w: Array, block: int) -> tuple[Array, Array]:
    """Pad the sources to a multiple of ``block`` with zero-weight copies of the first point."""
    m = x.shape[0]
    extra = (-m) % block
    if extra:
        x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])])
        w = jnp.concatenate([w, jnp.zeros((extra,), w.dtype)])
    return x, w


def kernel_sums(kernel: Kernel, y: Array, x: Array, w: Array, block: int = 1024,
                grad: bool = True) -> tuple[Array, Array | None]:
    """Σⱼ wⱼ k(yᵢ, xⱼ) and its gradient Σⱼ wⱼ ∇_y k(yᵢ, xⱼ), in blocks of the sources.

    Args:
        kernel: the kernel.
        y: evaluation points ``[n, d]``.
        x: source points ``[m, d]``.
        w: source weights ``[m]`` (signed: a witness function is one call).
        block: sources per block; memory is O(n·block·d).
        grad: also return the gradient.

    Returns:
        ``(values [n], gradients [n, d] or None)``. Differentiable in y by autodiff as well
        (for tests; autodiff stores every block).
    """
    block = max(1, min(block, x.shape[0]))
    xs, ws = _pad(x, w, block)
    xs = xs.reshape(-1, block, x.shape[1])
    ws = ws.reshape(-1, block)

    def body(acc, blk):
        xb, wb = blk
        k, dk = kernel.profile(squared_distances(y, xb))
        val = acc[0] + k @ wb
        if not grad:
            return (val, acc[1]), None
        s = dk * wb[None, :]  # [n, block]
        # Σⱼ 2 φ'ⱼ wⱼ (yᵢ − xⱼ), as two matrix products instead of an [n, block, d] tensor.
        g = acc[1] + 2.0 * (jnp.sum(s, axis=1)[:, None] * y - s @ xb)
        return (val, g), None

    init = (jnp.zeros(y.shape[:1], y.dtype), jnp.zeros(y.shape if grad else (0,), y.dtype))
    if xs.shape[0] == 1:
        (val, g), _ = body(init, (xs[0], ws[0]))
    else:
        (val, g), _ = jax.lax.scan(body, init, (xs, ws))
    return val, (g if grad else None)


def mean_embedding_norm2(kernel: Kernel, x: Array, w: Array, block: int = 1024) -> Array:
    """‖Σⱼ wⱼ k(xⱼ, ·)‖²_H = Σᵢⱼ wᵢ wⱼ k(xᵢ, xⱼ) (a scalar), blocked."""
    return w @ kernel_sums(kernel, x, x, w, block, grad=False)[0]
