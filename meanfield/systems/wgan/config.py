"""The ``[system]`` table of the shallow WGAN (``kind = "wgan"``; docs/model.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

from meanfield.io.config import POSITIVE, kind_option, one_of, option, section
from meanfield.systems.components import (DescentAscentConfig, InitConfig, LatentConfig,
                                          NumericsConfig, TargetConfig)


@dataclass(frozen=True)
class WGANConfig:
    """The shallow WGAN: N generator and M critic neurons, weight clipping (docs/model.md §2)."""

    kind: str = kind_option("wgan")
    K: int = option(1, "data dimension K", **POSITIVE)
    L: int = option(1, "latent dimension L", **POSITIVE)
    N: int = option(256, "number of generator particles N", **POSITIVE)
    M: int = option(256, "number of critic particles M", **POSITIVE)
    activation: str = option("sigmoid", "activation s of both networks",
                             **one_of("sigmoid", "tanh"))
    latent: LatentConfig = section(LatentConfig, "the latent law λ")
    target: TargetConfig = section(TargetConfig, "the target P*")
    init: InitConfig = section(InitConfig, "initial laws of the neurons' parameter blocks")
    dynamics: DescentAscentConfig = section(DescentAscentConfig, "the descent–ascent scheme")
    numerics: NumericsConfig = section(NumericsConfig, "quadrature and W estimators")

    def check(self) -> None:
        self.target.check_dimension(self.K)
