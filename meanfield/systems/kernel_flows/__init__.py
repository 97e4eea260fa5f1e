"""Particle flows in data space (docs/model.md §8): the MMD flow with noise injection, the KALE
flow and the unadjusted Langevin algorithm, as three kinds sharing one system and one config."""

from __future__ import annotations

from meanfield.core.registry import Kind
from meanfield.systems.kernel_flows.config import KALEConfig, LangevinConfig, MMDConfig
from meanfield.systems.kernel_flows.figures import draw_figures
from meanfield.systems.kernel_flows.system import from_config


def summary(system, t, observables) -> dict:
    """The kernel written out (``summary.json``: conventions differ between papers)."""
    k = system.kernel
    formula = {"gaussian": "exp(-|x-y|^2/(2 s^2))", "laplace": "exp(-|x-y|/s)",
               "imq": "(1 + |x-y|^2/s^2)^(-1/2)"}[k.name]
    return {"kernel": f"{k.name}: k(x, y) = {formula}, s = {k.bandwidth}"}


def time_reading(cfg) -> str:
    return f"flow time t = k·γ (γ = lr = {cfg.lr}); iteration k = t/γ"


_COMMON = dict(build=from_config, figures=draw_figures, summary=summary, time_reading=time_reading)
MMD = Kind(name="mmd", config=MMDConfig, vmapped=("noise.beta", "target_seed"),
           headline=("half_mmd2", "w2", "far_fraction"), **_COMMON)
KALE = Kind(name="kale", config=KALEConfig, vmapped=("lam", "target_seed"),
            headline=("kale", "half_mmd2", "w2"), **_COMMON)
LANGEVIN = Kind(name="langevin", config=LangevinConfig, vmapped=("target_seed",),
                headline=("half_mmd2", "w2"), **_COMMON)
