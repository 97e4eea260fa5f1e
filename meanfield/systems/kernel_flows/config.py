"""The ``[system]`` tables of the particle flows in data space: ``kind = "mmd"``, ``"kale"`` and
``"langevin"`` (docs/model.md §8). They share every field but the flow's own."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import (NONNEGATIVE, POSITIVE, ConfigError, kind_option, one_of, option,
                                 section)
from meanfield.measures.kernels import KERNELS
from meanfield.systems.components import NoiseConfig, TargetConfig

TARGET_POINTS = ("fixed", "resampled", "quadrature")


@dataclass(frozen=True)
class InitialLaw(TargetConfig):
    """The initial law ν₀ of the particles (default N((10, 10), 0.5² I), Arbel et al.'s)."""

    weights: list = option([1.0], "mixture weights (normalised)")
    means: list = option([[10.0, 10.0]], "component means (gaussian_mixture)")
    stds: list = option([0.5], "component standard deviations (gaussian_mixture)")
    atoms: list = option([[0.0, 0.0]], "atom positions (atoms)")


@dataclass(frozen=True)
class TargetLaw(TargetConfig):
    """The target μ (default N(0, I))."""

    weights: list = option([1.0], "mixture weights (normalised)")
    means: list = option([[0.0, 0.0]], "component means (gaussian_mixture)")
    stds: list = option([1.0], "component standard deviations (gaussian_mixture)")
    atoms: list = option([[0.0, 0.0]], "atom positions (atoms)")


@dataclass(frozen=True)
class KernelConfig:
    """The kernel k(y, x) of the MMD (the flow's for mmd and kale; the observable's for all)."""

    name: str = option("gaussian", "k with r = |y − x|: gaussian exp(−r²/(2σ²)), laplace "
                       "exp(−r/σ), imq (1 + r²/σ²)^(−1/2)", **one_of(*KERNELS))
    bandwidth: float = option(1.0, "bandwidth σ of the formulas above", **POSITIVE)


@dataclass(frozen=True)
class FlowNumerics:
    """Kernel sums in blocks and the estimators of the observables."""

    block: int = option(1024, "source points per block of a kernel sum (memory O(N·block))",
                        **POSITIVE)
    far: float = option(4.0, "a particle is far from the target when it is more than far "
                        "standard deviations from every component mean (far_fraction)",
                        **POSITIVE)
    w2_exact_max: int = option(0, "W₂ by exact assignment (on the host, about 1 s per record "
                               "at N = 1000) when N = M, the target points are equally "
                               "weighted and N is at most this; sliced W₂ (a lower bound) "
                               "otherwise",
                               **NONNEGATIVE)
    n_directions: int = option(64, "directions of the sliced W₂", **POSITIVE)


@dataclass(frozen=True)
class MMDConfig:
    """The MMD gradient flow [AKSG]: F = ½MMD²(ν, μ); one step x ← x − γ∇f(x + β_n u), Δt = γ."""

    kind: str = kind_option("mmd")
    d: int = option(2, "dimension d of the particles", **POSITIVE)
    N: int = option(1000, "number of particles N", **POSITIVE)
    M: int = option(1000, "target points M (fixed or resampled; quadrature sets its own)",
                    **POSITIVE)
    target_points: str = option("fixed", "the target as points: fixed (one sample of M drawn "
                                "with target_seed), resampled (M new points every step), "
                                "quadrature (Gauss–Hermite rule of a Gaussian mixture, weighted)",
                                **one_of(*TARGET_POINTS))
    target_seed: int = option(0, "seed of the fixed target sample")
    quadrature_nodes: int = option(10, "quadrature: nodes per dimension and component",
                                   **POSITIVE)
    lr: float = option(0.1, "step γ: x ← x − γ∇f(y), so Δt = γ of flow time (a raw step s on F "
                       "is γ = s/N, since N ∂F/∂xᵢ = ∇f(xᵢ))", **POSITIVE)
    initial: InitialLaw = section(InitialLaw, "the initial law ν₀")
    target: TargetLaw = section(TargetLaw, "the target μ")
    kernel: KernelConfig = section(KernelConfig, "the kernel")
    noise: NoiseConfig = section(NoiseConfig, "noise injection (mmd)")
    numerics: FlowNumerics = section(FlowNumerics, "blocks and estimators")

    def check(self) -> None:
        self.initial.check_dimension(self.d, "system.initial")
        self.target.check_dimension(self.d, "system.target")
        if self.target_points == "quadrature" and self.target.law != "gaussian_mixture":
            raise ConfigError("system.target_points: quadrature needs target.law = "
                              "gaussian_mixture")


@dataclass(frozen=True)
class KALEConfig(MMDConfig):
    """The KALE flow [GAG]: F = KALE(ν‖μ) with the inner problem solved by Newton every step."""

    kind: str = kind_option("kale")
    lam: float = option(1.0, "λ: KALE → ½MMD² as λ → ∞, → KL as λ → 0", **POSITIVE)
    newton_tol: float = option(1e-8, "Newton's relative and absolute tolerance on h(xᵢ) "
                               "(at least 100 eps of run.dtype)",
                               **POSITIVE)
    newton_max_steps: int = option(50, "Newton iterations per step at most", **POSITIVE)

    def check(self) -> None:
        super().check()
        if self.target_points == "resampled":
            raise ConfigError("system.target_points: kale needs fixed or quadrature target "
                              "points (its warm start lives on them)")
        if self.noise.schedule != "none":
            raise ConfigError("system.noise.schedule: noise injection is for the mmd flow")


@dataclass(frozen=True)
class LangevinConfig(MMDConfig):
    """The unadjusted Langevin algorithm: x ← x + γ∇log π(x) + √(2γ) ξ, the KL(·‖π) flow."""

    kind: str = kind_option("langevin")

    def check(self) -> None:
        super().check()
        if self.target.law != "gaussian_mixture":
            raise ConfigError("system.target.law: langevin needs a target with a density "
                              "(gaussian_mixture)")
        if self.noise.schedule != "none":
            raise ConfigError("system.noise.schedule: noise injection is for the mmd flow")
