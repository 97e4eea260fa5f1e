"""Sub-configs that system kinds compose: laws, shallow networks' initial laws, the descent–ascent
scheme, and the numerics of the observables. Each builds the object it describes.

A kind's ``[system]`` dataclass holds these as nested tables, e.g. ``[system.target]``; the
notation is that of docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import NONNEGATIVE, POSITIVE, ConfigError, one_of, option
from meanfield.measures import laws
from meanfield.measures.datasets import DATASETS, dataset_law
from meanfield.networks.initial import BlockLaw
from meanfield.schemes.noise_injection import SCHEDULES
from meanfield.schemes.optimizers import OPTIMIZERS


@dataclass(frozen=True)
class LatentConfig:
    """The latent law λ on R^L."""

    law: str = option("gaussian", "latent law", **one_of("gaussian", "logistic"))

    def build(self, L: int) -> laws.Law:
        """λ: standard Gaussian or iid logistic on R^L."""
        return {"gaussian": laws.StandardGaussian, "logistic": laws.Logistic}[self.law](L)


@dataclass(frozen=True)
class TargetConfig:
    """A law on R^K (the target P*; kinds subclass it for other laws with other defaults): a
    Gaussian mixture, an atomic mixture, or the empirical law of a data set's training part
    (``law = "digits"``: :mod:`meanfield.measures.datasets`, K = 64; the other keys are then
    unused).

    ``means`` and ``atoms`` hold one number per component when K = 1, else one list of K numbers.
    """

    # A data set is a value of ``law``, not a key of its own: a new key would be written into every
    # saved config.toml of every kind using this table, and change configs saved before it.
    law: str = option("gaussian_mixture", "target law (a data set: its training part)",
                      **one_of("gaussian_mixture", "atoms", *DATASETS))
    weights: list = option([0.5, 0.5], "mixture weights (normalised)")
    means: list = option([-1.0, 1.0], "component means (gaussian_mixture)")
    stds: list = option([0.3, 0.3], "component standard deviations (gaussian_mixture)")
    atoms: list = option([-1.0, 1.0], "atom positions (atoms)")

    def check_dimension(self, K: int, name: str = "system.target") -> None:
        """Constraints between the fields and the data dimension K.

        Raises:
            ConfigError: naming the key.
        """
        if self.law in DATASETS:
            dim = DATASETS[self.law][1]
            if K != dim:
                raise ConfigError(f"{name}.law: the data set {self.law!r} has points of dimension "
                                  f"{dim}; set system.K = {dim} (got K = {K})")
            return
        n = len(self.weights)
        if any(isinstance(x, list) for x in self.weights):
            raise ConfigError(f"{name}.weights: expected a flat list of numbers, got "
                              f"{self.weights!r}")
        if n == 0 or any(w <= 0 for w in self.weights):
            raise ConfigError(f"{name}.weights: expected a non-empty list of positive numbers")
        lists = ({"means": self.means, "stds": self.stds} if self.law == "gaussian_mixture"
                 else {"atoms": self.atoms})
        for key, v in lists.items():
            if len(v) != n:
                raise ConfigError(f"{name}.{key}: expected {n} entries (one per weight), got "
                                  f"{len(v)}")
            for entry in v:
                size = len(entry) if isinstance(entry, list) else 1
                if size != K and not (key == "stds" and size == 1):
                    raise ConfigError(f"{name}.{key}: expected entries of dimension K = {K}")
        if self.law == "gaussian_mixture" and any(
                s <= 0 for e in self.stds for s in (e if isinstance(e, list) else [e])):
            raise ConfigError(f"{name}.stds: expected positive numbers")

    def build(self) -> laws.Law:
        """P*: a Gaussian mixture, an atomic mixture or a data set's empirical law."""
        if self.law in DATASETS:
            return dataset_law(self.law)
        if self.law == "gaussian_mixture":
            return laws.gaussian_mixture(self.weights, self.means, self.stds)
        return laws.atomic_mixture(self.weights, self.atoms)


@dataclass(frozen=True)
class InitConfig:
    """Initial laws N(mean, std²) of each parameter block of the shallow networks (generator a, b,
    c; critic α, β, γ; docs/model.md §2)."""

    a_mean: float = option(0.0, "generator a: mean")
    a_std: float = option(1.0, "generator a: std", **NONNEGATIVE)
    b_mean: float = option(0.0, "generator b: mean")
    b_std: float = option(1.0, "generator b: std", **NONNEGATIVE)
    c_mean: float = option(0.0, "generator c: mean")
    c_std: float = option(1.0, "generator c: std", **NONNEGATIVE)
    alpha_mean: float = option(0.0, "critic α: mean")
    alpha_std: float = option(0.5, "critic α: std (particles are then clipped into Q)",
                              **NONNEGATIVE)
    beta_mean: float = option(0.0, "critic β: mean")
    beta_std: float = option(0.5, "critic β: std", **NONNEGATIVE)
    gamma_mean: float = option(0.0, "critic γ: mean")
    gamma_std: float = option(0.5, "critic γ: std", **NONNEGATIVE)

    def blocks(self) -> dict[str, BlockLaw]:
        """The six block laws, by block name (a, b, c, alpha, beta, gamma)."""
        return {k: BlockLaw(getattr(self, f"{k}_mean"), getattr(self, f"{k}_std"))
                for k in ("a", "b", "c", "alpha", "beta", "gamma")}


@dataclass(frozen=True)
class DescentAscentConfig:
    """The discrete descent–ascent scheme (docs/model.md §2). One generator step advances time by
    Δt = lr/N; the critic speed is γ_c = n_c N/M."""

    scheme: str = option("simultaneous", "update scheme", **one_of("simultaneous", "alternating"))
    optimizer: str = option("sgd", "optimiser: sgd (the mean-field scheme) or rmsprop (PyTorch's "
                            "RMSprop defaults: ν ← 0.99ν + 0.01g², step lr·g/(√ν + 1e-8), eps "
                            "outside the square root; the time reading is then approximate) or "
                            "adam (optax's defaults; no time reading)",
                            **one_of(*OPTIMIZERS))
    lr: float = option(1.0, "raw step size α (Δt = α/N)", **POSITIVE)
    n_critic: int = option(1, "critic steps per generator step n_c (γ_c = n_c N/M)", **POSITIVE)
    clip: float = option(0.01, "clipping half-width c of Q = [−c, c]^{K+2}", **POSITIVE)
    batch_size: int = option(1, "samples per update m", **POSITIVE)
    population: bool = option(False, "exact expectations (quadrature) instead of samples")


@dataclass(frozen=True)
class NumericsConfig:
    """Quadrature of exact expectations and the W₁, W₂ estimators (docs/model.md §3)."""

    quadrature_nodes: int = option(20, "quadrature nodes per dimension (population, payoff)",
                                   **POSITIVE)
    max_quadrature_points: int = option(4096, "above this, a fixed sample replaces quadrature",
                                        **POSITIVE)
    n_eval: int = option(1024, "points per cloud for W_1, W_2 (>= 16: the estimators resolve "
                               "about 1/n_eval of the laws' spread)", check=lambda x: x >= 16,
                         expect=">= 16")


@dataclass(frozen=True)
class NoiseConfig:
    """Noise injection [AKSG]: ∇f is evaluated at x + β_n u, u ~ N(0, I) drawn every step n."""

    schedule: str = option("none", "β_n: none 0; constant β; until β for n < n0, then 0; sqrt "
                           "β/√(n+1); halving β·2^(−⌊n/k⌋)", **one_of(*SCHEDULES))
    beta: float = option(0.0, "noise level β", **NONNEGATIVE)
    n0: int = option(0, "until: the number of steps with noise", **NONNEGATIVE)
    k: int = option(1000, "halving: steps between halvings", **POSITIVE)
