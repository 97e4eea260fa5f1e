"""The particle flows in data space as one :class:`~meanfield.core.system.ParticleSystem`.

:class:`ParticleFlow` runs N particles xᵢ ∈ R^d, weights 1/N, under one of three Wasserstein
gradient flows toward a target μ, each a :class:`~meanfield.schemes.gradient_flow.GradientFlow`
with ``optax.sgd(γ)`` (Δt = γ per step):

- ``mmd``: F = ½MMD²(ν, μ), velocity −∇f at x + β_n u (:mod:`.mmd`);
- ``kale``: F = KALE(ν‖μ), the inner problem solved by Newton at every step, warm-started
  (:mod:`.kale`), velocity −(1 + λ)∇h;
- ``langevin``: F = KL(ν‖μ) by ULA, velocity ∇log μ plus √(2γ) ξ (:mod:`.langevin`).

The target enters as points with weights: a fixed sample of M points, M new points every step, or
a Gauss–Hermite rule. It is a pytree: the target points, the noise level β and λ are leaves (a sweep
stacks systems that differ in them), everything that fixes shapes is static.

Observables (every kind): ``half_mmd2`` (the kernel of the config, V-statistic, against the fixed
target points), ``w2`` (exact assignment when N = M with equal weights up to
``numerics.w2_exact_max``; else sliced W₂ over fixed directions, a lower bound), ``mean`` and
``std`` per coordinate, ``far_fraction`` (the particles further than ``numerics.far`` standard
deviations from every component mean of μ), and ``kl_gauss_fit`` (KL from the Gaussian fitted to
the particles to μ) when μ is one Gaussian. KALE adds ``kale``, ``duality_gap``,
``newton_steps`` (of the last step's solve) and ``newton_converged``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from meanfield.core.system import static_field
from meanfield.measures.kernels import Kernel, kernel_sums
from meanfield.measures.laws import GaussianMixture, Law
from meanfield.metrics import coupling
from meanfield.metrics import wasserstein as ws
from meanfield.schemes.gradient_flow import FlowState, GradientFlow
from meanfield.schemes.noise_injection import perturb
from meanfield.systems.kernel_flows import kale as kale_
from meanfield.systems.kernel_flows import langevin, mmd

Array = jax.Array
FLOWS = ("mmd", "kale", "langevin")



def _w2_host(x, z) -> np.ndarray:
    return np.asarray(np.sqrt(coupling.w2_assignment(x, z)), x.dtype)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ParticleFlow:
    """N particles in R^d under the MMD, KALE or Langevin flow (module docstring).

    Build it with :func:`make_flow`.

    Attributes:
        target_x: target points ``[M, d]`` (the fixed sample, or the rule's points).
        target_w: their weights ``[M]``.
        target_qq: Σ qₘqₙ k(zₘ, zₙ), for ½MMD².
        gram: K = [k(zₘ, zₙ)] ``[M, M]`` (kale; ``[0, 0]`` otherwise).
        beta: noise level β (mmd).
        lam: λ (kale).
        eval_dirs: directions ``[P, d]`` of the sliced W₂.
        eval_proj: the target projected, sorted and resampled at N midpoint quantiles, ``[P, N]``.
        flow: ``"mmd"``, ``"kale"`` or ``"langevin"``.
        N, d: particles and dimension.
        lr: γ, the step (Δt = γ).
        kernel: the kernel.
        initial, target: ν₀ and μ.
        resampled: draw M new target points every step (mmd).
        schedule, n0, k_half: the noise-injection schedule.
        block: sources per block of the kernel sums.
        far: the far_fraction threshold in standard deviations.
        w2_exact: W₂ by exact assignment (else sliced).
        newton_tol, newton_max_steps: the inner solve (kale).
        dtype: float dtype name.
    """

    target_x: Array
    target_w: Array
    target_qq: Array
    gram: Array
    beta: Array
    lam: Array
    eval_dirs: Array
    eval_proj: Array
    flow: str = static_field()
    N: int = static_field()
    d: int = static_field()
    lr: float = static_field()
    kernel: Kernel = static_field()
    initial: Law = static_field()
    target: Law = static_field()
    resampled: bool = static_field()
    schedule: str = static_field()
    n0: int = static_field()
    k_half: int = static_field()
    block: int = static_field()
    far: float = static_field()
    w2_exact: bool = static_field()
    newton_tol: float = static_field()
    newton_max_steps: int = static_field()
    dtype: str = static_field()

    @property
    def dt(self) -> float:
        return float(self.lr)

    @property
    def estimator(self) -> str:
        """How ``w2`` is computed: ``"exact-assignment"`` or ``"sliced"``."""
        return "exact-assignment" if self.w2_exact else "sliced"

    @property
    def weights(self) -> Array:
        return jnp.full((self.N,), 1.0 / self.N, jnp.dtype(self.dtype))

    # -- the scheme ----------------------------------------------------------------------------
    def expect(self, key: Array):
        """The step's randomness: its key and the target points ``(key, z [M, d], q [M])``."""
        if not self.resampled:
            return key, self.target_x, self.target_w
        z = self.target.sample(jax.random.fold_in(key, 0), self.target_x.shape[0],
                               jnp.dtype(self.dtype))
        return key, z, self.target_w

    def _inject(self, x: Array, e, count: Array) -> Array:
        return perturb(x, jax.random.fold_in(e[0], 1), self.schedule, self.beta, count, self.n0,
                       self.k_half)

    def _diffuse(self, x: Array, e, count: Array) -> Array:
        return jnp.sqrt(2.0 * self.lr) * jax.random.normal(jax.random.fold_in(e[0], 2), x.shape,
                                                           x.dtype)

    def _problem(self, x: Array, z: Array, q: Array) -> kale_.Problem:
        return kale_.problem(self.kernel, x, self.weights, z, q, self.gram, self.lam, self.block)

    def _solve(self, x: Array, aux: kale_.Solution, e) -> kale_.Solution:
        return kale_.solve(self._problem(x, e[1], e[2]), aux.a, self.newton_tol, self.newton_tol,
                           self.newton_max_steps)

    def potential(self, y: Array, x: Array, aux, e) -> Array:
        """δF/δν at ``y [n, d]`` for particles ``x`` (a :data:`GradientFlow.potential`)."""
        return self._field(y, x, aux, e, grad=False)[0]

    def gradient(self, y: Array, x: Array, aux, e) -> Array:
        """∇_y δF/δν ``[n, d]`` in closed form (blocked kernel sums; autodiff for langevin)."""
        return self._field(y, x, aux, e, grad=True)[1]

    def _field(self, y, x, aux, e, grad):
        _, z, q = e
        if self.flow == "mmd":
            return mmd.witness(self.kernel, y, x, self.weights, z, q, self.block, grad)
        if self.flow == "kale":
            return kale_.potential(self.kernel, y, x, self.weights, z, q * jnp.exp(aux.a),
                                   self.lam, self.block, grad)
        v = -langevin.log_density(self.target, y)
        g = jax.grad(lambda u: -jnp.sum(langevin.log_density(self.target, u)))(y) if grad else None
        return v, g

    @property
    def scheme(self) -> GradientFlow:
        return GradientFlow(
            self.potential, optax.sgd(self.lr), gradient=self.gradient, expect=self.expect,
            solve=self._solve if self.flow == "kale" else None,
            inject=self._inject if self.flow == "mmd" and self.schedule != "none" else None,
            diffusion=self._diffuse if self.flow == "langevin" else None)

    # -- ParticleSystem ------------------------------------------------------------------------
    def init(self, key: Array) -> FlowState:
        x = self.initial.sample(key, self.N, jnp.dtype(self.dtype))
        aux = ()
        if self.flow == "kale":
            zero = jnp.zeros((), x.dtype)
            aux = kale_.Solution(jnp.zeros(self.target_w.shape, x.dtype),
                                 jnp.zeros((), jnp.int32), zero, zero, jnp.asarray(True))
        return self.scheme.init(x, aux)

    def step(self, state: FlowState, key: Array) -> FlowState:
        return self.scheme.step(state, key)

    def observe(self, state: FlowState) -> dict[str, Array]:
        x = state.x
        p = self.weights
        out = {"half_mmd2": mmd.half_mmd2(self.kernel, x, p, self.target_x, self.target_w,
                                          self.target_qq, self.block)}
        if self.w2_exact:
            out["w2"] = jax.pure_callback(_w2_host, jax.ShapeDtypeStruct((), x.dtype), x,
                                          self.target_x, vmap_method="sequential")
        else:
            out["w2"] = ws.sliced_wasserstein(x, self.eval_proj, self.eval_dirs, 2)
        out["mean"] = jnp.mean(x, 0)
        out["std"] = jnp.std(x, 0)
        out["far_fraction"] = self._far_fraction(x)
        if isinstance(self.target, GaussianMixture) and len(self.target.weights) == 1:
            out["kl_gauss_fit"] = self._kl_gauss_fit(x)
        if self.flow == "kale":
            sol = kale_.solve(self._problem(x, self.target_x, self.target_w), state.aux.a,
                              self.newton_tol, self.newton_tol, self.newton_max_steps)
            out.update(kale=(1.0 + self.lam) * sol.value, duality_gap=sol.gap,
                       newton_steps=state.aux.steps.astype(x.dtype),
                       newton_converged=sol.converged.astype(x.dtype))
        return out

    def snapshot(self, state: FlowState) -> dict[str, Array]:
        return {"x": state.x}

    # -- observables ---------------------------------------------------------------------------
    def _components(self, dtype):
        law = self.target
        if isinstance(law, GaussianMixture):
            return jnp.asarray(np.asarray(law.means), dtype), jnp.asarray(np.asarray(law.stds),
                                                                          dtype)
        atoms = jnp.asarray(np.asarray(law.atoms), dtype)
        return atoms, jnp.ones_like(atoms)

    def _far_fraction(self, x: Array) -> Array:
        m, s = self._components(x.dtype)
        z = (x[:, None, :] - m[None]) / s[None]
        dist = jnp.sqrt(jnp.min(jnp.sum(z * z, -1), axis=1))
        return jnp.mean((dist > self.far).astype(x.dtype))

    def _kl_gauss_fit(self, x: Array) -> Array:
        """KL(N(m̂, Σ̂) ‖ μ) for μ = N(m, diag(s²)), m̂ and Σ̂ the particles' mean and covariance."""
        m, s = self._components(x.dtype)
        m, s2 = m[0], s[0] ** 2
        mu = jnp.mean(x, 0)
        xc = x - mu[None]
        cov = xc.T @ xc / x.shape[0]
        logdet = jnp.linalg.slogdet(cov)[1]
        return 0.5 * (jnp.sum(jnp.diag(cov) / s2) + jnp.sum((mu - m) ** 2 / s2) - x.shape[1]
                      + jnp.sum(jnp.log(s2)) - logdet)


def _midpoint_resample(sorted_rows: np.ndarray, n: int) -> np.ndarray:
    """Each row (an empirical quantile function on m points) at the n midpoints (i + ½)/n."""
    m = sorted_rows.shape[1]
    u = (np.arange(n) + 0.5) / n
    idx = np.minimum((u * m).astype(int), m - 1)
    return sorted_rows[:, idx]


def make_flow(*, flow: str, N: int, d: int, lr: float, initial: Law, target: Law,
              kernel: Kernel, M: int = 1000, target_points: str = "fixed", target_seed: int = 0,
              quadrature_nodes: int = 10, schedule: str = "none", beta: float = 0.0, n0: int = 0,
              k_half: int = 1000, lam: float = 1.0, newton_tol: float = 1e-8,
              newton_max_steps: int = 50, block: int = 1024, far: float = 4.0,
              w2_exact_max: int = 0, n_directions: int = 64,
              dtype: str = "float32") -> ParticleFlow:
    """Build a :class:`ParticleFlow`, drawing or computing its target points once.

    Args:
        target_points: ``"fixed"``, ``"resampled"`` or ``"quadrature"``.
        target_seed: seed of the fixed sample (also the observables' sample when resampled).
        quadrature_nodes: Gauss–Hermite nodes per dimension and component.
        w2_exact_max: exact W₂ when N = M, equal weights, and N ≤ this (on the host, about a
            second per record at N = 1000; 0: always sliced).
        newton_tol: Newton's tolerance, raised to 100 eps of ``dtype`` (float32 cannot meet
            1e-8).
        (the others: see :class:`ParticleFlow`).
    """
    if flow not in FLOWS:
        raise ValueError(f"flow: expected one of {', '.join(FLOWS)}, got {flow!r}")
    dt = jnp.dtype(dtype)
    if target_points == "quadrature":
        rule = target.rule(quadrature_nodes, max(4096, len(target.weights) * quadrature_nodes ** d))
        z, q = np.asarray(rule.points, float), np.asarray(rule.weights, float)
    else:
        z = np.asarray(target.sample(jax.random.key(target_seed), M, dt), float)
        q = np.full(M, 1.0 / M)
    zj, qj = jnp.asarray(z, dt), jnp.asarray(q, dt)
    with jax.ensure_compile_time_eval():
        qq = qj @ kernel_sums(kernel, zj, zj, qj, block, grad=False)[0]
        gram = kernel(zj, zj) if flow == "kale" else jnp.zeros((0, 0), dt)
    dirs = ws.unit_directions(d, n_directions)
    proj = _midpoint_resample(np.sort(dirs @ z.T, axis=1), N)
    w2_exact = target_points != "quadrature" and N == len(q) and N <= w2_exact_max
    return ParticleFlow(
        target_x=zj, target_w=qj, target_qq=qq, gram=gram, beta=jnp.asarray(beta, dt),
        lam=jnp.asarray(lam, dt), eval_dirs=jnp.asarray(dirs, dt), eval_proj=jnp.asarray(proj, dt),
        flow=flow, N=N, d=d, lr=float(lr), kernel=kernel, initial=initial, target=target,
        resampled=target_points == "resampled", schedule=schedule, n0=n0, k_half=k_half,
        block=block, far=far, w2_exact=w2_exact,
        newton_tol=max(float(newton_tol), 100 * float(jnp.finfo(dt).eps)),
        newton_max_steps=newton_max_steps, dtype=dtype)


def from_config(cfg, run) -> ParticleFlow:
    """The :class:`ParticleFlow` of a ``[system]`` config of kind mmd, kale or langevin."""
    n = cfg.numerics
    extra = {}
    if cfg.kind == "kale":
        extra = dict(lam=cfg.lam, newton_tol=cfg.newton_tol,
                     newton_max_steps=cfg.newton_max_steps)
    return make_flow(flow=cfg.kind, N=cfg.N, d=cfg.d, lr=cfg.lr, initial=cfg.initial.build(),
                     target=cfg.target.build(), kernel=Kernel(cfg.kernel.name,
                                                              cfg.kernel.bandwidth),
                     M=cfg.M, target_points=cfg.target_points, target_seed=cfg.target_seed,
                     quadrature_nodes=cfg.quadrature_nodes, schedule=cfg.noise.schedule,
                     beta=cfg.noise.beta, n0=cfg.noise.n0, k_half=cfg.noise.k, block=n.block,
                     far=n.far, w2_exact_max=n.w2_exact_max, n_directions=n.n_directions,
                     dtype=run.dtype, **extra)
