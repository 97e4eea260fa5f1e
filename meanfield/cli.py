"""The ``meanfield`` command line: ``run``, ``plot``, ``config``, ``bench``, ``sweep``.

The library never prints; this module reports. Exit status: 0 done, 2 bad input (one line on
stderr naming the key, file or folder; nothing is written), 3 the run diverged (non-finite
particles or observables, naming the steps; nothing is written), 130 interrupted (Ctrl-C) and 143
terminated (SIGTERM): the last checkpoint is kept and the same command resumes from it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable


def _fail(msg: str, code: int = 2):
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
    before anything is computed (:mod:`meanfield.folders`).
    """
    from meanfield import folders

    with ExitStack() as stack:
        try:
            folder = stack.enter_context(folders.owned(folders.check_target(out, "study"),
                                                       "study"))
        except folders.FolderError as e:
            _fail(str(e))
        with stoppable(lambda: f"{out} is partly written; rerun the same command to redo it"):
            yield folder


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input (exit 2): configs, folders, checkpoints, sizes."""
    from meanfield.config import ConfigError
    from meanfield.driver import InsufficientMemory
    from meanfield.folders import FolderError
    from meanfield.results import ResultError

    return ConfigError, FolderError, ResultError, InsufficientMemory


@contextmanager
def progress_bar(description: str):
    """A rich progress bar on stderr; yields ``update(done, total)``."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def default_out(config_path: str | None) -> Path:
    return Path("results") / (Path(config_path).stem if config_path else "default")


def cmd_run(args) -> int:
    from meanfield import config as C
    from meanfield import folders
    from meanfield.driver import NonFiniteError
    from meanfield.experiment import run
    from meanfield.results import partial_dir

    try:
        cfg = C.load(args.config, args.set or [])
        out = folders.check_target(args.out if args.out else default_out(args.config), "run")
        if (out / "summary.json").exists() and not args.force:
            if (out / "config.toml").read_text() == C.dumps(cfg):
                print(f"{out}: already complete for this config (use --force to recompute)")
                return 0
            _fail(f"{out} holds a run of a different config; choose another --out or pass --force")
    except bad_input_errors() as e:
        _fail(str(e))
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

                result = run(cfg, out, progress=report, force=args.force)
        except bad_input_errors() as e:
            _fail(str(e))
        except NonFiniteError as e:
            _fail(str(e), code=3)
    s = result.summary
    for note in s.get("notes", []):
        print(f"note: {note}")
    finals = ", ".join(f"{k} = {s['final'][k]:.4g}" for k in ("w1", "w2", "payoff")
                       if k in s["final"])
    print(f"{out}: {s['steps']} steps to T = {s['T']:.4g} x {s['replicas']} replicas in "
          f"{s['wall_seconds']:.1f} s (compile {s['compile_seconds']:.1f} s, "
          f"{s['steps_per_second']:.0f} steps/s); {finals}")
    for fig in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {fig}")
    return 0


def cmd_plot(args) -> int:
    from meanfield.plots import redraw

    try:
        figs = redraw(args.dir)
    except (FileNotFoundError, *bad_input_errors()) as e:
        _fail(str(e))
    for f in figs:
        print(f"figure: {f}")
    return 0


def cmd_config(args) -> int:
    from meanfield import config as C

    if args.config is None and not args.set:
        print(C.describe())
        return 0
    try:
        print(C.dumps(C.load(args.config, args.set or [])), end="")
    except C.ConfigError as e:
        _fail(str(e))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="meanfield", description=(
        "Mean-field particle simulations of GAN training (see docs/model.md)."))
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one config and write its results folder")
    r.add_argument("config", nargs="?", help="TOML config (defaults if omitted)")
    r.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override a config field (repeatable)")
    r.add_argument("--out", help="results folder (default results/<config name>)")
    r.add_argument("--force", action="store_true", help="recompute even if results exist")
    r.set_defaults(func=cmd_run)

    pl = sub.add_parser("plot", help="redraw a results folder's figures from its files")
    pl.add_argument("dir")
    pl.set_defaults(func=cmd_plot)

    c = sub.add_parser("config", help="show every key with its documentation, or resolve a config")
    c.add_argument("config", nargs="?")
    c.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE")
    c.set_defaults(func=cmd_config)

    # Subcommands of later studies register themselves when their module is present.
    for name in ("bench", "sweep"):
        if importlib.util.find_spec(f"meanfield.{name}") is not None:
            importlib.import_module(f"meanfield.{name}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
