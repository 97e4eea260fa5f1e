"""The Fokker–Planck equation of the JSD gradient flow in 1-D, by implicit finite volumes.

Huang and Zhang [HZ] read the GAN generator's dynamics as the Wasserstein gradient flow of
F(u) = JSD(u, ρ_d) (docs/model.md §7): with δF/δu = ½ ln(2u/(u + ρ_d)),

    u_t = ∂_y(u ∂_y δF/δu) = ½ ∂_y(u ∂_y ln(u/(ρ_d + u))),

or, for the density ratio v = u/ρ_d, v_t = ½ (1/ρ_d) ∂_y(ρ_d ∂_y ln(1 + v)) = ½ Δ_{μ_d} ln(1 + v). [HZ]
prove convergence when ρ₀ ≤ β ρ_d for some β (:func:`ratio_bound`).

**Scheme (Project).** Cells of width h on [a, b], values at the centres yᵢ, no flux through the ends.
With φ = ln(1 + v) and ρ_{i+½} = ρ_d at the faces (0 at the two ends),

    vᵢⁿ⁺¹ − vᵢⁿ = (Δt/(2ρᵢh²)) [ρ_{i+½}(φᵢ₊₁ − φᵢ) − ρ_{i−½}(φᵢ − φᵢ₋₁)]  at v = vⁿ⁺¹

(backward Euler), solved by Newton's method (``optimistix.Newton``) with lineax's tridiagonal solver
on the tridiagonal Jacobian, started from vⁿ. Properties (tested):

- mass h Σ ρᵢvᵢ is conserved to round-off (the fluxes telescope);
- JSD is non-increasing at every step for every Δt: with G(v) = ½[v ln(2v/(1 + v)) + ln(2/(1 + v))],
  so that JSD = h Σ ρᵢ G(vᵢ), G is convex and G′ = ½ ln(2v/(1 + v)) and φ are both increasing, so
  Σ ρᵢ(G(vᵢⁿ⁺¹) − G(vᵢⁿ)) ≤ Σ ρᵢ G′(vᵢⁿ⁺¹)(vᵢⁿ⁺¹ − vᵢⁿ) = −(Δt/2h²) Σ ρ_{i+½}(G′ᵢ₊₁ − G′ᵢ)(φᵢ₊₁ − φᵢ) ≤ 0;
- first order in time, second order in space.

References:
    [HZ] Y.-J. Huang, Y. Zhang. *GANs as gradient flows that converge.* JMLR 24 (2023).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx

Array = jax.Array


class Grid(NamedTuple):
    """Cells of width ``h`` on ``[a, b]``.

    Attributes:
        y: centres ``[n]``.
        faces: the n + 1 cell boundaries ``[n + 1]``.
        h: the width.
    """

    y: np.ndarray
    faces: np.ndarray
    h: float


def grid(a: float, b: float, n: int) -> Grid:
    """``n`` equal cells on ``[a, b]``."""
    if not (b > a and n >= 3):
        raise ValueError(f"grid: need b > a and n >= 3, got [{a}, {b}], n = {n}")
    faces = np.linspace(a, b, n + 1)
    return Grid(0.5 * (faces[1:] + faces[:-1]), faces, (b - a) / n)


def jsd_density(v: Array) -> Array:
    """G(v) = ½[v ln(2v/(1 + v)) + ln(2/(1 + v))], so that JSD(u, ρ_d) = ∫ ρ_d G(u/ρ_d)."""
    return 0.5 * (jnp.where(v > 0, v * jnp.log(2.0 * jnp.where(v > 0, v, 1.0) / (1.0 + v)), 0.0)
                  + jnp.log(2.0 / (1.0 + v)))


def jsd(u: Array, rho: Array, h: float) -> Array:
    """JSD(u, ρ) = ½KL(u‖m) + ½KL(ρ‖m), m = (u + ρ)/2, for densities at the cell centres
    (midpoint rule); ρ > 0."""
    return h * jnp.sum(rho * jsd_density(u / rho))


class Problem(NamedTuple):
    """The fixed data of the scheme: ρ_d at the centres ``[n]`` and at the faces ``[n + 1]``
    (zero at the two ends: no flux), h and Δt."""

    rho: Array
    rho_face: Array
    h: float
    dt: float


def problem(g: Grid, rho_d, dt: float, dtype=jnp.float64) -> Problem:
    """The :class:`Problem` for a target density ``rho_d`` (a function of y, numpy)."""
    rf = np.asarray(rho_d(g.faces), float)
    rf[0] = rf[-1] = 0.0
    return Problem(jnp.asarray(rho_d(g.y), dtype), jnp.asarray(rf, dtype), g.h, dt)


def generator(v: Array, pr: Problem) -> Array:
    """½ (1/ρ_d) ∂_y(ρ_d ∂_y ln(1 + v)) at the centres, in flux form ``[n]``."""
    phi = jnp.log1p(v)
    flux = pr.rho_face[1:-1] * (phi[1:] - phi[:-1]) / pr.h          # at the n − 1 inner faces
    flux = jnp.concatenate([jnp.zeros((1,), v.dtype), flux, jnp.zeros((1,), v.dtype)])
    return 0.5 * (flux[1:] - flux[:-1]) / (pr.h * pr.rho)


def residual(v_new: Array, args) -> Array:
    """Backward Euler: v_new − v_old − Δt·generator(v_new)."""
    v_old, pr = args
    return v_new - v_old - pr.dt * generator(v_new, pr)


def step(v: Array, pr: Problem, tol: float = 1e-12, max_steps: int = 50) -> tuple[Array, Array]:
    """One backward-Euler step from ``v`` ``[n]``: ``(v_next, newton_steps)``."""
    solver = optx.Newton(rtol=tol, atol=tol, linear_solver=lx.Tridiagonal())
    sol = optx.root_find(residual, solver, v, (v, pr), max_steps=max_steps, throw=False,
                         tags=frozenset({lx.tridiagonal_tag}))
    return sol.value, jnp.asarray(sol.stats["num_steps"], jnp.int32)


def solve(u0: Array, pr: Problem, n_steps: int, every: int = 1) -> tuple[Array, Array]:
    """``n_steps`` steps from the density ``u0`` ``[n]``; the density every ``every`` steps.

    Returns:
        ``(u [n_steps // every + 1, n], newton_steps [n_steps])``.
    """
    def body(v, _):
        v, k = step(v, pr)
        return v, (v, k)

    def chunk(v, _):
        v, (_, ks) = jax.lax.scan(body, v, None, length=every)
        return v, (v * pr.rho, ks)

    v0 = u0 / pr.rho
    _, (us, ks) = jax.lax.scan(chunk, v0, None, length=n_steps // every)
    return jnp.concatenate([u0[None], us]), ks.reshape(-1)


def ratio_bound(u0, rho) -> float:
    """β = max ρ₀/ρ_d on the grid: [HZ]'s convergence needs ρ₀ ≤ β ρ_d with β < ∞."""
    return float(np.max(np.asarray(u0) / np.asarray(rho)))
