"""The GAN's own figure: generated histograms against P*, and JSD, W₁ over time."""

from __future__ import annotations

from pathlib import Path

from meanfield.systems.gan.system import from_config
from meanfield.systems.wgan.figures import draw_overview


def draw_figures(fig_dir: Path, cfg, t, observables, snapshot_t, snapshots) -> None:
    """``overview.png`` when snapshots were saved."""
    if not len(snapshot_t):
        return
    curves = [("jsd", "JSD (KDE)")] if "jsd" in observables else []
    curves += [("jsd_lower_bound", "(V + ln 4)/2"), ("w1", "W₁")]
    draw_overview(fig_dir / "overview.png", cfg, t, observables, snapshot_t, snapshots,
                  system=from_config(cfg.system, cfg.run), curves=curves,
                  title="divergence to P*", name=f"GAN ({cfg.system.dynamics.algorithm})")
