"""The shallow WGAN (docs/model.md §2): its ``[system]`` config, builder and figures."""

from __future__ import annotations

from meanfield.core.registry import Kind
from meanfield.metrics import coagulation
from meanfield.systems.wgan.config import WGANConfig
from meanfield.systems.wgan.figures import draw_figures
from meanfield.systems.wgan.system import from_config


def summary(system, t, observables) -> dict:
    """Coagulation entries of ``summary.json``: collapse time, final atoms and vertex mass."""
    return coagulation.summary_fields(t, observables)


def from_old_layout(raw: dict) -> dict:
    """``[system]`` from ``[model]``, ``[latent]``, ``[target]``, ``[init]``, ``[dynamics]`` and the
    numerics that ``[run]`` held."""
    system = {"kind": "wgan", **{k: v for k, v in raw.get("model", {}).items() if k != "kind"}}
    for name in ("latent", "target", "init", "dynamics"):
        if name in raw:
            system[name] = dict(raw[name])
    numerics = {k: v for k, v in raw.get("run", {}).items()
                if k in ("quadrature_nodes", "max_quadrature_points", "n_eval")}
    if numerics:
        system["numerics"] = numerics
    return system


def time_reading(cfg: WGANConfig) -> str:
    if cfg.dynamics.optimizer == "sgd":
        return "mean-field time t = k·lr/N"
    return (f"approximate: {cfg.dynamics.optimizer} rescales steps, t = k·lr/N is nominal")


KIND = Kind(name="wgan", config=WGANConfig, build=from_config, figures=draw_figures,
            vmapped=("dynamics.n_critic", "dynamics.clip"),
            headline=("w1", "w2", "payoff", "boundary_mass"), time_reading=time_reading,
            summary=summary, from_old_layout=from_old_layout)
