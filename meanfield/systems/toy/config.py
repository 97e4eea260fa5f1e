"""The ``[system]`` table of the toy game (``kind = "toy"``; docs/model.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import NONNEGATIVE, POSITIVE, kind_option, one_of, option


@dataclass(frozen=True)
class ToyConfig:
    """The toy game: step-function generator against a ReLU critic, exact expectations.

    Time is the game's own: one step advances it by ``dt``; the critic speed is ``gamma``.
    """

    kind: str = kind_option("toy")
    N: int = option(1, "generator particles N (N = M = 1 with no spread: the reduced ODE)",
                    **POSITIVE)
    M: int = option(1, "critic particles M", **POSITIVE)
    latent: str = option("logistic", "latent law of z (median 0)",
                         **one_of("logistic", "gaussian"))
    gamma: float = option(1.0, "critic speed γ", **POSITIVE)
    dt: float = option(0.01, "time per step", **POSITIVE)
    integrator: str = option("euler", "projected explicit Euler (the GAN algorithm) or RK4",
                             **one_of("euler", "rk4"))
    clipped: bool = option(True, "project ω onto [−c, c]")
    clip: float = option(1.0, "c (the lecture's setting: 1)", **POSITIVE)
    theta0: float = option(-2.0, "centre of the generator particles θ")
    omega0: float = option(0.0, "centre of the critic particles ω")
    theta_spread: float = option(0.0, "std of the initial generator cloud", **NONNEGATIVE)
    omega_spread: float = option(0.0, "std of the initial critic cloud", **NONNEGATIVE)
    sign: str = option("fake_minus_real", "which game: 'fake_minus_real' (the critic ascends "
                       "E f(fake) − E f(real), the generator descends it) or 'wgan' (the critic "
                       "ascends E f(real) − E f(fake), the generator descends it); different "
                       "games for N > 1, since the ReLU critics are not closed under f ↦ −f "
                       "(docs/toy_game.md)", **one_of("fake_minus_real", "wgan"))
