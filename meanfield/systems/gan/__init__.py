"""The vanilla (log-loss) GAN and Huang–Zhang's Algorithm 2 (docs/model.md §7): its ``[system]``
config, builder and figures."""

from __future__ import annotations

from meanfield.core.registry import Kind
from meanfield.systems import wgan
from meanfield.systems.gan.config import GANConfig
from meanfield.systems.gan.figures import draw_figures
from meanfield.systems.gan.system import from_config


def time_reading(cfg: GANConfig) -> str:
    d = cfg.dynamics
    if d.algorithm == "jsd_flow":
        return (f"JSD-flow time t = k·ε (ε = {d.epsilon}) when the generator fits the moved "
                "points and D is near D*")
    return wgan.time_reading(cfg)


KIND = Kind(name="gan", config=GANConfig, build=from_config, figures=draw_figures,
            vmapped=("dynamics.n_critic", "dynamics.clip"),
            headline=("jsd_lower_bound", "w1", "d_real", "d_fake"), time_reading=time_reading)
