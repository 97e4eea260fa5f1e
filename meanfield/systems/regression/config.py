"""The ``[system]`` table of teacher–student regression (``kind = "regression"``;
docs/regression.md)."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import (NONNEGATIVE, POSITIVE, ConfigError, kind_option, one_of, option,
                                 section)
from meanfield.networks.initial import BlockLaw
from meanfield.networks.readout import ACTIVATIONS
from meanfield.systems.components import NoiseConfig

INPUT_LAWS = ("gaussian", "sphere")


@dataclass(frozen=True)
class InputsConfig:
    """The input law P on R^L."""

    law: str = option("gaussian", "gaussian N(0, I_L), or sphere: uniform on the sphere of "
                      "radius √L (covariance I_L as well)", **one_of(*INPUT_LAWS))


@dataclass(frozen=True)
class NeuronLaw:
    """N(mean, std²) for every coordinate of each block of a neuron θ = (a, b, c)."""

    a_mean: float = option(0.0, "output weight a: mean")
    a_std: float = option(1.0, "output weight a: std", **NONNEGATIVE)
    b_mean: float = option(0.0, "input weights b: mean")
    b_std: float = option(1.0, "input weights b: std", **NONNEGATIVE)
    c_mean: float = option(0.0, "bias c: mean")
    c_std: float = option(1.0, "bias c: std", **NONNEGATIVE)

    def blocks(self) -> tuple[BlockLaw, BlockLaw, BlockLaw]:
        """The laws of the a, b and c blocks."""
        return (BlockLaw(self.a_mean, self.a_std), BlockLaw(self.b_mean, self.b_std),
                BlockLaw(self.c_mean, self.c_std))


@dataclass(frozen=True)
class TeacherConfig(NeuronLaw):
    """The teacher g* = g_{μ*}: N* neurons drawn once from ``seed`` (the same in float32 and
    float64 runs)."""

    N: int = option(4, "teacher neurons N*", **POSITIVE)
    seed: int = option(0, "seed of the teacher's neurons",
                       check=lambda x: 0 <= x < 2 ** 32, expect="an integer in [0, 2^32 − 1]")
    a_std: float = option(4.0, "output weight a: std", **NONNEGATIVE)
    b_std: float = option(3.0, "input weights b: std", **NONNEGATIVE)


@dataclass(frozen=True)
class RegressionDynamics:
    """The gradient flow of the risk: θᵢ ← θᵢ − lr·∇δE/δμ(θᵢ), one step Δt = lr."""

    lr: float = option(0.5, "step: Δt = lr of mean-field time (a raw SGD step s on the "
                       "empirical risk of the N neurons is lr = s/N)", **POSITIVE)
    population: bool = option(True, "true: the expectation over P by the input law's rule (the "
                              "mean-field flow); false: online SGD on fresh samples")
    batch_size: int = option(64, "SGD: fresh samples m per step", **POSITIVE)


@dataclass(frozen=True)
class RegressionNumerics:
    """The rule of the population expectations and the cost of the observables."""

    quadrature_nodes: int = option(64, "nodes per dimension of the input law's rule (the flow's "
                                   "in population mode, the observables' always)", **POSITIVE)
    max_quadrature_points: int = option(4096, "above this, a fixed sample of this size replaces "
                                        "the rule", **POSITIVE)
    mmd_form: bool = option(True, "record half_mmd2 from the Gram matrices of the kernel W "
                            "(O((N + N*)²·Q) per record)")


@dataclass(frozen=True)
class RegressionConfig:
    """Teacher–student regression: N student neurons under the gradient flow of
    E = ½∫|g_μ − g*|² dP (docs/regression.md)."""

    kind: str = kind_option("regression")
    K: int = option(1, "output dimension K", **POSITIVE)
    L: int = option(1, "input dimension L", **POSITIVE)
    N: int = option(256, "student neurons N", **POSITIVE)
    activation: str = option("sigmoid", "activation s of student and teacher",
                             **one_of(*ACTIVATIONS))
    inputs: InputsConfig = section(InputsConfig, "the input law P")
    teacher: TeacherConfig = section(TeacherConfig, "the teacher network")
    init: NeuronLaw = section(NeuronLaw, "the student's initial law")
    dynamics: RegressionDynamics = section(RegressionDynamics, "the flow and its expectation")
    noise: NoiseConfig = section(NoiseConfig, "noise injection [AKSG]: the velocity evaluated at "
                                 "θ + β_n u, the measure unperturbed")
    numerics: RegressionNumerics = section(RegressionNumerics, "rule and observables")

    def check(self) -> None:
        if self.noise.schedule != "none" and self.noise.beta == 0.0:
            raise ConfigError(f"system.noise.beta: schedule {self.noise.schedule!r} needs "
                              "beta > 0 (or schedule = 'none')")
