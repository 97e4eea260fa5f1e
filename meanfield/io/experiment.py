"""From a config to a particle system, a run, and its results folder (the CLI's ``run``).

The system is built by the kind ``[system] kind`` names (:mod:`meanfield.core.registry`), so this
module, the driver, configs, results and figures stay generic.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import time
import tomllib
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import numpy as np

from meanfield.core import devices, registry
from meanfield.io import figures, folders, results
from meanfield.io.config import Config, ConfigError, convert, dumps, from_dict, old_sections
from meanfield.core.driver import (NonFiniteError, Schedule, Trajectory, make_schedule, replica_keys,
                              schedule_notes, simulate_sharded)
from meanfield.core.system import ParticleSystem


def build_system(cfg: Config) -> ParticleSystem:
    """The particle system ``cfg.system`` describes, built by its registered kind.

    Raises:
        ConfigError: when the kind's builder rejects a value the config checks could not see.
    """
    try:
        return registry.get(cfg.kind).build(cfg.system, cfg.run)
    except ValueError as e:
        raise ConfigError(f"system: {e}") from None


def precision(cfg: Config):
    """Context in which ``cfg``'s arrays get their dtype (float64 needs JAX's x64 mode)."""
    return jax.enable_x64(cfg.run.dtype == "float64")


def schedule_for(cfg: Config, system: ParticleSystem) -> Schedule:
    """The run's time grid (:func:`meanfield.core.driver.make_schedule`).

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
    for pkg in ("meanfield", "jax", "jaxlib", "optax", "numpy", "scipy", "matplotlib"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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
    # The kind may add its own entries (collapse time, limit-cycle energy, ...).
    kind = registry.get(cfg.kind)
    if kind.summary is not None:
        extra = kind.summary(system, traj.t, traj.observables)
        info.update(extra, system_fields=sorted(extra))
    return {
        "final": final, "T": s.T, "dt": s.dt, "steps": s.n_steps, "replicas": cfg.run.replicas,
        "record_every": s.record_every, "n_records": s.n_intervals + 1,
        "compile_seconds": traj.compile_seconds, "run_seconds": traj.run_seconds,
        "wall_seconds": wall, "steps_per_second": s.n_steps / max(traj.run_seconds, 1e-12),
        "device": str(jax.devices()[0]), "versions": versions(),
        "time_reading": registry.get(cfg.kind).time_reading(cfg.system), "notes": notes_for(cfg, s),
        **info,
    }


def run(cfg: Config, out: str | Path | None = None, *, progress: Callable[[int, int], None]
        | None = None, draw: bool = True, force: bool = False) -> RunResult:
    """Run ``cfg``; with ``out``, write the results folder (atomically) and resume from a
    checkpoint left by an interrupted run of the same config.

    The folder rules of :mod:`meanfield.io.folders` apply: ``out`` is checked before anything is
    computed, the run is staged in ``out.partial`` under a lock, and an existing ``out`` is
    replaced only if it is a meanfield run.

    Args:
        cfg: the validated config.
        out: results folder, or None to keep everything in memory.
        progress: called as ``progress(records_done, records_total)`` after every chunk.
        draw: draw ``figures/*.png``.
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
    if out is not None and not devices.is_writer():
        return _follow(cfg, Path(out), progress)
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
            traj = simulate_sharded(system, schedule, init_keys, noise_keys,
                                    chunk_records=cfg.run.chunk_records or None,
                                    on_chunk=on_chunk)
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
            # Processes that follow the writer resume from the same checkpoint (_follow).
            devices.broadcast(np.asarray(-1 if resume is None else resume["records_done"]))

            def on_chunk(done, total, state):
                results.save_checkpoint(ckpt, state["carry_leaves"], state["observables"],
                                        state["records_done"], text, state["run_seconds"])
                if progress is not None:
                    progress(done, total)

            t0 = time.perf_counter()
            try:
                traj = simulate_sharded(system, schedule, init_keys, noise_keys,
                                        chunk_records=cfg.run.chunk_records or None,
                                        on_chunk=on_chunk, resume=resume)
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
            if draw:
                figures.draw_run(partial, cfg, traj.t, traj.observables, traj.snapshot_t,
                                 traj.snapshots)
            results.atomic_write_text(partial / "summary.json", results.dumps_json(summary))
            folders.finalize(partial, out, "run")
        return RunResult(cfg, system, traj, summary, out)


def _follow(cfg: Config, out: Path, progress: Callable[[int, int], None] | None) -> RunResult:
    """A process other than the writer in a multi-process run: it steps its share of the
    replicas, resuming from the writer's checkpoint (read, never written), and writes nothing."""
    with precision(cfg):
        system = build_system(cfg)
        schedule = schedule_for(cfg, system)
        init_keys, noise_keys = replica_keys(cfg.run.seed, cfg.run.replicas, cfg.run.shared_init)
        try:
            resume = results.load_checkpoint(results.partial_dir(out) / "checkpoint.npz",
                                              dumps(cfg))
        except results.CheckpointError:
            resume = None
        mine = -1 if resume is None else resume["records_done"]
        if int(devices.broadcast(np.asarray(mine))) != mine:
            raise folders.FolderError(f"{out}: process {jax.process_index()} does not see the "
                                      "writer's checkpoint; the processes need one shared "
                                      "filesystem")
        on_chunk = None if progress is None else (lambda done, total, _: progress(done, total))
        t0 = time.perf_counter()
        traj = simulate_sharded(system, schedule, init_keys, noise_keys,
                                chunk_records=cfg.run.chunk_records or None, on_chunk=on_chunk,
                                resume=resume)
        return RunResult(cfg, system, traj, summarize(cfg, system, traj,
                                                      time.perf_counter() - t0), None)


def _remove_staging(partial: Path) -> None:
    """Delete a staging folder this process owns (marker checked again: never a user's folder)."""
    if folders.marker_kind(partial) == "run":
        shutil.rmtree(partial, ignore_errors=True)


def read_config(text: str) -> Config:
    """The :class:`Config` of a saved ``config.toml`` (one of the layout before ``[system]`` is
    converted).

    Raises:
        ConfigError: when the text is not a valid config.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML ({e})") from None
    return from_dict(convert(raw) if any(k in raw for k in old_sections()) else raw)


def redraw(path: str | Path) -> list[Path]:
    """Redraw a finished run's figures from its saved files; returns the figure paths.

    Raises:
        FileNotFoundError: when ``path`` is not a finished run.
        ResultError: when one of its files cannot be read.
    """
    run = results.read_run(path)
    try:
        cfg = read_config(run.config_text)
    except ConfigError as e:
        raise results.ResultError(f"{run.path / 'config.toml'}: not a valid run config ({e})") \
            from None
    m = run.metrics
    p = results.SNAPSHOT_PREFIX
    observables = {k: v for k, v in m.items() if k not in ("t", "snapshot_t")
                   and not k.startswith(p)}
    snapshots = {k[len(p):]: v for k, v in m.items() if k.startswith(p)}
    with precision(cfg):
        figures.draw_run(run.path, cfg, m["t"], observables, m["snapshot_t"], snapshots)
    return sorted((run.path / "figures").glob("*.png"))
