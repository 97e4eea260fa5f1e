"""meanfield: GAN training as mean-field particle dynamics (see docs/model.md).

Quick use::

    import meanfield as mf
    cfg = mf.load_config("configs/quickstart.toml", ["model.N=128"])
    result = mf.run(cfg, "results/quick")          # or out=None to stay in memory
    w1 = result.trajectory.observables["w1"]       # [R, n_records]
    back = mf.read_run("results/quick")            # the saved folder, read back
"""

from meanfield import _xla

_xla.apply()  # before JAX starts its CPU backend (see meanfield/_xla.py); imports below follow it

from meanfield.config import Config, ConfigError
from meanfield.config import load as load_config
from meanfield.driver import (InsufficientMemory, NonFiniteError, Schedule, Trajectory,
                              make_schedule, replica_keys, schedule_notes, simulate)
from meanfield.dynamics import Game, GameState, box_projection, optimizer
from meanfield.experiment import RunResult, build_system, run
from meanfield.folders import FolderBusy, FolderError, owned
from meanfield.laws import (AtomicMixture, GaussianMixture, Logistic, Rule, StandardGaussian,
                            atomic_mixture, gaussian_mixture)
from meanfield.measure import BlockLaw, init_critic, init_generator
from meanfield.payoff import Expectation, payoff, velocities
from meanfield.readout import critic, generator
from meanfield.results import CheckpointError, ResultError, RunFiles, read_run
from meanfield.system import ParticleSystem
from meanfield.wgan import WGAN, WGANInit, make_wgan

__all__ = [
    "AtomicMixture", "BlockLaw", "CheckpointError", "Config", "ConfigError", "Expectation",
    "FolderBusy", "FolderError", "Game", "GameState", "GaussianMixture", "InsufficientMemory",
    "Logistic", "NonFiniteError", "ResultError", "ParticleSystem", "Rule", "RunFiles",
    "RunResult", "Schedule", "StandardGaussian", "Trajectory", "WGAN", "WGANInit",
    "atomic_mixture", "box_projection", "build_system", "critic", "gaussian_mixture",
    "generator", "init_critic", "init_generator", "load_config", "make_schedule", "make_wgan", "optimizer",
    "owned", "payoff", "read_run", "replica_keys", "run", "schedule_notes", "simulate",
    "velocities",
]
