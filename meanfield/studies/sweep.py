"""Grids of runs: ``meanfield sweep CONFIG [--out DIR]``, as fast as the hardware allows, resumable.

Sweep config
------------
A sweep config is a run config (every section of :mod:`meanfield.io.config`: the *base* of every
cell) plus one ``[sweep]`` table, which this module reads and strips before the base is validated::

    [sweep]
    study = "plain"        # "plain": run every cell; "coupled": SGD vs population, d_2² (nscaling)
    out = "results/x"      # default output folder (--out wins; else results/<config name>-sweep)
    M_over_N = 1.0         # optional: every cell gets model.M = round(M_over_N * model.N)
    cell_figures = true    # draw each cell's run figures (figures/*.png in its folder)

    [sweep.axes]           # one Cartesian grid: "section.key" = [values]
    "model.N" = [64, 128]
    "dynamics.n_critic" = [1, 2, 4]
    "run.seed" = [0, 1]

Instead of ``[sweep.axes]``, several ``[[sweep.grid]]`` tables (each with an optional ``name`` and
its axes) give a union of grids; a cell that several grids share is run once. An axis absent from a
grid keeps the base value there.

Cells and compiled programs
---------------------------
A *cell* is one setting of every axis. Axes that keep array shapes and the step count (``run.seed``
and the fields the kind declares in ``Kind.vmapped``, for the WGAN ``system.dynamics.n_critic``
and ``system.dynamics.clip``) are vmapped: the cells that differ only in them form one *group*, run
as one compiled program over ``cells × run.replicas`` replicas (stacked systems,
``simulate(..., system_batched=True)``). Every other axis (``system.N``, ``system.dynamics.lr`` —
which changes Δt and the step count — ...) loops on the host, one compile per group. The replica axis is sharded over every visible device
(:mod:`meanfield.core.devices`).

Output
------
``DIR/sweep.toml`` (the resolved sweep: base config and grids), ``DIR/cells/<cell>/`` in the run
layout of :mod:`meanfield.io.results` (``config.toml``, ``metrics.npz``, ``summary.json``, optional
``figures/``), ``DIR/sweep.csv`` (one row per cell: axis values, summary observables, wall time),
``DIR/figures/`` and, for a study, ``DIR/summary.json``.

Resume
------
Each cell folder is built as ``<cell>.partial`` and renamed into place, so a cell is either complete
or absent. Rerunning the same command skips groups whose cells are all complete and recomputes the
others whole (the same program on the same inputs: the same numbers), so a sweep killed at any
point and rerun writes the ``sweep.csv`` of an uninterrupted one (wall-time columns aside: they are
measurements). A sweep whose ``sweep.toml`` differs from the config given raises
:class:`SweepConfigChanged` instead of mixing cells of two configs.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import tomli_w

from meanfield.core import devices, registry
from meanfield.core.driver import Trajectory, replica_keys, simulate_sharded
from meanfield.io import config as C
from meanfield.io import experiment, figures, folders, results

_SWEEP_KEYS = ("study", "out", "M_over_N", "cell_figures", "axes", "grid")


class SweepConfigChanged(C.ConfigError):
    """The output folder holds cells of a different sweep config."""


@dataclass(frozen=True)
class Cell:
    """One point of the sweep.

    Attributes:
        name: folder name under ``DIR/cells``.
        values: axis -> value, for every axis of the sweep.
        config: the validated run config of this cell.
        grids: names of the grids the cell belongs to.
    """

    name: str
    values: dict
    config: C.Config
    grids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep config.

    Attributes:
        base: the raw base run config (nested dicts, ``[sweep]`` and study tables removed).
        grids: ``(name, {axis: values})`` pairs.
        study: ``"plain"`` or ``"coupled"``.
        out: default output folder, or None.
        M_over_N: tie M to N, or None.
        cell_figures: draw each cell's figures.
        extra: top-level tables claimed by the study (e.g. ``[iid]``), unvalidated here.
    """

    base: dict
    grids: tuple[tuple[str, dict], ...]
    study: str = "plain"
    out: str | None = None
    M_over_N: float | None = None
    cell_figures: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def axes(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, g in self.grids:
            seen.update(dict.fromkeys(g))
        return tuple(seen)

    def text(self) -> str:
        """Canonical TOML of everything that determines the cells' numbers."""
        sweep = {"study": self.study, "cell_figures": self.cell_figures,
                 "grid": [{"name": n, **{k: list(v) for k, v in g.items()}} for n, g in self.grids]}
        if self.M_over_N is not None:
            sweep["M_over_N"] = self.M_over_N
        return tomli_w.dumps({"base": C.to_dict(C.from_dict(self.base)), "sweep": sweep})


@dataclass(frozen=True)
class Study:
    """What a sweep does with its cells: ``[sweep] study`` names one.

    Attributes:
        name: the value of ``[sweep] study``.
        run_group: ``(spec, group, out, progress) -> None``: compute one group of cells (cells
            that differ only in vmapped fields) and write each cell folder.
        row: ``(cell, summary) -> dict``: the cell's ``sweep.csv`` columns.
        finish: ``(spec, cells, out, progress) -> dict | None``: figures and the study's summary
            (``DIR/summary.json``), from the cells on disk.
        tables: top-level tables of the config (besides ``[sweep]``) the study reads.
        check: ``spec -> None``: validate those tables before anything is computed.
        report: ``summary -> str``: the study's result in a few lines (for the CLI).
    """

    name: str
    run_group: Callable
    row: Callable
    finish: Callable
    tables: tuple[str, ...] = ()
    check: Callable | None = None
    report: Callable | None = None


STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Make ``study`` available as ``[sweep] study = study.name``."""
    STUDIES[study.name] = study
    return study


def _check_axis(axis: str, values, base: dict) -> tuple:
    parts = axis.split(".")
    if len(parts) < 2 or parts[0] not in C.TABLES:
        raise C.ConfigError(f"sweep axis {axis!r}: expected table.key with table one of "
                            f"{', '.join(C.TABLES)}")
    try:
        current = C.get_path(base, parts)
    except KeyError:
        raise C.ConfigError(f"sweep axis {axis!r}: unknown key of the base config") from None
    if isinstance(current, dict):
        raise C.ConfigError(f"sweep axis {axis!r}: is a table, not a value")
    if not isinstance(values, list) or not values:
        raise C.ConfigError(f"sweep axis {axis!r}: expected a non-empty list of values")
    if len(set(map(repr, values))) != len(values):
        raise C.ConfigError(f"sweep axis {axis!r}: repeated values")
    return tuple(values)


def from_dict(raw: dict, overrides: list[str] = ()) -> SweepSpec:
    """Split a parsed sweep config into its base run config and its sweep; validate both.

    Raises:
        ConfigError: naming the bad key (sweep keys are named ``sweep.<key>``).
    """
    raw = copy.deepcopy(raw)
    sweep = raw.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise C.ConfigError("sweep: a sweep config needs a [sweep] table")
    unknown = sorted(set(sweep) - set(_SWEEP_KEYS))
    if unknown:
        raise C.ConfigError(f"sweep.{unknown[0]}: unknown key; expected one of "
                            f"{', '.join(_SWEEP_KEYS)}")
    study = sweep.get("study", "plain")
    if study not in STUDIES:
        raise C.ConfigError(f"sweep.study: expected one of {', '.join(STUDIES)}, got {study!r}")
    extra = {k: raw.pop(k) for k in STUDIES[study].tables if k in raw}
    raw = C.apply_overrides(raw, list(overrides))
    if "axes" in sweep and "grid" in sweep:
        raise C.ConfigError("sweep.grid: give either [sweep.axes] or [[sweep.grid]], not both")
    tables = [dict(sweep["axes"])] if "axes" in sweep else [dict(g) for g in sweep.get("grid", [])]
    if not tables:
        raise C.ConfigError("sweep.axes: no axes given")
    base = C.to_dict(C.from_dict(raw))
    grids = []
    for i, g in enumerate(tables):
        name = str(g.pop("name", f"grid{i}"))
        grids.append((name, {a: _check_axis(a, v, base) for a, v in g.items()}))
    ratio = sweep.get("M_over_N")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0:
            raise C.ConfigError(f"sweep.M_over_N: expected a number > 0, got {ratio!r}")
        if not {"N", "M"} <= set(base["system"]):
            raise C.ConfigError(f"sweep.M_over_N: a {base['system']['kind']} system has no N and M")
        if any("system.M" in g for _, g in grids):
            raise C.ConfigError("sweep.M_over_N: cannot tie system.M to N and sweep it too")
        ratio = float(ratio)
    spec = SweepSpec(base=raw, grids=tuple(grids), study=study, out=sweep.get("out"),
                     M_over_N=ratio, cell_figures=bool(sweep.get("cell_figures", True)),
                     extra=extra)
    cells(spec)  # validates every cell's config
    if STUDIES[study].check is not None:
        STUDIES[study].check(spec)
    return spec


def load(path: str | Path, overrides: list[str] = ()) -> SweepSpec:
    """Read a sweep config file (``--set`` overrides apply to the base run config)."""
    return from_dict(C.read_toml(path), overrides)


def _short(axis: str, axes: tuple[str, ...]) -> str:
    key = axis.split(".")[-1]
    return key if sum(a.split(".")[-1] == key for a in axes) == 1 else axis


def _cell_config(spec: SweepSpec, values: dict) -> C.Config:
    raw = copy.deepcopy(spec.base)
    for axis, v in values.items():
        C.set_path(raw, axis.split("."), v)
    if spec.M_over_N is not None:
        n = C.to_dict(C.from_dict(raw))["system"]["N"]
        raw["system"]["M"] = max(1, round(spec.M_over_N * n))
    try:
        return C.from_dict(raw)
    except C.ConfigError as e:
        raise C.ConfigError(f"sweep cell {values}: {e}") from None


def cells(spec: SweepSpec) -> list[Cell]:
    """Every cell of the sweep, in grid order, each once."""
    axes = spec.axes
    base = C.to_dict(C.from_dict(spec.base))
    out: dict[str, Cell] = {}
    for gname, g in spec.grids:
        for combo in itertools.product(*g.values()):
            values = {a: C.get_path(base, a.split(".")) for a in axes}
            values.update(zip(g, combo))
            name = "_".join(f"{_short(a, axes)}={values[a]}" for a in axes)
            if name in out:
                out[name] = replace(out[name], grids=out[name].grids + (gname,))
            else:
                out[name] = Cell(name, values, _cell_config(spec, values), (gname,))
    return list(out.values())


def vmapped(kind: str) -> tuple[str, ...]:
    """The axes a sweep of ``kind`` vmaps: the kind's ``vmapped`` fields and ``run.seed``; none
    for a kind that declares none (its systems are not stacked)."""
    fields = registry.get(kind).vmapped
    return tuple(f"system.{f}" for f in fields) + ("run.seed",) if fields else ()


def group_key(cfg: C.Config) -> str:
    """Cells with equal keys differ only in vmapped fields: one compiled program."""
    d = C.to_dict(cfg)
    for axis in vmapped(cfg.kind):
        C.set_path(d, axis.split("."), None)
    return repr(d)


def groups(cell_list: list[Cell]) -> list[list[Cell]]:
    out: dict[str, list[Cell]] = {}
    for c in cell_list:
        out.setdefault(group_key(c.config), []).append(c)
    return list(out.values())


# -- running a group of cells ------------------------------------------------------------------

def stack(trees: list) -> Any:
    """Stack pytrees with equal structure along a new leading axis (on the host: eager device
    ops would compile one small program per leaf shape)."""
    return jax.tree.map(lambda *x: np.stack([np.asarray(a) for a in x]), *trees)


class GroupRun(NamedTuple):
    """A group run: the trajectory over ``cells × R`` replicas, the systems and initial states.

    Attributes:
        trajectory: replicas ordered cell-major (cell c holds ``[c*R, (c+1)*R)``).
        systems: one system per cell (unbatched).
        initial: initial states ``[cells*R, ...]``.
        seconds: wall time of the whole group run.
    """

    trajectory: Trajectory
    systems: list
    initial: Any
    seconds: float


def simulate_cells(configs: list[C.Config], **kw) -> GroupRun:
    """:func:`run_cells` in the configs' precision (``run.dtype``; float64 needs x64)."""
    with experiment.precision(configs[0]):
        return run_cells(configs, **kw)


def run_cells(configs: list[C.Config], *, replicas: int | None = None, initial_state=None,
                    on_chunk: Callable | None = None,
                    build: Callable[[C.Config], Any] | None = None) -> GroupRun:
    """Run cells that differ only in vmapped fields as one compiled, replica-sharded program.

    Args:
        configs: the cells' configs (same shapes and step count).
        replicas: replicas per cell (default ``run.replicas``).
        initial_state: states ``[cells*replicas, ...]`` to start from (default each system's init
            from ``replica_keys(run.seed, replicas, run.shared_init)``).
        on_chunk: ``simulate``'s progress callback.
        build: config -> system (default :func:`meanfield.io.experiment.build_system`).

    Returns:
        The :class:`GroupRun` (padding for the device count removed).
    """
    build = build or experiment.build_system
    R = replicas or configs[0].run.replicas
    systems = [build(c) for c in configs]
    t0 = time.perf_counter()
    keys = [replica_keys(c.run.seed, R, c.run.shared_init) for c in configs]
    init_keys = jnp.concatenate([k[0] for k in keys])
    noise_keys = jnp.concatenate([k[1] for k in keys])
    # A pytree system is stacked over cells × replicas; any other is one cell, shared by all.
    batchable = jax.tree.leaves(systems[0]) != [systems[0]]
    if not batchable and len(systems) > 1:
        raise ValueError("systems that are not pytrees run one cell per group (see group_key)")
    batched = stack([s for s in systems for _ in range(R)]) if batchable else systems[0]
    if initial_state is None:
        init = (jax.vmap(lambda s, k: s.init(k)) if batchable
                else jax.vmap(lambda k: batched.init(k)))
        initial_state = (jax.jit(init)(batched, init_keys) if batchable
                         else jax.jit(init)(init_keys))
    # The driver donates its carry, so keep a host copy of the initial states for the caller.
    initial_state = jax.tree.map(np.asarray, initial_state)
    schedule = experiment.schedule_for(configs[0], systems[0])
    traj = simulate_sharded(batched, schedule, init_keys, noise_keys, system_batched=batchable,
                            initial_state=initial_state,
                            chunk_records=configs[0].run.chunk_records or None, on_chunk=on_chunk)
    return GroupRun(traj, systems, initial_state, time.perf_counter() - t0)


def cell_slice(traj: Trajectory, c: int, R: int) -> Trajectory:
    """The replicas of cell ``c`` in a group trajectory."""
    sl = slice(c * R, (c + 1) * R)
    pick = lambda tree: jax.tree.map(lambda x: x[sl], tree)  # noqa: E731
    return traj._replace(observables=pick(traj.observables), snapshots=pick(traj.snapshots),
                         final_state=pick(traj.final_state))


def write_cell(path: Path, cfg: C.Config, arrays: dict[str, np.ndarray], summary: dict,
               draw: Callable[[Path], None] | None = None) -> None:
    """Write one cell folder atomically (``<cell>.partial`` renamed into place)."""
    partial = results.partial_dir(path)
    # Cells live inside the sweep's own (owned, locked) folder: their leftovers are ours to delete.
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    folders.write_marker(partial, "run")
    results.atomic_write_text(partial / "config.toml", C.dumps(cfg))
    results.atomic_save_npz(partial / "metrics.npz", arrays)
    if draw is not None:
        draw(partial)
    results.atomic_write_text(partial / "summary.json", results.dumps_json(summary))
    folders.finalize(partial, path)


def _plain_group(spec: SweepSpec, group: list[Cell], out: Path, progress) -> None:
    cfgs = [c.config for c in group]
    R = cfgs[0].run.replicas
    run = simulate_cells(cfgs, on_chunk=progress.chunk)
    for i, cell in enumerate(group):
        traj = cell_slice(run.trajectory, i, R)
        summary = experiment.summarize(cell.config, run.systems[i], traj, run.seconds / len(group))
        summary.update(cell=cell.name, axes=cell.values, group_cells=len(group),
                       group_seconds=run.seconds, devices=devices.device_count())
        arrays = results.metrics_arrays(traj.t, traj.observables, traj.snapshot_t,
                                        traj.snapshots)

        def draw(path, cfg=cell.config, traj=traj):
            figures.draw_run(path, cfg, traj.t, traj.observables, traj.snapshot_t, traj.snapshots)

        write_cell(out / "cells" / cell.name, cell.config, arrays, summary,
                   draw if spec.cell_figures else None)


def _scalar(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def plain_row(cell: Cell, summary: dict) -> dict:
    """The ``sweep.csv`` columns of a plain cell: final scalar observables (replica means)."""
    row = {}
    for k, v in sorted(summary["final"].items()):
        if not k.endswith("_replicas") and _scalar(v) is not None:
            row[k] = _scalar(v)
    # Entries the particle system adds (collapse time, limit-cycle energy, ...), where scalar.
    for k in summary.get("system_fields", []):
        v = summary[k]
        if v is None or _scalar(v) is not None:
            row[k] = None if v is None else _scalar(v)
    row["wall_seconds"] = summary["wall_seconds"]
    return row


# -- the sweep ---------------------------------------------------------------------------------

class Progress:
    """Callbacks the sweep reports through (the CLI draws them; the library never prints).

    ``cells(done, total)`` after each group, ``chunk(done, total, checkpoint)`` within a run
    (``simulate``'s ``on_chunk`` signature), ``stage(text)`` when a group starts a new stage.
    """

    def cells(self, done: int, total: int) -> None: ...

    def chunk(self, done: int, total: int, checkpoint=None) -> None: ...

    def stage(self, text: str) -> None: ...


def finished(path: Path, cfg: C.Config) -> bool:
    """Whether ``path`` holds a complete cell of exactly ``cfg``."""
    return ((path / "summary.json").exists() and (path / "config.toml").exists()
            and (path / "config.toml").read_text() == C.dumps(cfg))


def _changed(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted paths of the values that differ between two nested tables."""
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _changed(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}")
    return out


def check_folder(spec: SweepSpec, out: Path) -> None:
    """Refuse to write into a folder that holds a different sweep.

    Raises:
        SweepConfigChanged: naming what changed.
    """
    saved = out / "sweep.toml"
    if not saved.exists():
        stray = [p.name for p in (out / "cells").glob("*") if not p.name.endswith(".partial")] \
            if (out / "cells").exists() else []
        if stray:
            raise SweepConfigChanged(f"{out}: holds cells but no sweep.toml; choose another --out")
        return
    old, new = tomllib.loads(saved.read_text()), tomllib.loads(spec.text())
    if old == new:
        return
    diffs = [path if part == "base" else f"sweep.{path}"
             for part in ("base", "sweep") for path in _changed(old.get(part, {}),
                                                                 new.get(part, {}))]
    raise SweepConfigChanged(
        f"{out}: its cells were written by a different sweep config (changed: "
        f"{', '.join(diffs)}); refusing to mix them: choose another --out or pass --force")


def run_sweep(spec: SweepSpec, out: str | Path, *, progress: Progress | None = None,
              force: bool = False) -> dict:
    """Run every unfinished cell of ``spec`` into ``out``, then write ``sweep.csv`` and figures.

    Args:
        spec: from :func:`load`.
        out: output folder.
        progress: a :class:`Progress` (optional).
        force: empty ``out`` first (a fresh sweep); only a meanfield sweep folder is emptied.

    Returns:
        ``{"cells": n, "computed": n_computed, "groups": ..., "seconds": wall, "summary": study
        summary or None, "csv": path}``.

    Raises:
        SweepConfigChanged: when ``out`` holds a different sweep.
        FolderError: when ``out`` may not be used (not a meanfield sweep, or in use).
    """
    progress = progress or Progress()
    if not devices.is_writer():
        return _follow(spec, Path(out), progress, force)
    out = folders.check_target(out, "sweep")
    with folders.owned(out, "sweep"):
        if force:
            folders.clear(out, "sweep")
        check_folder(spec, out)
        results.atomic_write_text(out / "sweep.toml", spec.text())
        return _run_cells(spec, out, progress)


def _follow(spec: SweepSpec, out: Path, progress: Progress, force: bool) -> dict:
    """A process other than the writer in a multi-process sweep: it computes its share of every
    group the writer computes (the writer decides which, :func:`_run_cells`) and writes its copy
    of the cells to a scratch folder that is deleted at the end."""
    with tempfile.TemporaryDirectory(prefix="meanfield-follower-") as scratch:
        return _run_cells(spec, Path(scratch), progress, read_from=None if force else out)


def _run_cells(spec: SweepSpec, out: Path, progress: Progress,
               read_from: Path | None = None) -> dict:
    """The body of :func:`run_sweep`, inside the owned and locked folder ``out``.

    In a multi-process sweep every process runs this loop: the writer (process 0) decides which
    groups are unfinished in ``out`` and the others follow its decision (they write to a scratch
    ``out``; ``read_from`` is the real folder), so that all take part in the same computations.
    Only the writer writes the table and the study's summary.
    """
    cell_list = cells(spec)
    t0 = time.perf_counter()
    done = computed = 0
    progress.cells(0, len(cell_list))
    study = STUDIES[spec.study]
    where = out if read_from is None else read_from
    for group in groups(cell_list):
        todo = [c for c in group if not finished(where / "cells" / c.name, c.config)]
        if devices.broadcast(np.asarray(bool(todo))):
            progress.stage(f"{len(group)} cell(s): " + ", ".join(c.name for c in group))
            # The whole group is recomputed so its numbers do not depend on what survived a kill.
            study.run_group(spec, group, out, progress)
            computed += len(group)
        done += len(group)
        progress.cells(done, len(cell_list))
    if not devices.is_writer():
        return {"cells": len(cell_list), "computed": computed, "groups": len(groups(cell_list)),
                "seconds": time.perf_counter() - t0, "summary": None, "csv": None}
    write_csv(spec, cell_list, out)
    summary = study.finish(spec, cell_list, out, progress)
    return {"cells": len(cell_list), "computed": computed, "groups": len(groups(cell_list)),
            "seconds": time.perf_counter() - t0, "summary": summary, "csv": out / "sweep.csv"}


def read_cells(cell_list: list[Cell], out: Path) -> list[results.RunFiles]:
    return [results.read_run(out / "cells" / c.name) for c in cell_list]


def csv_rows(spec: SweepSpec, cell_list: list[Cell], out: Path) -> list[dict]:
    """One dict per cell: its name, axis values and the study's summary columns."""
    row_of = STUDIES[spec.study].row
    rows = []
    for cell in cell_list:
        summary = results.read_run(out / "cells" / cell.name).summary
        rows.append({"cell": cell.name, **cell.values, **row_of(cell, summary)})
    return rows


def write_csv(spec: SweepSpec, cell_list: list[Cell], out: Path) -> None:
    rows = csv_rows(spec, cell_list, out)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in r.items()})
    results.atomic_write_text(out / "sweep.csv", buf.getvalue())


def read_csv(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def draw_figures(spec: SweepSpec, cell_list: list[Cell], out: Path) -> list[Path]:
    """For every axis with several values: each of the kind's headline observables at T against
    it, one line per setting of the other axes (replica mean ± standard error)."""
    runs = {c.name: results.read_run(out / "cells" / c.name) for c in cell_list}
    figs = []
    (out / "figures").mkdir(exist_ok=True)
    names = [k for k in registry.get(cell_list[0].config.kind).headline
             if k in runs[cell_list[0].name].metrics]
    for axis in spec.axes:
        if len({repr(c.values[axis]) for c in cell_list}) < 2 or not names:
            continue
        fig, axs = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
        lines: dict[tuple, list] = {}
        for c in cell_list:
            rest = tuple((a, c.values[a]) for a in spec.axes if a != axis)
            lines.setdefault(rest, []).append(c)
        for ax, name in zip(axs[0], names):
            for rest, cs in lines.items():
                cs = sorted(cs, key=lambda c: c.values[axis])
                x = [c.values[axis] for c in cs]
                v = [runs[c.name].metrics[name][:, -1] for c in cs]
                m = [np.mean(a) for a in v]
                se = [np.std(a, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0 for a in v]
                ax.errorbar(x, m, yerr=se, marker="o", capsize=2,
                            label=", ".join(f"{_short(a, spec.axes)}={val}" for a, val in rest))
            ax.set_xlabel(axis)
            ax.set_title(f"{name} at t = T")
            if all(isinstance(c.values[axis], (int, float)) and c.values[axis] > 0
                   for c in cell_list):
                ax.set_xscale("log")
        if 1 < len(lines) <= 8:  # one line (a single axis) has no other axes to label
            axs[0][-1].legend(fontsize=7)
        fig.tight_layout()
        path = out / "figures" / f"sweep_{axis.replace('.', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        figs.append(path)
    return figs


def _plain_finish(spec: SweepSpec, cell_list: list[Cell], out: Path, progress) -> None:
    draw_figures(spec, cell_list, out)


register_study(Study("plain", run_group=_plain_group, row=plain_row, finish=_plain_finish))
