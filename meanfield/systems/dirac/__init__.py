"""The Dirac GAN (docs/model.md §6, docs/dirac_gan.md): its ``[system]`` config, builder and figure."""

from __future__ import annotations

from meanfield.core.registry import Kind
from meanfield.io.figures import draw_phase
from meanfield.systems.dirac.config import DiracConfig
from meanfield.systems.dirac.gan import DiracGAN


def build(cfg: DiracConfig, run) -> DiracGAN:
    """The :class:`DiracGAN` that ``cfg`` describes, in ``run.dtype``."""
    return DiracGAN(loss=cfg.loss, scheme=cfg.scheme, h=cfg.h,
                    clip=cfg.clip if cfg.clipped else None, gp=cfg.gp, noise=cfg.noise,
                    consensus=cfg.consensus, n_critic=cfg.n_critic, theta0=cfg.theta0,
                    psi0=cfg.psi0, dtype=run.dtype)


def from_old_layout(raw: dict) -> dict:
    """``[system]`` from ``[dirac]``."""
    return {"kind": "dirac", **raw.get("dirac", {})}


def draw_figures(fig_dir, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``phase.png``: the trajectory in the (θ, ψ) plane, with the clipping band."""
    s = cfg.system
    draw_phase(fig_dir / "phase.png", observables, "theta", "psi", "dirac",
               s.clip if s.clipped else None)


KIND = Kind(name="dirac", config=DiracConfig, build=build, figures=draw_figures,
            headline=("theta", "psi", "norm"), from_old_layout=from_old_layout)
