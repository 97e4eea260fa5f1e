"""From a config to a particle system, a run, and its results folder (the CLI's ``run``).

Particle systems are registered by ``model.kind``; :func:`build_system` is the only place that knows
which class serves which kind, so the driver, configs, results and observables stay generic.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import numpy as np

from meanfield import folders, laws, results
from meanfield.config import Config, ConfigError, dumps
from meanfield.driver import (NonFiniteError, Schedule, Trajectory, make_schedule, replica_keys,
                              schedule_notes, simulate)
from meanfield.measure import BlockLaw
from meanfield.system import ParticleSystem


def latent_law(cfg: Config):
    """λ from ``[latent]``: standard Gaussian or iid logistic on R^L."""
    cls = {"gaussian": laws.StandardGaussian, "logistic": laws.Logistic}[cfg.latent.law]
    return cls(cfg.model.L)


def target_law(cfg: Config):
    """P* from ``[target]``: a Gaussian mixture or an atomic mixture on R^K."""
    t = cfg.target
    if t.law == "gaussian_mixture":
        return laws.gaussian_mixture(t.weights, t.means, t.stds)
    return laws.atomic_mixture(t.weights, t.atoms)


def _build_wgan(cfg: Config) -> ParticleSystem:
    from meanfield.wgan import WGANInit, make_wgan

    m, d, r, i = cfg.model, cfg.dynamics, cfg.run, cfg.init
    return make_wgan(K=m.K, L=m.L, N=m.N, M=m.M, latent=latent_law(cfg), target=target_law(cfg),
                lr=d.lr, n_critic=d.n_critic, clip=d.clip, batch_size=d.batch_size,
                scheme=d.scheme, optimizer=d.optimizer, population=d.population,
                act=m.activation,
                initial=WGANInit(BlockLaw(i.a_mean, i.a_std), BlockLaw(i.b_mean, i.b_std),
                                 BlockLaw(i.c_mean, i.c_std), BlockLaw(i.alpha_mean, i.alpha_std),
                                 BlockLaw(i.beta_mean, i.beta_std),
                                 BlockLaw(i.gamma_mean, i.gamma_std)),
                dtype=r.dtype, quadrature_nodes=r.quadrature_nodes,
                max_quadrature_points=r.max_quadrature_points, n_eval=r.n_eval)


def _build_toy(cfg: Config) -> ParticleSystem:
    from meanfield.toy import ToyGame

    m, t = cfg.model, cfg.toy
    return ToyGame(N=m.N, M=m.M, gamma=t.gamma, clip=t.clip if t.clipped else None,
                   latent=cfg.latent.law, dt=t.dt, integrator=t.integrator, theta0=t.theta0,
                   omega0=t.omega0, theta_spread=t.theta_spread, omega_spread=t.omega_spread,
                   dtype=cfg.run.dtype, sign=t.sign)


def _build_dirac(cfg: Config) -> ParticleSystem:
    from meanfield.dirac import DiracGAN

    d = cfg.dirac
    return DiracGAN(loss=d.loss, scheme=d.scheme, h=d.h,
                    clip=d.clip if d.clipped else None, gp=d.gp, noise=d.noise,
                    consensus=d.consensus, n_critic=d.n_critic, theta0=d.theta0, psi0=d.psi0,
                    dtype=cfg.run.dtype)


#: model.kind -> builder. Other particle systems register here.
BUILDERS: dict[str, Callable[[Config], ParticleSystem]] = {
    "wgan": _build_wgan, "toy": _build_toy, "dirac": _build_dirac}


def build_system(cfg: Config) -> ParticleSystem:
    """The particle system ``cfg.model.kind`` describes.

    Raises:
        ConfigError: when no system is registered for ``model.kind``.
    """
    try:
        builder = BUILDERS[cfg.model.kind]
    except KeyError:
        raise ConfigError(f"model.kind: no particle system {cfg.model.kind!r} in this version; "
                          f"expected one of {', '.join(BUILDERS)}") from None
    return builder(cfg)


def precision(cfg: Config):
    """Context in which ``cfg``'s arrays get their dtype (float64 needs JAX's x64 mode)."""
    return jax.enable_x64(cfg.run.dtype == "float64")


def schedule_for(cfg: Config, system: ParticleSystem) -> Schedule:
    """The run's time grid (:func:`meanfield.driver.make_schedule`).

    Raises:
        ConfigError: when the horizon needs more steps than a run can index.
    """
    r = cfg.run
    try:
        return make_schedule(system.dt, r.T, r.n_records, tuple(r.snapshot_times))
    except ValueError as e:
        raise ConfigError(f"run.T: {e}") from None


def notes_for(cfg: Config, schedule: Schedule) -> list[str]:
    """Where the run's time grid departs from ``cfg.run`` (see :func:`schedule_notes`)."""
    r = cfg.run
    return schedule_notes(schedule, r.T, r.n_records, tuple(r.snapshot_times))


class RunResult(NamedTuple):
    """A finished run: its config, system, trajectory and summary (and folder, if written)."""

    config: Config
    system: ParticleSystem
    trajectory: Trajectory
    summary: dict
    path: Path | None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("meanfield", "jax", "jaxlib", "optax", "flax", "numpy", "scipy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _time_reading(cfg: Config) -> str:
    if cfg.model.kind != "wgan":
        return "t = k·dt, the model's own time step"
    if cfg.dynamics.optimizer == "sgd":
        return "mean-field time t = k·lr/N"
    return "approximate: RMSProp rescales steps, t = k·lr/N is nominal"


def summarize(cfg: Config, system: ParticleSystem, traj: Trajectory, wall: float) -> dict:
    """``summary.json``: final observables (replica mean, and per replica), timing, provenance,
    and ``notes`` on where the time grid departs from the config.

    Raises:
        NonFiniteError: when a final observable is not finite (the driver stops such runs first;
            this guards ``summary.json`` against a silent null).
    """
    final = {}
    for k, v in traj.observables.items():
        last = np.asarray(v[:, -1], float)
        if not np.isfinite(last).all():
            raise NonFiniteError(f"final observable {k!r} is not finite")
        final[k] = last.mean(axis=0)
        final[k + "_replicas"] = last
    s = traj.schedule
    info = {"estimator": getattr(system, "estimator", None),
            "rules": dict(getattr(system, "rule_kinds", ()))}
    # A system may add study-specific entries (collapse time, limit-cycle energy, ...).
    if hasattr(system, "summary"):
        extra = system.summary(traj.t, traj.observables)
        info.update(extra, system_fields=sorted(extra))
    return {
        "final": final, "T": s.T, "dt": s.dt, "steps": s.n_steps, "replicas": cfg.run.replicas,
        "record_every": s.record_every, "n_records": s.n_intervals + 1,
        "compile_seconds": traj.compile_seconds, "run_seconds": traj.run_seconds,
        "wall_seconds": wall, "steps_per_second": s.n_steps / max(traj.run_seconds, 1e-12),
        "device": str(jax.devices()[0]), "versions": versions(),
        "time_reading": _time_reading(cfg), "notes": notes_for(cfg, s),
        **info,
    }


def run(cfg: Config, out: str | Path | None = None, *, progress: Callable[[int, int], None]
        | None = None, figures: bool = True, force: bool = False) -> RunResult:
    """Run ``cfg``; with ``out``, write the results folder (atomically) and resume from a
    checkpoint left by an interrupted run of the same config.

    The folder rules of :mod:`meanfield.folders` apply: ``out`` is checked before anything is
    computed, the run is staged in ``out.partial`` under a lock, and an existing ``out`` is
    replaced only if it is a meanfield run.

    Args:
        cfg: the validated config.
        out: results folder, or None to keep everything in memory.
        progress: called as ``progress(records_done, records_total)`` after every chunk.
        figures: draw ``figures/*.png`` (needs matplotlib).
        force: discard a checkpoint that cannot be resumed (corrupted, or of another config)
            instead of refusing.

    Returns:
        The :class:`RunResult`.

    Raises:
        FolderError: ``out`` (or its staging folder) may not be used, or is in use.
        ConfigError: a value the config checks could not see (e.g. too many steps).
        NonFiniteError: the run diverged (its staging folder is removed).
        InsufficientMemory: the run cannot fit (nothing is left behind).
    """
    if out is not None:
        out = folders.check_target(out, "run")
        partial = folders.check_target(results.partial_dir(out), "run")
    with precision(cfg):
        system = build_system(cfg)
        schedule = schedule_for(cfg, system)
        init_keys, noise_keys = replica_keys(cfg.run.seed, cfg.run.replicas, cfg.run.shared_init)
        text = dumps(cfg)
        if out is None:
            on_chunk = None if progress is None else (lambda done, total, _: progress(done, total))
            t0 = time.perf_counter()
            traj = simulate(system, schedule, init_keys, noise_keys,
                            chunk_records=cfg.run.chunk_records or None, on_chunk=on_chunk)
            summary = summarize(cfg, system, traj, time.perf_counter() - t0)
            return RunResult(cfg, system, traj, summary, None)

        with folders.owned(partial, "run"):
            ckpt = partial / "checkpoint.npz"
            try:
                resume = results.load_checkpoint(ckpt, text)
            except results.CheckpointError as e:
                if not force:
                    raise folders.FolderError(f"{e}; rerun its config to resume it, or pass "
                                              "--force to discard it") from None
                ckpt.unlink()
                resume = None

            def on_chunk(done, total, state):
                results.save_checkpoint(ckpt, state["carry_leaves"], state["observables"],
                                        state["records_done"], text, state["run_seconds"])
                if progress is not None:
                    progress(done, total)

            t0 = time.perf_counter()
            try:
                traj = simulate(system, schedule, init_keys, noise_keys,
                                chunk_records=cfg.run.chunk_records or None, on_chunk=on_chunk,
                                resume=resume)
                summary = summarize(cfg, system, traj, time.perf_counter() - t0)
            except BaseException as e:
                # Nothing half-written: keep the staging folder only for a checkpoint to resume.
                if isinstance(e, NonFiniteError) or not ckpt.exists():
                    _remove_staging(partial)
                raise
            if resume is not None:
                summary["resumed_at_record"] = resume["records_done"]
            results.atomic_write_text(partial / "config.toml", text)
            results.atomic_save_npz(partial / "metrics.npz", results.metrics_arrays(
                traj.t, traj.observables, traj.snapshot_t, traj.snapshots))
            if figures:
                from meanfield import plots

                plots.draw_run(partial, cfg, traj.t, traj.observables, traj.snapshot_t,
                               traj.snapshots)
            results.atomic_write_text(partial / "summary.json", results.dumps_json(summary))
            results.finalize(partial, out, "run")
        return RunResult(cfg, system, traj, summary, out)


def _remove_staging(partial: Path) -> None:
    """Delete a staging folder this process owns (marker checked again: never a user's folder)."""
    import shutil

    if folders.marker_kind(partial) == "run":
        shutil.rmtree(partial, ignore_errors=True)
