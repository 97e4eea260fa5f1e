"""The ``[system]`` table of the Dirac GAN (``kind = "dirac"``; docs/model.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import NONNEGATIVE, POSITIVE, kind_option, one_of, option


@dataclass(frozen=True)
class DiracConfig:
    """The Dirac GAN of Mescheder et al. (2018): one step advances time by ``h``."""

    kind: str = kind_option("dirac")
    loss: str = option("gan", "loss f", **one_of("gan", "nonsaturating", "wgan"))
    scheme: str = option("simultaneous", "discrete updates or a flow (RK4 steps of size h)",
                         **one_of("simultaneous", "alternating", "nash_flow", "morse_flow"))
    h: float = option(0.2, "step size h", **POSITIVE)
    clipped: bool = option(False, "clip ψ to [−c, c]")
    clip: float = option(0.5, "c, used when clipped", **POSITIVE)
    n_critic: int = option(1, "critic steps per generator step (alternating)", **POSITIVE)
    gp: float = option(0.0, "gradient-penalty weight γ_gp", **NONNEGATIVE)
    noise: float = option(0.0, "instance-noise scale σ (in expectation)", **NONNEGATIVE)
    consensus: float = option(0.0, "consensus-optimisation weight γ (Mescheder et al. 2017): "
                              "both players subtract ½γ‖v‖² from their objectives, v the joint "
                              "gradient field, so they follow v − γJ_vᵀv; eigenvalues "
                              "−γf′(0)² ± if′(0) at the equilibrium (docs/dirac_gan.md)",
                              **NONNEGATIVE)
    theta0: float = option(1.0, "initial generator position θ")
    psi0: float = option(1.0, "initial critic slope ψ")
