"""KALE, the KL approximate lower-bound estimator, and its inner problem [GAG] (docs/model.md §8).

For probability measures P (the moving particles yⱼ, weights pⱼ) and Q (the target points xᵢ,
weights qᵢ) and λ > 0,

    KALE(P‖Q) = (1 + λ) max_{h ∈ H} J(h),   J(h) = 1 + ∫h dP − ∫eʰ dQ − (λ/2)‖h‖²_H.

The maximiser lies in the span of the kernel sections: h = (1/λ)(Σⱼ pⱼ k(yⱼ, ·) − Σᵢ αᵢ k(xᵢ, ·))
with αᵢ = qᵢ e^{h(xᵢ)}. Writing aᵢ = h(xᵢ), the optimality system is the root of

    R(a) = a − (c − K (q ⊙ eᵃ))/λ,    cᵢ = Σⱼ pⱼ k(xᵢ, yⱼ),   K = [k(xᵢ, xₗ)],

solved by Newton's method (``optimistix.Newton``), warm-started from the previous step's a. In
the variable a the iterates keep α = q ⊙ eᵃ > 0 without a line search, and the Newton direction is
the one of the convex dual below in α (their Jacobians differ by the factor diag(α)).

**Certificate.** Writing eᵘ = sup_{t>0}(tu − t log t + t) turns the max over h into the convex dual

    D(α) = 1 + Σᵢ (αᵢ log(αᵢ/qᵢ) − αᵢ) + ‖Σⱼ pⱼ k(yⱼ, ·) − Σᵢ αᵢ k(xᵢ, ·)‖²_H/(2λ),

and J(h_α) ≤ max J = min D ≤ D(α) for every α > 0: the duality gap D(α) − J(h_α) ≥ 0 bounds the
error of the reported value J(h_α), and vanishes at the solution.

**First variation.** By the envelope theorem δKALE/δP = (1 + λ) h, so the particles move by
−(1 + λ)∇h(yⱼ). As λ → ∞, α → q and (1 + λ)h → the MMD witness: KALE → ½MMD² with an O(1/λ)
error; as λ → 0 with P ≪ Q on a common finite support, KALE → KL(P‖Q).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optimistix as optx

from meanfield.measures.kernels import Kernel, kernel_sums

Array = jax.Array


class Problem(NamedTuple):
    """The data of the inner problem at one step.

    Attributes:
        gram: K = [k(xᵢ, xₗ)] ``[M, M]`` of the target points (fixed along a flow).
        q: target weights ``[M]``.
        c: cᵢ = Σⱼ pⱼ k(xᵢ, yⱼ) ``[M]``.
        pp: Σⱼₗ pⱼ pₗ k(yⱼ, yₗ), the squared norm of P's mean embedding.
        lam: λ > 0.
    """

    gram: Array
    q: Array
    c: Array
    pp: Array
    lam: Array


class Solution(NamedTuple):
    """What one inner solve returns (and the flow carries as its warm start).

    Attributes:
        a: aᵢ = h(xᵢ) ``[M]``.
        steps: Newton iterations taken (int32).
        value: J(h_α), so that KALE = (1 + λ)·value.
        gap: the duality gap D(α) − J(h_α) ≥ 0.
        converged: whether Newton met its tolerance (bool).
    """

    a: Array
    steps: Array
    value: Array
    gap: Array
    converged: Array


def problem(kernel: Kernel, y: Array, p: Array, x: Array, q: Array, gram: Array, lam,
            block: int = 1024) -> Problem:
    """The inner problem for particles ``y [N, d]`` (weights ``p``) and targets ``x [M, d]``."""
    c = kernel_sums(kernel, x, y, p, block, grad=False)[0]
    pp = p @ kernel_sums(kernel, y, y, p, block, grad=False)[0]
    return Problem(gram, q, c, pp, jnp.asarray(lam, y.dtype))


def residual(a: Array, pr: Problem) -> Array:
    """R(a) = a − (c − K(q ⊙ eᵃ))/λ ``[M]`` (module docstring)."""
    return a - (pr.c - pr.gram @ (pr.q * jnp.exp(a))) / pr.lam


def _parts(a: Array, pr: Problem):
    alpha = pr.q * jnp.exp(a)
    k_alpha = pr.gram @ alpha
    # ‖Σ p k(y,·) − Σ α k(x,·)‖²; clamped at 0 against round-off when P ≈ Q.
    s = jnp.maximum(pr.pp - 2.0 * alpha @ pr.c + alpha @ k_alpha, 0.0)
    return alpha, k_alpha, s


def dual(a: Array, pr: Problem) -> Array:
    """D(α) at α = q ⊙ eᵃ (log(αᵢ/qᵢ) = aᵢ)."""
    alpha, _, s = _parts(a, pr)
    return 1.0 + jnp.sum(alpha * a - alpha) + s / (2.0 * pr.lam)


def primal(a: Array, pr: Problem) -> Array:
    """J(h_α) for the h that α = q ⊙ eᵃ defines (its values at the xᵢ are (c − Kα)/λ, not a)."""
    alpha, k_alpha, s = _parts(a, pr)
    h_x = (pr.c - k_alpha) / pr.lam
    mean_h_p = (pr.pp - alpha @ pr.c) / pr.lam
    return 1.0 + mean_h_p - pr.q @ jnp.exp(h_x) - s / (2.0 * pr.lam)


def solve(pr: Problem, a0: Array, rtol: float = 1e-10, atol: float = 1e-10,
          max_steps: int = 50) -> Solution:
    """Newton's method on R(a) = 0 from ``a0`` (a warm start), with its certificate.

    Args:
        pr: the problem.
        a0: initial guess ``[M]`` (0: α = q, the λ → ∞ solution).
        rtol, atol: Newton's stopping tolerances on the iterates (optimistix's convention).
        max_steps: Newton iterations at most; a solve that stops there is reported as not
            converged, and its gap still bounds the error.

    Returns:
        The :class:`Solution`.
    """
    sol = optx.root_find(residual, optx.Newton(rtol=rtol, atol=atol), a0, pr,
                         max_steps=max_steps, throw=False)
    a = sol.value
    value = primal(a, pr)
    return Solution(a, jnp.asarray(sol.stats["num_steps"], jnp.int32), value,
                    dual(a, pr) - value, sol.result == optx.RESULTS.successful)


def kale(kernel: Kernel, y: Array, p: Array, x: Array, q: Array, lam: float,
         block: int = 1024, **newton) -> tuple[Array, Solution]:
    """KALE(P‖Q) from scratch (a0 = 0): ``(value, solution)``."""
    pr = problem(kernel, y, p, x, q, kernel(x, x), lam, block)
    sol = solve(pr, jnp.zeros_like(q), **newton)
    return (1.0 + pr.lam) * sol.value, sol


def potential(kernel: Kernel, z: Array, y: Array, p: Array, x: Array, alpha: Array, lam,
              block: int = 1024, grad: bool = True) -> tuple[Array, Array | None]:
    """The first variation (1 + λ)h at points ``z [n, d]`` and its gradient (blocked sums)."""
    v, g = kernel_sums(kernel, z, jnp.concatenate([y, x]), jnp.concatenate([p, -alpha]), block,
                       grad)
    scale = (1.0 + lam) / lam
    return scale * v, (None if g is None else scale * g)
