"""The toy game of the mean-field lecture (docs/model.md §5): a step-function generator against a ReLU critic.

K = L = 1, P* = ½δ_{−1} + ½δ_{+1}, latent z with CDF F and density ρ (logistic or standard
Gaussian; both have median 0). Generator neuron g(z; θ) = sign(z − θ), critic neuron
f(x; ω) = (ωx)_+ with ω ∈ [−c, c].

**Sign.** Two games are offered, named by ``sign``:

- ``"fake_minus_real"`` (default, the lecture's convention): the critic ascends Ψ = E f(g(z)) − E_{P*} f
  (fake minus real) and the generator descends it;
- ``"wgan"`` (the WGAN paper's convention, Arjovsky, Chintala, Bottou 2017): the critic ascends
  −Ψ = E_{P*} f − E f(g(z)) (real minus fake) and the generator descends −Ψ.

For a critic class closed under f ↦ −f the two are one game (relabel the critic). The ReLU class
{(ωx)_+} is not, so for N > 1 they differ (**Particle game** below). The formulas below are written
for ``"fake_minus_real"``; ``"wgan"`` multiplies both players' velocities by −1.

**Reduced game** (one neuron each). Ψ(θ, ω) = ω(½ − F(θ)); the critic ascends at speed γ, the
generator descends::

    θ' = ω ρ(θ),        ω' = γ (½ − F(θ))   (projected onto [−c, c]).

Under ``"wgan"`` this is θ' = −ωρ(θ), ω' = −γ(½ − F(θ)), the image of the ``"fake_minus_real"`` flow under
ω ↦ −ω (Q is symmetric): orbits, energies, periods and the clipped limit cycle are the same.

The equilibrium is (median, 0) = (0, 0). While |ω| < c the energy H = A(θ) + ω²/(2γ),
A(θ) = ∫_0^θ (F − ½)/ρ, is conserved (dA/dt = ω(F − ½), d(ω²/2γ)/dt = ω(½ − F)). Closed forms:

- logistic: (F − ½)/ρ = sinh θ, so A(θ) = cosh θ − 1;
- Gaussian: D(s) = (Φ(s) − ½)/φ(s) = e^{s²/2} ∫_0^s e^{−t²/2} dt solves D' = 1 + sD, so
  D(s) = Σ_n s^{2n+1}/(2n+1)!! and A(θ) = Σ_n θ^{2n+2}/((2n+2)(2n+1)!!)
  = (θ²/2) ₂F₂(1, 1; 3/2, 2; θ²/2).
  We evaluate A by Gauss–Legendre quadrature of D on [0, θ] (D is entire; 64 nodes give
  machine precision for |θ| ≲ 8) and test it against the series.

The lecture writes the energy as cosh θ + |ω|²/γ, which is conserved for critic speed γ/2; the project's
convention is the one above (critic speed γ, ω²/(2γ), A(0) = 0).

**Particle game** (docs/model.md §2 readouts). N generator particles θ_i and M critic particles ω_j:
g_μ(z) = (1/N) Σ_i sign(z − θ_i), f_ν(y) = (1/M) Σ_j (ω_j y)_+ = P̄ y_+ + Q̄ y_−, with
P̄ = mean_j (ω_j)_+, Q̄ = mean_j (−ω_j)_+ (so P̄ − Q̄ = ω̄, the critic centre of mass). Sort the
generator particles θ_(1) ≤ … ≤ θ_(N); on the cell (θ_(k), θ_(k+1)) (θ_(0) = −∞, θ_(N+1) = +∞)
the generator outputs y_k = (2k − N)/N, with probability p_k = F(θ_(k+1)) − F(θ_(k)). Hence,
exactly,

    Ψ(μ_N, ν_M) = Σ_{k=0}^N p_k h(y_k) − ½(P̄ + Q̄),      h(y) = P̄ y_+ + Q̄ y_−.

Ψ is written with F, so it is smooth in each θ_i away from ties. Particle velocities (docs/model.md §1:
N ∂_{θ_i}Ψ is the mean-field velocity):

- generator particle of rank k: θ_(k)' = −N ρ(θ_(k)) (h(y_{k−1}) − h(y_k)): the jump of the step
  function at θ_(k) moves probability between the neighbouring cells at rate ρ(θ_(k)). For ranks
  in the upper half this is 2ρP̄, in the lower half −2ρQ̄ (the rank straddling y = 0 for odd N
  moves at ρω̄);
- critic particle: ω_j' = γ V(ω_j) with V = E(g_μ)_+ − ½ for ω_j > 0 and ½ − E(g_μ)_− for ω_j < 0.
  At ω_j = 0 we take the minimal-norm element of the Filippov set [V_+, V_−], i.e. the median of
  {V_+, 0, V_−} (V_+ ≤ V_− always, since E|g_μ| ≤ 1); under ``"wgan"`` the set is [−V_−, −V_+].

For N = 1 the payoff is (½ − F(θ)) ω̄ for any critic cloud: ω̄ and θ follow the reduced ODE
*exactly* (unclipped), whatever the critic spread. For N > 1 a concentrated generator cloud does
*not* stay concentrated: the upper half of the cloud moves when ω̄ > 0 and the lower half when
ω̄ < 0 (only the upper half feels a ReLU critic with ω > 0). A Dirac initial law therefore splits
into two atoms a ≤ b, with b' = 2ρ(b)ω, a' = 0 while ω > 0 (and symmetrically): the centre of mass
has the reduced velocity at t = 0 but leaves the reduced orbit at O(t²). From (θ_0 < 0, ω = 0) the
two atoms stop at (θ_0, −θ_0) with ω stuck at 0, a stationary point of the particle game in which
the generated law puts mass 1 − 2F(θ_0) at 0, which the critic family cannot see. See
``tests/test_toy.py``.

**Splitting (fake_minus_real) against aggregation (wgan).** The generator velocity is discontinuous at the
median of μ: above it the particles move at 2ρP̄, below it at −2ρQ̄, i.e. *away* from the median
under ``"fake_minus_real"``, so a spread cloud splits into two groups, the ranks above N/2 and those below,
whose gap grows while the critic is away from 0. Under ``"wgan"`` both velocities change sign and
point *towards* the median, at a speed bounded below while ω̄ stays away from 0 (2ρ(θ)P̄ from
above, 2ρ(θ)Q̄ from below): a particle that crosses the median changes rank and stops or turns,
so the cloud lands on one point in finite time and moves on as a Dirac, whose velocity is then
the reduced field. In the projected Euler scheme the tied particles alternate ranks from step to step, so the
Dirac carries a spread of order Δt ρ|ω̄|. Measured (logistic, γ = c = 1, M = 1, N = 64,
θ_i ~ N(−2, 0.17²), Δt = 10⁻³): under ``"wgan"`` the standard deviation of the θ_i falls below
10⁻³ at t = 6.47 (ω_0 = 0.3) and t = 5.12 (ω_0 = −0.3) and stays there (≈ 10⁻⁴, ∝ Δt); under
``"fake_minus_real"`` it grows from 0.155 to 1.7 by t = 10, with a gap of 3.1 between ranks 32 and 33.
``experiments/toy_orbits.py`` draws it (``toy_sign.png``); ``docs/toy_game.md`` explains it.

Integrators (pure and jittable): the GAN algorithm's projected explicit Euler
(θ ← θ + Δt v_θ, ω ← clip(ω + Δt γ v_ω, −c, c), both velocities at the old state) and classical
RK4 (for the unclipped flow; with clipping it uses the tangent-cone-projected field and clamps,
which is only first order at contacts with |ω| = c).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
LATENTS = ("logistic", "gaussian")
INTEGRATORS = ("euler", "rk4")
#: Which player ascends what (module docstring): the lecture's fake − real, or WGAN's real − fake.
SIGNS = ("fake_minus_real", "wgan")

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def _check_latent(latent: str) -> None:
    if latent not in LATENTS:
        raise ValueError(f"unknown latent {latent!r}; expected one of {LATENTS}")


def _sign(sign: str) -> float:
    """+1 for ``"fake_minus_real"``, −1 for ``"wgan"``: the factor on both players' velocities."""
    if sign not in SIGNS:
        raise ValueError(f"unknown sign {sign!r}; expected one of {SIGNS}")
    return 1.0 if sign == "fake_minus_real" else -1.0


def F(theta: Array, latent: str = "logistic") -> Array:
    """Latent CDF at ``theta`` (any shape)."""
    _check_latent(latent)
    theta = jnp.asarray(theta)
    if latent == "logistic":
        return jax.nn.sigmoid(theta)
    return jax.scipy.special.ndtr(theta)


def rho(theta: Array, latent: str = "logistic") -> Array:
    """Latent density at ``theta`` (any shape)."""
    _check_latent(latent)
    theta = jnp.asarray(theta)
    if latent == "logistic":
        s = jax.nn.sigmoid(theta)
        return s * (1.0 - s)
    return jnp.exp(-0.5 * theta**2) / _SQRT_2PI


def median(latent: str = "logistic") -> float:
    """The latent's median: the equilibrium θ (0 for both latents)."""
    _check_latent(latent)
    return 0.0


def restoring(theta: Array, latent: str = "logistic") -> Array:
    """A'(θ) = (F(θ) − ½)/ρ(θ), any shape; sinh θ for the logistic latent."""
    _check_latent(latent)
    theta = jnp.asarray(theta)
    if latent == "logistic":
        return jnp.sinh(theta)
    # e^{s²/2} ∫_0^s e^{−t²/2} dt; erf keeps full relative accuracy near 0
    erf = jax.scipy.special.erf(theta / jnp.sqrt(2.0))
    return jnp.sqrt(jnp.pi / 2) * jnp.exp(0.5 * theta**2) * erf


def A(theta: Array, latent: str = "logistic") -> Array:
    """A(θ) = ∫_0^θ (F − ½)/ρ, the potential of the generator (A(0) = 0), any shape.

    Logistic: cosh θ − 1. Gaussian: 64-point Gauss–Legendre quadrature of (Φ − ½)/φ on [0, θ].
    """
    _check_latent(latent)
    theta = jnp.asarray(theta)
    if latent == "logistic":
        # cosh θ − 1 = 2 sinh²(θ/2) avoids cancellation for small θ
        return 2.0 * jnp.sinh(0.5 * theta) ** 2
    # Nodes along a new last axis, explicitly broadcast against θ's shape.
    shape = (1,) * theta.ndim + (-1,)
    x = jnp.asarray(_GL_X, theta.dtype).reshape(shape)
    w = jnp.asarray(_GL_W, theta.dtype).reshape(shape)
    s = 0.5 * theta[..., None] * (x + 1.0)
    return 0.5 * theta * jnp.sum(w * restoring(s, latent), axis=-1)


def energy(theta: Array, omega: Array, gamma: float = 1.0, latent: str = "logistic") -> Array:
    """H = A(θ) + ω²/(2γ), conserved by the unclipped reduced flow (broadcasts)."""
    return A(theta, latent) + jnp.asarray(omega) ** 2 / (2.0 * gamma)


# --------------------------------------------------------------------------------------------
# reduced game
# --------------------------------------------------------------------------------------------
def toy_vector_field(theta: Array, omega: Array, gamma: float = 1.0, latent: str = "logistic",
                     sign: str = "fake_minus_real") -> tuple[Array, Array]:
    """The reduced flow (θ', ω') = ±(ωρ(θ), γ(½ − F(θ))), unclipped; broadcasts.

    The sign is + for ``"fake_minus_real"`` and − for ``"wgan"`` (module docstring).
    """
    s = _sign(sign)
    return s * omega * rho(theta, latent), s * gamma * (0.5 - F(theta, latent))


def tangent_cone(omega: Array, domega: Array, c: float | None) -> Array:
    """Π_Q: cut the outward component of ω' on the faces ω = ±c of Q = [−c, c]; broadcasts."""
    if c is None:
        return domega
    out = ((omega >= c) & (domega > 0)) | ((omega <= -c) & (domega < 0))
    return jnp.where(out, 0.0, domega)


def projected_field(theta: Array, omega: Array, gamma: float = 1.0, c: float | None = 1.0,
                    latent: str = "logistic", sign: str = "fake_minus_real") -> tuple[Array, Array]:
    """The clipped reduced flow (θ', Π_Q ω'); equal to :func:`toy_vector_field` for |ω| < c."""
    dth, dom = toy_vector_field(theta, omega, gamma, latent, sign)
    return dth, tangent_cone(omega, dom, c)


def _clip(omega: Array, c: float | None) -> Array:
    return omega if c is None else jnp.clip(omega, -c, c)


def euler_step(theta: Array, omega: Array, dt: float, gamma: float = 1.0, c: float | None = 1.0,
               latent: str = "logistic", sign: str = "fake_minus_real") -> tuple[Array, Array]:
    """One step of the GAN algorithm on the reduced game: projected explicit Euler.

    θ ← θ + Δt ωρ(θ),  ω ← clip(ω + Δt γ(½ − F(θ)), −c, c), both from the old state
    (simultaneous, docs/model.md §2; both increments negated under ``sign="wgan"``). ``c=None``
    disables the clip.
    """
    dth, dom = toy_vector_field(theta, omega, gamma, latent, sign)
    return theta + dt * dth, _clip(omega + dt * dom, c)


def rk4_step(theta: Array, omega: Array, dt: float, gamma: float = 1.0, c: float | None = None,
             latent: str = "logistic", sign: str = "fake_minus_real") -> tuple[Array, Array]:
    """One classical RK4 step of the reduced flow (fourth order while |ω| < c).

    With ``c`` set, the stages use the projected field and ω is clamped after the step; this is
    only first order at contacts with the faces.
    """
    def f(th, om):
        return projected_field(th, om, gamma, c, latent, sign)

    k1 = f(theta, omega)
    k2 = f(theta + 0.5 * dt * k1[0], omega + 0.5 * dt * k1[1])
    k3 = f(theta + 0.5 * dt * k2[0], omega + 0.5 * dt * k2[1])
    k4 = f(theta + dt * k3[0], omega + dt * k3[1])
    th = theta + dt / 6.0 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
    om = omega + dt / 6.0 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return th, _clip(om, c)


def reduced_trajectory(theta0: float, omega0: float, dt: float, n_steps: int, *,
                       gamma: float = 1.0, c: float | None = 1.0, latent: str = "logistic",
                       integrator: str = "euler", sign: str = "fake_minus_real",
                       dtype=None) -> tuple[Array, Array]:
    """Run the reduced game for ``n_steps`` steps; returns θ and ω, each ``[n_steps + 1]``.

    Args:
        theta0, omega0: initial point.
        dt: time step.
        n_steps: number of steps (static).
        gamma, c, latent: game parameters (``c=None``: no clipping).
        integrator: ``"euler"`` (projected explicit Euler) or ``"rk4"``.
        sign: ``"fake_minus_real"`` or ``"wgan"`` (module docstring).
        dtype: float dtype; default is JAX's default float (float64 under ``enable_x64``).
    """
    if integrator not in INTEGRATORS:
        raise ValueError(f"unknown integrator {integrator!r}; expected one of {INTEGRATORS}")
    _sign(sign)
    dtype = dtype or jnp.result_type(float)
    x0 = (jnp.asarray(theta0, dtype), jnp.asarray(omega0, dtype))
    return _reduced_scan(x0, jnp.asarray(dt, dtype), jnp.asarray(gamma, dtype), int(n_steps),
                         None if c is None else float(c), latent, integrator, sign)


@partial(jax.jit, static_argnames=("n_steps", "c", "latent", "integrator", "sign"))
def _reduced_scan(x0, dt, gamma, n_steps, c, latent, integrator, sign):
    stepper = euler_step if integrator == "euler" else rk4_step

    def body(x, _):
        y = stepper(x[0], x[1], dt, gamma, c, latent, sign)
        return y, y

    _, ys = jax.lax.scan(body, x0, None, length=n_steps)
    return (jnp.concatenate([x0[0][None], ys[0]]), jnp.concatenate([x0[1][None], ys[1]]))


# --------------------------------------------------------------------------------------------
# particle game
# --------------------------------------------------------------------------------------------
class ToyState(NamedTuple):
    """Particles of the toy game.

    Attributes:
        theta: generator particles ``[N]``.
        omega: critic particles ``[M]``.
    """

    theta: Array
    omega: Array


def _cells(theta: Array, latent: str):
    """Sort order, sorted particles ``[N]``, cell probabilities ``[N+1]``, cell values ``[N+1]``."""
    n = theta.shape[0]
    order = jnp.argsort(theta)
    ts = theta[order]
    zero, one = jnp.zeros((1,), theta.dtype), jnp.ones((1,), theta.dtype)
    cdf = jnp.concatenate([zero, F(ts, latent), one])
    p = jnp.diff(cdf)
    y = (2.0 * jnp.arange(n + 1, dtype=theta.dtype) - n) / n
    return order, ts, p, y


def _critic_parts(omega: Array) -> tuple[Array, Array]:
    return jnp.mean(jax.nn.relu(omega)), jnp.mean(jax.nn.relu(-omega))


def particle_payoff(theta: Array, omega: Array, latent: str = "logistic",
                    sign: str = "fake_minus_real") -> Array:
    """What the critic ascends and the generator descends, in closed form; a scalar.

    Ψ(μ_N, ν_M) = E f(fake) − E f(real) (module docstring) for ``"fake_minus_real"``, −Ψ for ``"wgan"``.

    Args:
        theta: generator particles ``[N]``.
        omega: critic particles ``[M]``.
        latent: ``"logistic"`` or ``"gaussian"``.
        sign: ``"fake_minus_real"`` or ``"wgan"``.
    """
    _, _, p, y = _cells(theta, latent)
    P, Q = _critic_parts(omega)
    psi = jnp.sum(p * (P * jax.nn.relu(y) + Q * jax.nn.relu(-y))) - 0.5 * (P + Q)
    return _sign(sign) * psi


def particle_velocities(theta: Array, omega: Array, gamma: float = 1.0,
                        latent: str = "logistic", sign: str = "fake_minus_real") -> tuple[Array, Array]:
    """Mean-field velocities of all particles, unprojected (module docstring).

    Args:
        theta: generator particles ``[N]``.
        omega: critic particles ``[M]``.
        gamma: critic speed γ.
        latent: ``"logistic"`` or ``"gaussian"``.
        sign: ``"fake_minus_real"`` or ``"wgan"``.

    Returns:
        ``(v_theta [N], v_omega [M])``: θ_i' = −N ∂_{θ_i}Ψ_s and ω_j' = γ M ∂_{ω_j}Ψ_s, with
        Ψ_s = :func:`particle_payoff` of the same ``sign``.
    """
    s = _sign(sign)
    n = theta.shape[0]
    order, ts, p, y = _cells(theta, latent)
    P, Q = _critic_parts(omega)
    h = P * jax.nn.relu(y) + Q * jax.nn.relu(-y)
    v_sorted = -s * n * rho(ts, latent) * (h[:-1] - h[1:])
    v_theta = jnp.zeros_like(theta).at[order].set(v_sorted)
    v_plus = s * (jnp.sum(p * jax.nn.relu(y)) - 0.5)
    v_minus = s * (0.5 - jnp.sum(p * jax.nn.relu(-y)))
    # Filippov set at ω = 0: the segment between the one-sided velocities (ordered V+ ≤ V− under
    # fake_minus_real, reversed under wgan); take its minimal-norm element.
    v0 = jnp.clip(0.0, jnp.minimum(v_plus, v_minus), jnp.maximum(v_plus, v_minus))
    v_omega = jnp.where(omega > 0, v_plus, jnp.where(omega < 0, v_minus, v0))
    return v_theta, gamma * v_omega


def particle_euler_step(state: ToyState, dt: float, gamma: float = 1.0, c: float | None = 1.0,
                        latent: str = "logistic", sign: str = "fake_minus_real") -> ToyState:
    """The GAN algorithm with exact expectations: θ ← θ + Δt v_θ, ω ← clip(ω + Δt v_ω)."""
    vt, vo = particle_velocities(state.theta, state.omega, gamma, latent, sign)
    return ToyState(state.theta + dt * vt, _clip(state.omega + dt * vo, c))


def particle_rk4_step(state: ToyState, dt: float, gamma: float = 1.0, c: float | None = None,
                      latent: str = "logistic", sign: str = "fake_minus_real") -> ToyState:
    """Classical RK4 on the particle velocities (projected field stages and clamp when ``c`` set).

    Fourth order only between rank changes of the generator particles and contacts with |ω| = c.
    """
    def f(s):
        vt, vo = particle_velocities(s.theta, s.omega, gamma, latent, sign)
        return ToyState(vt, tangent_cone(s.omega, vo, c))

    def add(s, k, a):
        return ToyState(s.theta + a * k.theta, s.omega + a * k.omega)

    k1 = f(state)
    k2 = f(add(state, k1, 0.5 * dt))
    k3 = f(add(state, k2, 0.5 * dt))
    k4 = f(add(state, k3, dt))
    th = state.theta + dt / 6.0 * (k1.theta + 2 * k2.theta + 2 * k3.theta + k4.theta)
    om = state.omega + dt / 6.0 * (k1.omega + 2 * k2.omega + 2 * k3.omega + k4.omega)
    return ToyState(th, _clip(om, c))


@dataclass(frozen=True)
class ToyGame:
    """The toy game as a :class:`~meanfield.core.system.ParticleSystem` (exact expectations, no noise).

    One step advances mean-field time by ``dt``; the critic speed is ``gamma`` (γ_c). With
    N = M = 1 and zero spreads it is the reduced ODE.

    Attributes:
        N, M: generator and critic particle counts.
        gamma: critic speed γ.
        clip: c, half-width of the critic box; ``None`` for the unclipped flow.
        latent: ``"logistic"`` or ``"gaussian"``.
        dt: mean-field time per step.
        integrator: ``"euler"`` (the GAN algorithm's projected explicit Euler) or ``"rk4"``.
        theta0, omega0: centres of the initial clouds.
        theta_spread, omega_spread: standard deviations of the initial clouds (0: all particles
            at the centre).
        dtype: particle dtype (``"float64"`` needs ``jax.enable_x64``).
        sign: ``"fake_minus_real"`` (the critic ascends E f(fake) − E f(real), the generator descends it)
            or ``"wgan"`` (the critic ascends E f(real) − E f(fake), the generator descends
            that); a different game for N > 1 (module docstring).
    """

    N: int = 1
    M: int = 1
    gamma: float = 1.0
    clip: float | None = 1.0
    latent: str = "logistic"
    dt: float = 0.01
    integrator: str = "euler"
    theta0: float = -1.0
    omega0: float = 0.0
    theta_spread: float = 0.0
    omega_spread: float = 0.0
    dtype: str = "float32"
    sign: str = "fake_minus_real"

    def __post_init__(self):
        _check_latent(self.latent)
        _sign(self.sign)
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"unknown integrator {self.integrator!r}; "
                             f"expected one of {INTEGRATORS}")
        if self.N < 1 or self.M < 1 or not self.dt > 0 or not self.gamma > 0:
            raise ValueError("need N, M >= 1, dt > 0, gamma > 0")

    def init(self, key: Array) -> ToyState:
        kt, ko = jax.random.split(key)
        dt = jnp.dtype(self.dtype)
        # Drawn in float32 and cast, as every initial measure: one seed, one cloud in either dtype.
        zt = jax.random.normal(kt, (self.N,), jnp.float32).astype(dt)
        zo = jax.random.normal(ko, (self.M,), jnp.float32).astype(dt)
        th, om = self.theta0 + self.theta_spread * zt, self.omega0 + self.omega_spread * zo
        return ToyState(th.astype(dt), _clip(om.astype(dt), self.clip))

    def step(self, state: ToyState, key: Array) -> ToyState:
        del key  # exact expectations: the step is deterministic
        stepper = particle_euler_step if self.integrator == "euler" else particle_rk4_step
        return stepper(state, self.dt, self.gamma, self.clip, self.latent, self.sign)

    def observe(self, state: ToyState) -> dict[str, Array]:
        tm, om = jnp.mean(state.theta), jnp.mean(state.omega)
        on_face = (jnp.mean(jnp.abs(state.omega) >= self.clip) if self.clip is not None
                   else jnp.zeros((), state.omega.dtype))
        return {
            "theta_mean": tm,
            "omega_mean": om,
            "energy": energy(tm, om, self.gamma, self.latent),
            "theta_std": jnp.std(state.theta),
            "omega_std": jnp.std(state.omega),
            "payoff": particle_payoff(state.theta, state.omega, self.latent, self.sign),
            "boundary_mass": on_face.astype(state.omega.dtype),
        }

    def snapshot(self, state: ToyState) -> dict[str, Array]:
        return {"theta": state.theta, "omega": state.omega}
