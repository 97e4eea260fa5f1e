"""The Dirac GAN (Mescheder et al. 2018) and the bilinear game (docs/model.md §6).

Real data δ_0, generator δ_θ, linear critic D_ψ(x) = ψx. For a GAN loss f the critic's utility is

    L(θ, ψ) = f(ψθ) + f(0) − (γ_gp/2) ψ²,

with f(t) = −log(1 + e^{−t}) for the original GAN and f(t) = t for WGAN (ψ then clipped to [−c, c]).
The generator minimises f(ψθ) (zero-sum: ``gan``, ``wgan``) or, for the *non-saturating* loss,
maximises f(−ψθ). ``γ_gp`` is the zero-centred gradient penalty on real data,
(γ_gp/2) E‖∇_x D_ψ(x)‖² = (γ_gp/2)ψ² (Mescheder's R1). *Instance noise* of scale σ perturbs real
and fake samples by independent N(0, σ²): L = E f(ψ(θ + ε)) + E f(−ψε') − (γ_gp/2)ψ². We use the
expectation, computed with probabilists' Gauss–Hermite quadrature (exact for WGAN; for the GAN
loss the quadrature is exact on the polynomial part that the Jacobian at 0 sees).

Flows (θ first, then ψ, in every vector and matrix):

- **Nash flow** (simultaneous descent/ascent): θ' = −∂_θ L_G, ψ' = ∂_ψ L, i.e.
  θ' = −E[ψ f'(ψ(θ+ε))] (``nonsaturating``: −E[ψ f'(−ψ(θ+ε))]),
  ψ' = E[(θ+ε) f'(ψ(θ+ε))] − E[ε' f'(−ψε')] − γ_gp ψ.
- **Morse (gradient) flow**: ascend L in both variables, θ' = +∂_θ L, ψ' = ∂_ψ L.

The equilibrium is (0, 0) for every variant. With a = f'(0), d = 2σ² f''(0) − γ_gp, the Jacobians
there are

    Nash:  [[0, −a], [a, d]],  eigenvalues d/2 ± √(d²/4 − a²);
    Morse: [[0,  a], [a, d]],  eigenvalues d/2 ± √(d²/4 + a²)  (a saddle).

a = ½, f''(0) = −¼ for the GAN losses; a = 1, f'' = 0 for WGAN. Without regularisation the Nash flow
has a centre (±ia): for the zero-sum losses θ² + ψ² is conserved exactly (θθ' + ψψ' = 0). The bilinear
example F = θ_D·θ_G is the WGAN Dirac game with (θ_D, θ_G) = (ψ, θ).

**Consensus optimisation** (Mescheder, Nowozin, Geiger, NeurIPS 2017) with weight γ ≥ 0: both
players subtract ½γ‖v‖² from the objectives they ascend, v = (θ', ψ') the joint field above (each
player's own ascent direction), so the field becomes

    w = v − γ ∇(½‖v‖²) = v − γ J_vᵀ v,      J_v the Jacobian of v at the current point.

At the equilibrium v = 0, so J_w = J − γ JᵀJ (the term Σ_i v_i ∇²v_i vanishes). With the Nash
Jacobian J = [[0, −a], [a, d]] this is [[−γa², −a − γad], [a − γad, d − γ(a² + d²)]], with
trace d − γ(2a² + d²) and determinant a²(1 − γd + γ²a²); without other regularisers (d = 0) the
eigenvalues are −γa² ± ia: consensus turns the centre into a stable focus, for every γ > 0. For the
Morse flow J is symmetric and the eigenvalues are λ − γλ² for each eigenvalue λ of J. The
derivation is in ``docs/dirac_gan.md``. The regulariser changes the dynamics only: the recorded
payoff is L without it.

Discrete updates with step h (J the flow Jacobian [[p, q], [r, s]]):

- simultaneous: x ← x + h v(x); update Jacobian I + hJ, eigenvalues 1 + hλ. For the zero-sum losses
  x·v = 0 and |v|² = f'(ψθ)²|x|², so the norm grows by exactly √(1 + h² f'(ψθ)²) per step
  (√(1 + h² a²) at the equilibrium's linearisation, and exactly for WGAN).
- alternating (critic first, as in the WGAN algorithm): ψ ← ψ + h v_ψ(θ, ψ), then
  θ ← θ + h v_θ(θ, ψ_new); update Jacobian [[1 + hp + h² q r, hq(1 + hs)], [hr, 1 + hs]]. For WGAN
  (f' ≡ a) this map has determinant 1 and conserves Q = θ² + ψ² + h a θψ exactly: the iterates stay
  on an ellipse (eigenvalues on the unit circle while h a < 2).

With clipping ψ ∈ [−c, c] the zero-sum Nash flow slides along a face until θ reaches 0 and then
runs on the circle θ² + ψ² = c², tangent to the faces at (0, ±c): every orbit of radius ≥ c ends on
that circle in finite time (the same mechanism as :mod:`meanfield.systems.toy.limit_cycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
LOSSES = ("gan", "nonsaturating", "wgan")
FLOWS = ("nash", "morse")
SCHEMES = ("simultaneous", "alternating", "nash_flow", "morse_flow")


def _check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


def f(t: Array, loss: str = "gan") -> Array:
    """The loss function f (any shape): −log(1 + e^{−t}) for the GAN losses, t for WGAN."""
    _check_loss(loss)
    t = jnp.asarray(t)
    return t if loss == "wgan" else -jax.nn.softplus(-t)


def f_prime(t: Array, loss: str = "gan") -> Array:
    """f'(t): 1/(1 + e^t) for the GAN losses, 1 for WGAN."""
    _check_loss(loss)
    t = jnp.asarray(t)
    return jnp.ones_like(t) if loss == "wgan" else jax.nn.sigmoid(-t)


def _noise_rule(sigma: float, n: int, dtype) -> tuple[Array, Array]:
    """Nodes ε_k and weights w_k with E g(σZ) ≈ Σ w_k g(ε_k), Z ~ N(0, 1) (Gauss–Hermite)."""
    if sigma == 0.0:
        return jnp.zeros((1,), dtype), jnp.ones((1,), dtype)
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return jnp.asarray(sigma * x, dtype), jnp.asarray(w / np.sqrt(2.0 * np.pi), dtype)


def _dtype(*xs):
    return jnp.result_type(*[jnp.asarray(x) for x in xs], float)


def payoff(theta: Array, psi: Array, loss: str = "gan", gp: float = 0.0, sigma: float = 0.0,
           n_quadrature: int = 32) -> Array:
    """The critic's utility L(θ, ψ) = E f(ψ(θ+ε)) + E f(−ψε') − (γ_gp/2)ψ² (scalars)."""
    e, w = _noise_rule(sigma, n_quadrature, _dtype(theta, psi))
    return (jnp.sum(w * f(psi * (theta + e), loss)) + jnp.sum(w * f(-psi * e, loss))
            - 0.5 * gp * psi**2)


def generator_loss(theta: Array, psi: Array, loss: str = "gan", sigma: float = 0.0,
                   n_quadrature: int = 32) -> Array:
    """What the generator minimises: E f(ψ(θ+ε)), or −E f(−ψ(θ+ε)) for ``nonsaturating``."""
    e, w = _noise_rule(sigma, n_quadrature, _dtype(theta, psi))
    if loss == "nonsaturating":
        return -jnp.sum(w * f(-psi * (theta + e), loss))
    return jnp.sum(w * f(psi * (theta + e), loss))


def nash_field(theta: Array, psi: Array, loss: str = "gan", gp: float = 0.0, sigma: float = 0.0,
               n_quadrature: int = 32) -> tuple[Array, Array]:
    """The Nash flow (θ', ψ') = (−∂_θ L_G, ∂_ψ L) in closed form (module docstring); scalars."""
    _check_loss(loss)
    e, w = _noise_rule(sigma, n_quadrature, _dtype(theta, psi))
    x = theta + e
    if loss == "nonsaturating":
        dth = -jnp.sum(w * psi * f_prime(-psi * x, loss))
    else:
        dth = -jnp.sum(w * psi * f_prime(psi * x, loss))
    dpsi = jnp.sum(w * (x * f_prime(psi * x, loss) - e * f_prime(-psi * e, loss))) - gp * psi
    return dth, dpsi


def morse_field(theta: Array, psi: Array, loss: str = "gan", gp: float = 0.0, sigma: float = 0.0,
                n_quadrature: int = 32) -> tuple[Array, Array]:
    """The Morse (gradient) flow (θ', ψ') = (∂_θ L, ∂_ψ L): both players ascend the critic's L.

    The non-saturating variant changes only the generator's objective, so its Morse flow is the
    GAN loss's.
    """
    _check_loss(loss)
    e, w = _noise_rule(sigma, n_quadrature, _dtype(theta, psi))
    x = theta + e
    dth = jnp.sum(w * psi * f_prime(psi * x, loss))
    dpsi = jnp.sum(w * (x * f_prime(psi * x, loss) - e * f_prime(-psi * e, loss))) - gp * psi
    return dth, dpsi


def bilinear_field(theta_d: Array, theta_g: Array, flow: str = "nash") -> tuple[Array, Array]:
    """The bilinear game F(θ_D, θ_G) = θ_D·θ_G (vectors of equal shape): Nash (θ_G, −θ_D), Morse (θ_G, θ_D).

    Returns:
        ``(θ_D', θ_G')``.
    """
    if flow == "nash":
        return theta_g, -theta_d
    if flow == "morse":
        return theta_g, theta_d
    raise ValueError(f"unknown flow {flow!r}; expected one of {FLOWS}")


def field(flow: str):
    """The vector field function of ``flow`` (``"nash"`` or ``"morse"``)."""
    if flow == "nash":
        return nash_field
    if flow == "morse":
        return morse_field
    raise ValueError(f"unknown flow {flow!r}; expected one of {FLOWS}")


def consensus_field(theta: Array, psi: Array, flow: str = "nash", loss: str = "gan",
                    gp: float = 0.0, sigma: float = 0.0, consensus: float = 0.0,
                    n_quadrature: int = 32) -> tuple[Array, Array]:
    """The field of ``flow`` with consensus weight γ: w = v − γ J_vᵀ v (module docstring); scalars.

    J_vᵀ v = ∇(½‖v‖²) is one reverse-mode pass through the closed-form field v. A Python
    ``consensus = 0`` returns ``field(flow)`` itself (no extra pass); a traced weight always takes
    the regularised path.
    """
    vf = field(flow)
    if not isinstance(consensus, jax.Array) and consensus == 0.0:
        return vf(theta, psi, loss, gp, sigma, n_quadrature)

    def v(x):
        return jnp.stack(vf(x[0], x[1], loss, gp, sigma, n_quadrature))

    dt = _dtype(theta, psi)
    x = jnp.stack([jnp.asarray(theta, dt), jnp.asarray(psi, dt)])
    vx, pullback = jax.vjp(v, x)
    w = vx - consensus * pullback(vx)[0]
    return w[0], w[1]


# --------------------------------------------------------------------------------------------
# closed forms at the equilibrium
# --------------------------------------------------------------------------------------------
def _a_d(loss: str, gp: float, sigma: float) -> tuple[float, float]:
    _check_loss(loss)
    a = 1.0 if loss == "wgan" else 0.5
    f2 = 0.0 if loss == "wgan" else -0.25
    return a, 2.0 * sigma**2 * f2 - gp


def equilibrium_jacobian(loss: str = "gan", flow: str = "nash", gp: float = 0.0,
                         sigma: float = 0.0, consensus: float = 0.0) -> np.ndarray:
    """Closed-form Jacobian ``[2, 2]`` of the flow at (0, 0), rows/columns (θ, ψ).

    J = [[0, ∓a], [a, d]] (Nash: −a, Morse: +a), and J − γ JᵀJ with consensus weight γ.
    """
    a, d = _a_d(loss, gp, sigma)
    if flow == "nash":
        J = np.array([[0.0, -a], [a, d]])
    elif flow == "morse":
        J = np.array([[0.0, a], [a, d]])
    else:
        raise ValueError(f"unknown flow {flow!r}; expected one of {FLOWS}")
    return J - consensus * J.T @ J


def equilibrium_eigenvalues(loss: str = "gan", flow: str = "nash", gp: float = 0.0,
                            sigma: float = 0.0, consensus: float = 0.0) -> np.ndarray:
    """Closed-form eigenvalues ``[2]`` (complex) at (0, 0), sorted by (real, imag).

    Without consensus: d/2 ± √(d²/4 ∓ a²) (Nash −, Morse +). With weight γ, Nash: τ/2 ± √(τ²/4 − δ)
    with τ = d − γ(2a² + d²), δ = a²(1 − γd + γ²a²) (−γa² ± ia when d = 0); Morse: λ − γλ² for
    each of the unregularised eigenvalues λ.
    """
    a, d = _a_d(loss, gp, sigma)
    g = consensus
    if flow == "nash":
        tr, det = d - g * (2 * a * a + d * d), a * a * (1 - g * d + g * g * a * a)
        root = np.sqrt(complex(tr * tr / 4 - det))
        return np.sort_complex(np.array([tr / 2 - root, tr / 2 + root]))
    if flow == "morse":
        lam = d / 2 + np.array([-1.0, 1.0]) * np.sqrt(d * d / 4 + a * a)
        return np.sort_complex((lam - g * lam * lam).astype(complex))
    raise ValueError(f"unknown flow {flow!r}; expected one of {FLOWS}")


def update_jacobian(loss: str = "gan", scheme: str = "simultaneous", h: float = 0.2,
                    gp: float = 0.0, sigma: float = 0.0, consensus: float = 0.0) -> np.ndarray:
    """Closed-form Jacobian ``[2, 2]`` at (0, 0) of one discrete Nash update (n_critic = 1).

    The formulas of the module docstring hold for any linearised field, so with consensus they
    take J − γJᵀJ for J.
    """
    (p, q), (r, s) = equilibrium_jacobian(loss, "nash", gp, sigma, consensus)
    if scheme == "simultaneous":
        return np.eye(2) + h * np.array([[p, q], [r, s]])
    if scheme == "alternating":
        return np.array([[1 + h * p + h * h * q * r, h * q * (1 + h * s)], [h * r, 1 + h * s]])
    raise ValueError(f"unknown scheme {scheme!r}; expected 'simultaneous' or 'alternating'")


def update_eigenvalues(loss: str = "gan", scheme: str = "simultaneous", h: float = 0.2,
                       gp: float = 0.0, sigma: float = 0.0, consensus: float = 0.0) -> np.ndarray:
    """Eigenvalues ``[2]`` of :func:`update_jacobian`: roots of λ² − tr λ + det; complex, sorted."""
    J = update_jacobian(loss, scheme, h, gp, sigma, consensus)
    tr, det = J[0, 0] + J[1, 1], J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
    root = np.sqrt(complex(tr * tr / 4 - det))
    return np.sort_complex(np.array([tr / 2 - root, tr / 2 + root]))


def simultaneous_growth(theta: Array, psi: Array, h: float, loss: str = "gan") -> Array:
    """Exact factor |x_{k+1}|/|x_k| of one unregularised simultaneous step, zero-sum losses:
    √(1 + h² f'(ψθ)²)."""
    if loss == "nonsaturating":
        raise ValueError("the growth formula needs x·v = 0, which holds for the zero-sum losses")
    return jnp.sqrt(1.0 + (h * f_prime(psi * theta, loss)) ** 2)


def alternating_invariant(theta: Array, psi: Array, h: float, a: float = 1.0) -> Array:
    """Q = θ² + ψ² + h a θψ, conserved by critic-first alternating steps of F = aψθ (WGAN: a = 1).
    """
    return theta**2 + psi**2 + h * a * theta * psi


# --------------------------------------------------------------------------------------------
# discrete updates and flow integrators
# --------------------------------------------------------------------------------------------
def _clip(psi: Array, c: float | None) -> Array:
    return psi if c is None else jnp.clip(psi, -c, c)


def simultaneous_step(theta: Array, psi: Array, h: float, loss: str = "gan", gp: float = 0.0,
                      sigma: float = 0.0, clip: float | None = None, n_quadrature: int = 32,
                      consensus: float = 0.0) -> tuple[Array, Array]:
    """One simultaneous gradient step of size h on both players, then ψ ← clip(ψ, −c, c).

    With ``consensus`` γ > 0 both players follow w = v − γJ_vᵀv (:func:`consensus_field`).
    """
    dth, dpsi = consensus_field(theta, psi, "nash", loss, gp, sigma, consensus, n_quadrature)
    return theta + h * dth, _clip(psi + h * dpsi, clip)


def alternating_step(theta: Array, psi: Array, h: float, loss: str = "gan", gp: float = 0.0,
                     sigma: float = 0.0, clip: float | None = None, n_critic: int = 1,
                     n_quadrature: int = 32, consensus: float = 0.0) -> tuple[Array, Array]:
    """``n_critic`` critic steps (each clipped), then one generator step at the new ψ.

    With ``consensus`` γ > 0 each player's step uses its component of w = v − γJ_vᵀv, evaluated
    at the state it sees.
    """
    for _ in range(n_critic):
        _, dpsi = consensus_field(theta, psi, "nash", loss, gp, sigma, consensus, n_quadrature)
        psi = _clip(psi + h * dpsi, clip)
    dth, _ = consensus_field(theta, psi, "nash", loss, gp, sigma, consensus, n_quadrature)
    return theta + h * dth, psi


def flow_rk4_step(theta: Array, psi: Array, dt: float, flow: str = "nash", loss: str = "gan",
                  gp: float = 0.0, sigma: float = 0.0, clip: float | None = None,
                  n_quadrature: int = 32, consensus: float = 0.0) -> tuple[Array, Array]:
    """One RK4 step of the Nash or Morse flow (with consensus weight ``consensus``).

    With ``clip`` the stages use the tangent-cone projection of ψ' on the faces ψ = ±c and ψ is
    clamped after the step (first order at contacts).
    """
    def g(th, ps):
        dth, dps = consensus_field(th, ps, flow, loss, gp, sigma, consensus, n_quadrature)
        if clip is not None:
            out = ((ps >= clip) & (dps > 0)) | ((ps <= -clip) & (dps < 0))
            dps = jnp.where(out, 0.0, dps)
        return dth, dps

    k1 = g(theta, psi)
    k2 = g(theta + 0.5 * dt * k1[0], psi + 0.5 * dt * k1[1])
    k3 = g(theta + 0.5 * dt * k2[0], psi + 0.5 * dt * k2[1])
    k4 = g(theta + dt * k3[0], psi + dt * k3[1])
    th = theta + dt / 6.0 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
    ps = psi + dt / 6.0 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return th, _clip(ps, clip)


class DiracState(NamedTuple):
    """The two scalars of the Dirac GAN: generator position θ and critic slope ψ."""

    theta: Array
    psi: Array


@dataclass(frozen=True)
class DiracGAN:
    """The Dirac GAN as a :class:`~meanfield.core.system.ParticleSystem` (deterministic).

    One step is one discrete update of size ``h`` (``dt = h``); for the flows it is one RK4 step
    of length ``h``. Defaults: simultaneous steps h = 0.2 from θ = ψ = 1, GAN loss, no clipping.

    Attributes:
        loss: ``"gan"``, ``"nonsaturating"`` or ``"wgan"``.
        scheme: ``"simultaneous"``, ``"alternating"``, ``"nash_flow"`` or ``"morse_flow"``.
        h: step size.
        clip: c for ψ ∈ [−c, c], or ``None``.
        gp: gradient-penalty weight γ_gp.
        noise: instance-noise scale σ (in expectation).
        consensus: consensus-optimisation weight γ ≥ 0: both players follow w = v − γJ_vᵀv,
            the gradient of their objective minus ½γ‖v‖² (module docstring).
        n_critic: critic steps per generator step (alternating only).
        theta0, psi0: initial point.
        dtype: ``"float32"`` or ``"float64"`` (the latter needs ``jax.enable_x64``).
        n_quadrature: Gauss–Hermite nodes for instance noise.
    """

    loss: str = "gan"
    scheme: str = "simultaneous"
    h: float = 0.2
    clip: float | None = None
    gp: float = 0.0
    noise: float = 0.0
    n_critic: int = 1
    theta0: float = 1.0
    psi0: float = 1.0
    dtype: str = "float32"
    n_quadrature: int = 32
    consensus: float = 0.0

    def __post_init__(self):
        _check_loss(self.loss)
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {self.scheme!r}; expected one of {SCHEMES}")
        if not self.h > 0:
            raise ValueError("need h > 0")
        if not self.consensus >= 0:
            raise ValueError("need consensus >= 0")

    @property
    def dt(self) -> float:
        return float(self.h)

    def init(self, key: Array) -> DiracState:
        del key  # deterministic initial point
        dt = jnp.dtype(self.dtype)
        psi = _clip(jnp.asarray(self.psi0, dt), self.clip)
        return DiracState(jnp.asarray(self.theta0, dt), psi)

    def step(self, state: DiracState, key: Array) -> DiracState:
        del key
        kw = dict(loss=self.loss, gp=self.gp, sigma=self.noise, clip=self.clip,
                  n_quadrature=self.n_quadrature, consensus=self.consensus)
        if self.scheme == "simultaneous":
            return DiracState(*simultaneous_step(state.theta, state.psi, self.h, **kw))
        if self.scheme == "alternating":
            return DiracState(*alternating_step(state.theta, state.psi, self.h,
                                                n_critic=self.n_critic, **kw))
        flow = "nash" if self.scheme == "nash_flow" else "morse"
        return DiracState(*flow_rk4_step(state.theta, state.psi, self.h, flow, **kw))

    def observe(self, state: DiracState) -> dict[str, Array]:
        return {"theta": state.theta, "psi": state.psi,
                "norm": jnp.sqrt(state.theta**2 + state.psi**2),
                "payoff": payoff(state.theta, state.psi, self.loss, self.gp, self.noise,
                                 self.n_quadrature)}

    def snapshot(self, state: DiracState) -> dict[str, Array]:
        return {"theta": state.theta, "psi": state.psi}


def trajectory(system: DiracGAN, n_steps: int) -> dict[str, np.ndarray]:
    """Observables of ``system`` over ``n_steps`` steps (t = 0 included), each ``[n_steps + 1]``.

    A convenience for tests and figures; the driver does the same for long runs.
    """
    @jax.jit
    def run(s0):
        def body(s, _):
            s = system.step(s, None)
            return s, system.observe(s)
        _, obs = jax.lax.scan(body, s0, None, length=n_steps)
        return obs

    s0 = system.init(jax.random.key(0))
    first = system.observe(s0)
    obs = run(s0)
    return {k: np.concatenate([np.asarray(first[k])[None], np.asarray(v)]) for k, v in obs.items()}
