"""The ``meanfield`` command line: ``run``, ``plot``, ``config``, ``sweep``, ``bench``.

The library never prints; this module reports. Exit status: 0 done, 2 bad input (one line on
stderr naming the key, file or folder; nothing is written), 3 the run diverged (non-finite
particles or observables, naming the steps; nothing is written), 130 interrupted (Ctrl-C) and 143
terminated (SIGTERM): the last checkpoint is kept and the same command resumes from it.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable

import jax
import tomli_w
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from meanfield.core import devices, registry
from meanfield.core.driver import InsufficientMemory, NonFiniteError
from meanfield.io import config as C
from meanfield.io import experiment, folders
from meanfield.io.results import ResultError, partial_dir
from meanfield.studies import bench
from meanfield.studies import sweep as sweeps


def fail(msg: str, code: int = 2):
    """One line on stderr and exit ``code`` (2: bad input)."""
    print(f"meanfield: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit 2 (``meanfield CMD --help`` shows the usage)."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


class Terminated(BaseException):
    """SIGTERM (a scheduler's stop) turned into an exception, so checkpoints and locks unwind."""


def _on_sigterm(signum, frame):
    raise Terminated()


@contextmanager
def stoppable(resume_hint: Callable[[], str]):
    """Turn Ctrl-C and SIGTERM into one line on stderr and exit 130 / 143.

    ``resume_hint()`` is called at the stop and says where the checkpoint is and how to resume.
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        print(f"\ninterrupted: {resume_hint()}", file=sys.stderr)
        raise SystemExit(130) from None
    except Terminated:
        print(f"\nterminated: {resume_hint()}", file=sys.stderr)
        raise SystemExit(143) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def study_folder(out: str | Path):
    """The owned ``study`` folder of an ``experiments/`` script, locked while the script writes it.

    A folder meanfield did not create, or one in use, ends the script with one line and exit 2
    before anything is computed (:mod:`meanfield.io.folders`).
    """
    with ExitStack() as stack:
        try:
            folder = stack.enter_context(folders.owned(folders.check_target(out, "study"),
                                                       "study"))
        except folders.FolderError as e:
            fail(str(e))
        with stoppable(lambda: f"{out} is partly written; rerun the same command to redo it"):
            yield folder


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input (exit 2): configs, folders, checkpoints, sizes."""
    return C.ConfigError, folders.FolderError, ResultError, InsufficientMemory


@contextmanager
def progress_bar(description: str):
    """A rich progress bar on stderr; yields ``update(done, total)``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def default_out(config_path: str | None) -> Path:
    return Path("results") / (Path(config_path).stem if config_path else "default")


def start_processes(args) -> None:
    """``--distributed`` and its coordinates: start jax.distributed before anything else."""
    coords = (args.coordinator, args.num_processes, args.process_id)
    if any(c is not None for c in coords) and None in coords:
        fail("--coordinator, --num-processes and --process-id go together (or none of them, to "
             "read the cluster's environment)")
    enabled = True if (args.distributed or args.coordinator) else None
    try:
        devices.initialize(enabled, *coords)
    except (RuntimeError, ValueError) as e:
        fail(f"--distributed: could not start the processes' runtime: {str(e).splitlines()[0]}")


def add_process_arguments(p) -> None:
    p.add_argument("--distributed", action="store_true",
                   help="several processes (hosts): start jax.distributed; replicas and sweep "
                        "cells are split over every process's devices, process 0 writes (or "
                        "MEANFIELD_DISTRIBUTED=1; coordinates from the cluster's environment "
                        "unless given below)")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    p.add_argument("--num-processes", type=int, metavar="P", help="number of processes")
    p.add_argument("--process-id", type=int, metavar="I", help="this process's id, 0..P-1")


def followers_note(out) -> None:
    print(f"process {jax.process_index()} of {jax.process_count()}: done; process 0 wrote {out}")


def cmd_run(args) -> int:
    start_processes(args)
    try:
        cfg = C.load(args.config, args.set or [])
        out = folders.check_target(args.out if args.out else default_out(args.config), "run")
        if (out / "summary.json").exists() and not args.force:
            if (out / "config.toml").read_text() == C.dumps(cfg):
                print(f"{out}: already complete for this config (use --force to recompute)")
                return 0
            fail(f"{out} holds a run of a different config; choose another --out or pass --force")
    except bad_input_errors() as e:
        fail(str(e))
    done = [0, 0]

    def hint() -> str:
        if not (partial_dir(out) / "checkpoint.npz").exists():
            return "nothing to resume (stopped before the first checkpoint)"
        return (f"checkpoint at record {done[0]} of {done[1]} in {partial_dir(out)}; rerun the "
                "same command to resume")

    with stoppable(hint):
        try:
            with progress_bar(f"run {out.name}") as update:
                def report(d, total):
                    done[:] = [d, total]
                    update(d, total)

                result = experiment.run(cfg, out, progress=report, force=args.force)
        except bad_input_errors() as e:
            fail(str(e))
        except NonFiniteError as e:
            fail(str(e), code=3)
    if not devices.is_writer():
        followers_note(out)
        return 0
    s = result.summary
    for note in s.get("notes", []):
        print(f"note: {note}")
    finals = ", ".join(f"{k} = {s['final'][k]:.4g}" for k in registry.get(cfg.kind).headline
                       if k in s["final"])
    print(f"{out}: {s['steps']} steps to T = {s['T']:.4g} x {s['replicas']} replicas in "
          f"{s['wall_seconds']:.1f} s (compile {s['compile_seconds']:.1f} s, "
          f"{s['steps_per_second']:.0f} steps/s); {finals}")
    for fig in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {fig}")
    return 0


def cmd_plot(args) -> int:
    try:
        figs = experiment.redraw(args.dir)
    except (FileNotFoundError, *bad_input_errors()) as e:
        fail(str(e))
    for f in figs:
        print(f"figure: {f}")
    return 0


def cmd_config(args) -> int:
    if args.convert:
        if args.config is None:
            fail("config --convert: name the config file to convert")
        try:
            raw = C.convert(C.read_toml(args.config))
            extra = {k: v for k, v in raw.items() if k not in C.TABLES}
            text = C.dumps(C.from_dict(C.apply_overrides(
                {k: raw[k] for k in C.TABLES}, args.set or [])))
            if extra:  # a sweep's or study's own tables pass through unchanged
                text += "\n" + tomli_w.dumps(extra)
        except C.ConfigError as e:
            fail(str(e))
        print(text, end="")
        return 0
    if args.config is None and not args.set:
        print(C.describe())
        return 0
    try:
        print(C.dumps(C.load(args.config, args.set or [])), end="")
    except C.ConfigError as e:
        fail(str(e))
    return 0


def cmd_sweep(args) -> int:
    start_processes(args)
    try:
        spec = sweeps.load(args.config, args.set or [])
        out = folders.check_target(
            args.out or spec.out or Path("results") / f"{Path(args.config).stem}-sweep", "sweep")
    except bad_input_errors() as e:
        fail(str(e))
    hint = (lambda: f"finished cells are kept in {out}/cells; rerun the same command to resume")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with stoppable(hint), Progress(*columns, transient=True) as bar:
        outer = bar.add_task("cells", total=None)
        inner = bar.add_task("run", total=None)

        class _P(sweeps.Progress):
            def cells(self, done, total):
                bar.update(outer, completed=done, total=total)

            def chunk(self, done, total, checkpoint=None):
                bar.update(inner, completed=done, total=total)

            def stage(self, text):
                bar.update(inner, description=text[:60], completed=0)

        try:
            info = sweeps.run_sweep(spec, out, progress=_P(), force=args.force)
        except bad_input_errors() as e:
            fail(str(e))
        except NonFiniteError as e:
            fail(str(e), code=3)
    if not devices.is_writer():
        followers_note(out)
        return 0
    print(f"{out}: {info['cells']} cells in {info['groups']} compiled groups "
          f"({info['computed']} computed, {info['cells'] - info['computed']} reused) in "
          f"{info['seconds']:.1f} s on {devices.device_count()} device(s); table {info['csv']}")
    s = info["summary"]
    report = sweeps.STUDIES[spec.study].report
    if s is not None and report is not None:
        print(report(s))
    for fig in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {fig}")
    return 0


def add_sweep_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run a grid of runs (resumable; see "
                                            "meanfield.studies.sweep)")
    p.add_argument("config", help="sweep config: a run config plus a [sweep] table")
    p.add_argument("--out", help="output folder (default [sweep] out, else "
                                 "results/<config name>-sweep)")
    p.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help="override a base config field (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="empty the output folder (a meanfield sweep only) and start over")
    add_process_arguments(p)
    p.set_defaults(func=cmd_sweep)


def cmd_bench(args) -> int:
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    single = any(getattr(args, k) is not None for k in ("N", "M", "K", "L", "batch", "replicas",
                                                          "scheme"))
    if single or args.json:
        def given(name, default):
            value = getattr(args, name)
            return default if value is None else value

        N = given("N", 256)
        cfg = bench.BenchConfig(
            N=N, M=given("M", N), K=given("K", 1), L=given("L", 1), batch=given("batch", 1),
            replicas=given("replicas", 1), scheme=args.scheme or "simultaneous", dtype=args.dtype)
        limit = bench.machine_limit()
        row = bench.bench_one(cfg, limit, args.budget, torch=False if args.no_torch else None)
        row["machine_limit"] = limit
        if args.json:
            print(json.dumps(row))
        else:
            for k, v in row.items():
                print(f"{k}: {v}")
        return 0
    try:
        out = folders.check_target(args.out, "bench")
        with folders.owned(out, "bench"), stoppable(
                lambda: f"the finished rows are in {out}/bench.md; rerun for the whole table"):
            bench.run_table(out, args.budget, args.all_kl, report=print)
    except folders.FolderError as e:
        fail(str(e))
    print(f"wrote {out}/bench.json and {out}/bench.md")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_bench_parser(subparsers) -> None:
    b = subparsers.add_parser(
        "bench", help="steps/s, particle-steps/s, compile time and memory of the WGAN step",
        description="Without configuration options, run the whole table and write JSON and "
                    "markdown; with any of them (or --json), measure that one configuration.")
    for name in ("N", "M", "K", "L", "batch", "replicas"):
        b.add_argument(f"--{name}", type=_positive_int, default=None)
    b.add_argument("--scheme", choices=bench.SCHEMES, default=None)
    b.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--budget", type=_positive_float, default=1.0,
                   help="seconds of timing per configuration and side (default 1)")
    b.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    b.add_argument("--all-kl", action="store_true", help="all four (K, L) pairs, not K = L")
    b.add_argument("--out", default="benchmarks/results", help="folder of the full table")
    b.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="meanfield", description=(
        "Mean-field particle simulations of GAN training (see docs/model.md)."))
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one config and write its results folder")
    r.add_argument("config", nargs="?", help="TOML config (defaults if omitted)")
    r.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help="override a config field (repeatable)")
    r.add_argument("--out", help="results folder (default results/<config name>)")
    r.add_argument("--force", action="store_true", help="recompute even if results exist")
    add_process_arguments(r)
    r.set_defaults(func=cmd_run)

    pl = sub.add_parser("plot", help="redraw a results folder's figures from its files")
    pl.add_argument("dir")
    pl.set_defaults(func=cmd_plot)

    c = sub.add_parser("config", help="show every key with its documentation, or resolve a config")
    c.add_argument("config", nargs="?")
    c.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE")
    c.add_argument("--convert", action="store_true",
                   help="print a config of the layout before [system] ([model], [dynamics], ...) "
                        "in the [system] layout")
    c.set_defaults(func=cmd_config)

    add_sweep_parser(sub)
    add_bench_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
