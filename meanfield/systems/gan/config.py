"""The ``[system]`` table of the vanilla (log-loss) GAN, ``kind = "gan"`` (docs/model.md §7)."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import POSITIVE, ConfigError, kind_option, one_of, option, section
from meanfield.systems.components import DescentAscentConfig, TargetConfig
from meanfield.systems.gan.log_loss import LOSSES
from meanfield.systems.gan.system import ALGORITHMS
from meanfield.systems.wgan.config import WGANConfig
from meanfield.systems.wgan.system import OUTPUTS


@dataclass(frozen=True)
class GANDynamics(DescentAscentConfig):
    """Descent–ascent on the log-loss game; or Huang–Zhang's Algorithm 2 (``jsd_flow``)."""

    algorithm: str = option("gan", "gan: Algorithm 1 (the GAN algorithm; Δt = lr/N); jsd_flow: "
                            "Algorithm 2 (points moved by ε along ∇D/(2(1 − D)), the generator "
                            "regressed onto them with lr; t = k·ε; alternating scheme)",
                            **one_of(*ALGORITHMS))
    loss: str = option("saturating", "generator loss: saturating E ln(1 − D(G(z))) (zero-sum) or "
                       "nonsaturating −E ln D(G(z))", **one_of(*LOSSES))
    clip: float = option(float("inf"), "weight clipping half-width c of the discriminator "
                         "(inf: no constraint)", **POSITIVE)
    epsilon: float = option(0.01, "jsd_flow: ε, the flow time one iteration stands for",
                            **POSITIVE)
    critic_lr: float = option(0.0, "the discriminator's step (0: n_c·lr simultaneous, lr "
                              "alternating, as for the WGAN)", check=lambda x: x >= 0,
                              expect=">= 0")
    fit_steps: int = option(1, "jsd_flow: regression steps of the generator per iteration (1 with "
                            "sgd: exactly Algorithm 1 at step lr·ε)", **POSITIVE)


@dataclass(frozen=True)
class InitialFit(TargetConfig):
    """Start the generator at a given law ρ₀ (K = L = 1): before t = 0, g_μ is regressed onto the
    monotone map z ↦ F₀⁻¹(Φ(z)) at 1024 latent quantiles (Adam), then the discriminator is
    trained against it. Off while ``steps = 0``."""

    weights: list = option([1.0], "ρ₀: mixture weights (normalised)")
    means: list = option([1.5], "ρ₀: component means (gaussian_mixture)")
    stds: list = option([0.5], "ρ₀: component standard deviations (gaussian_mixture)")
    atoms: list = option([0.0], "ρ₀: atom positions (atoms)")
    steps: int = option(0, "Adam steps of the generator's regression (0: off)",
                        check=lambda x: x >= 0, expect=">= 0")
    lr: float = option(0.01, "the regression's Adam step", **POSITIVE)
    critic_rounds: int = option(0, "then this many rounds of n_c discriminator steps",
                                check=lambda x: x >= 0, expect=">= 0")


@dataclass(frozen=True)
class GANConfig(WGANConfig):
    """The vanilla GAN: a shallow generator of N neurons, a discriminator D = sigmoid(f_ν) with
    f_ν a mean over M neurons."""

    kind: str = kind_option("gan")
    dynamics: GANDynamics = section(GANDynamics, "the GAN's descent–ascent or Algorithm 2")
    initial: InitialFit = section(InitialFit, "a law ρ₀ the generator is fitted to before t = 0")
    output: str = option("identity", "output layer after the generator: identity, or smirnov "
                         "(S = F_n⁻¹∘Φ per coordinate from the target's data: interpolated in the "
                         "losses, exact for generated points; docs/model.md §10)",
                         **one_of(*OUTPUTS))

    def check(self) -> None:
        super().check()
        d = self.dynamics
        if self.output != "identity" and (self.initial.steps or d.algorithm == "jsd_flow"):
            raise ConfigError("system.output: the Smirnov layer needs algorithm = 'gan' and no "
                              "initial fit (both regress the generator's own output)")
        if self.initial.steps:
            if self.K != 1 or self.L != 1:
                raise ConfigError("system.initial.steps: fitting the generator to ρ₀ needs "
                                  f"K = L = 1 (a monotone map), got K = {self.K}, L = {self.L}")
            if self.latent.law != "gaussian":
                raise ConfigError("system.initial.steps: the map F₀⁻¹∘Φ needs a Gaussian latent; "
                                  "set system.latent.law = 'gaussian'")
            self.initial.check_dimension(1, "system.initial")
        if d.algorithm == "jsd_flow":
            if d.scheme != "alternating":
                raise ConfigError("system.dynamics.scheme: Algorithm 2 trains the discriminator "
                                  "first; expected 'alternating'")
            if d.loss != "saturating":
                raise ConfigError("system.dynamics.loss: Algorithm 2 is the saturating GAN's "
                                  "generator step; expected 'saturating'")
            if d.population:
                raise ConfigError("system.dynamics.population: Algorithm 2 regresses on a batch "
                                  "of latents; expected false")

