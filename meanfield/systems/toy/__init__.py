"""The toy game (docs/model.md §5, docs/toy_game.md): its ``[system]`` config, builder and figure."""

from __future__ import annotations

from meanfield.core.registry import Kind
from meanfield.io.figures import draw_phase
from meanfield.systems.toy.config import ToyConfig
from meanfield.systems.toy.game import ToyGame
from meanfield.systems.toy.limit_cycle import summary_fields


def build(cfg: ToyConfig, run) -> ToyGame:
    """The :class:`ToyGame` that ``cfg`` describes, in ``run.dtype``."""
    return ToyGame(N=cfg.N, M=cfg.M, gamma=cfg.gamma, clip=cfg.clip if cfg.clipped else None,
                   latent=cfg.latent, dt=cfg.dt, integrator=cfg.integrator, theta0=cfg.theta0,
                   omega0=cfg.omega0, theta_spread=cfg.theta_spread,
                   omega_spread=cfg.omega_spread, dtype=run.dtype, sign=cfg.sign)


def from_old_layout(raw: dict) -> dict:
    """``[system]`` from ``[model]`` (N, M), ``[latent] law`` and ``[toy]``."""
    system = {"kind": "toy", **{k: v for k, v in raw.get("model", {}).items() if k in ("N", "M")}}
    if "law" in raw.get("latent", {}):
        system["latent"] = raw["latent"]["law"]
    return {**system, **raw.get("toy", {})}


def draw_figures(fig_dir, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``phase.png``: the centres of mass in the (θ, ω) plane, with the clipping band."""
    s = cfg.system
    draw_phase(fig_dir / "phase.png", observables, "theta_mean", "omega_mean", "toy",
               s.clip if s.clipped else None)


KIND = Kind(name="toy", config=ToyConfig, build=build, figures=draw_figures,
            headline=("theta_mean", "omega_mean"), summary=summary_fields,
            from_old_layout=from_old_layout)
