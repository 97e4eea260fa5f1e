"""meanfield: GAN training and gradient flows as mean-field particle dynamics (docs/model.md).

Quick use::

    import meanfield as mf
    cfg = mf.load_config("configs/quickstart.toml", ["system.N=128"])
    result = mf.run(cfg, "results/quick")          # or out=None to stay in memory
    w1 = result.trajectory.observables["w1"]       # [R, n_records]
    back = mf.read_run("results/quick")            # the saved folder, read back
"""

from meanfield.core import xla

xla.apply()  # before JAX starts its CPU backend (see meanfield/core/xla.py); imports below follow

from meanfield import systems  # noqa: E402,F401  (registers the system kinds)
from meanfield.core.driver import (InsufficientMemory, NonFiniteError, Schedule,  # noqa: E402
                                   Trajectory, make_schedule, replica_keys, schedule_notes,
                                   simulate)
from meanfield.core.registry import Kind, register  # noqa: E402
from meanfield.core.system import ParticleSystem  # noqa: E402
from meanfield.io.config import Config, ConfigError  # noqa: E402
from meanfield.io.config import load as load_config  # noqa: E402
from meanfield.io.experiment import RunResult, build_system, redraw, run  # noqa: E402
from meanfield.io.folders import FolderBusy, FolderError, owned  # noqa: E402
from meanfield.io.results import CheckpointError, ResultError, RunFiles, read_run  # noqa: E402
from meanfield.measures.expectation import Expectation  # noqa: E402
from meanfield.measures.kernels import Kernel, kernel_sums  # noqa: E402
from meanfield.measures.laws import (AtomicMixture, GaussianMixture, Logistic, Rule,  # noqa: E402
                                     StandardGaussian, atomic_mixture, gaussian_mixture)
from meanfield.networks.initial import BlockLaw, init_critic, init_generator  # noqa: E402
from meanfield.measures.sphere import UniformSphere  # noqa: E402
from meanfield.metrics.divergences import jsd, jsd_kde  # noqa: E402
from meanfield.metrics.marginals import cdf_distance, tstr_f1  # noqa: E402
from meanfield.networks.readout import critic, generator  # noqa: E402
from meanfield.networks.smirnov import SmirnovLayer, smirnov_layer  # noqa: E402
from meanfield.schemes.descent_ascent import (DescentAscent, DescentAscentState,  # noqa: E402
                                              Player, zero_sum)
from meanfield.schemes.gradient_flow import FlowState, GradientFlow  # noqa: E402
from meanfield.schemes.optimizers import box_projection, optimizer  # noqa: E402
from meanfield.systems.dirac.gan import DiracGAN  # noqa: E402
from meanfield.systems.gan.system import LogLossGAN, make_gan  # noqa: E402
from meanfield.systems.kernel_flows.system import ParticleFlow, make_flow  # noqa: E402
from meanfield.systems.regression.system import Regression, make_regression  # noqa: E402
from meanfield.systems.toy.game import ToyGame  # noqa: E402
from meanfield.systems.wgan.payoff import payoff, velocities  # noqa: E402
from meanfield.systems.wgan.system import WGAN, WGANInit, make_wgan  # noqa: E402

__all__ = [
    "AtomicMixture", "BlockLaw", "CheckpointError", "Config", "ConfigError", "DescentAscent",
    "DescentAscentState", "DiracGAN", "Expectation", "FlowState", "FolderBusy", "FolderError",
    "GaussianMixture", "GradientFlow", "InsufficientMemory", "Kernel", "Kind", "Logistic",
    "LogLossGAN", "NonFiniteError", "ParticleFlow", "ParticleSystem", "Player", "Regression",
    "ResultError", "Rule", "RunFiles", "RunResult", "Schedule", "SmirnovLayer",
    "StandardGaussian", "ToyGame", "Trajectory", "UniformSphere", "WGAN", "WGANInit",
    "atomic_mixture", "box_projection", "build_system", "cdf_distance", "critic",
    "gaussian_mixture", "generator", "init_critic", "init_generator", "jsd", "jsd_kde",
    "kernel_sums", "load_config", "make_flow", "make_gan", "make_regression", "make_schedule",
    "make_wgan", "optimizer", "owned", "payoff", "read_run", "redraw", "register",
    "replica_keys", "run", "schedule_notes", "simulate", "smirnov_layer", "tstr_f1",
    "velocities", "zero_sum",
]
