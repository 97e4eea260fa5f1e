"""Teacher–student regression with a shallow network (docs/regression.md, docs/model.md §9): the
Wasserstein gradient flow of the risk E = ½∫|g_μ − g*|² dP, an aggregation energy, by the
population rule or online SGD, with optional noise injection."""

from __future__ import annotations

import numpy as np

from meanfield.core.registry import Kind
from meanfield.systems.regression.config import RegressionConfig
from meanfield.systems.regression.figures import draw_figures
from meanfield.measures.sphere import UniformSphere
from meanfield.systems.regression.system import from_config


def summary(system, t, observables) -> dict:
    """The rule behind the observables, and E(T)/E(0) (replica mean)."""
    e = np.asarray(observables["energy"], float)
    ratio = e[:, -1] / np.maximum(e[:, 0], np.finfo(float).tiny)
    inputs = ("uniform on the sphere of radius sqrt(L)" if isinstance(system.inputs, UniformSphere)
              else "N(0, I_L)")
    return {"inputs": inputs, "energy_ratio": float(ratio.mean())}


def time_reading(cfg) -> str:
    d = cfg.dynamics
    how = "population rule" if d.population else f"SGD, m = {d.batch_size} fresh samples"
    return (f"mean-field time t = k·lr (lr = {d.lr}, {how}); a raw step s on the N neurons' "
            f"risk is lr = s/N")


KIND = Kind(name="regression", config=RegressionConfig, build=from_config, figures=draw_figures,
            vmapped=("teacher.seed", "noise.beta"), headline=("energy", "dissipation"),
            time_reading=time_reading, summary=summary)
