"""The ``meanfield`` command line: ``run``, ``plot``, ``config``, ``bench``, ``sweep``.

The library never prints; this module reports. Exit status: 0 done, 2 bad input (one line on
stderr naming the key), 3 the run diverged (non-finite particles; nothing is written).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path


def _fail(msg: str, code: int = 2):
    print(f"meanfield: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


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
    from meanfield.driver import NonFiniteError
    from meanfield.experiment import run
    from meanfield.results import partial_dir

    try:
        cfg = C.load(args.config, args.set or [])
    except C.ConfigError as e:
        _fail(str(e))
    out = Path(args.out) if args.out else default_out(args.config)
    if (out / "summary.json").exists() and not args.force:
        if (out / "config.toml").read_text() == C.dumps(cfg):
            print(f"{out}: already complete for this config (use --force to recompute)")
            return 0
        _fail(f"{out} holds a run of a different config; choose another --out or pass --force")
    try:
        with progress_bar(f"run {out.name}") as update:
            result = run(cfg, out, progress=update)
    except C.ConfigError as e:
        _fail(str(e))
    except NonFiniteError as e:
        shutil.rmtree(partial_dir(out), ignore_errors=True)
        _fail(str(e), code=3)
    except KeyboardInterrupt:
        print(f"\ninterrupted: rerun the same command to resume from {partial_dir(out)}",
              file=sys.stderr)
        return 130
    s = result.summary
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
    except FileNotFoundError as e:
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
    p = argparse.ArgumentParser(prog="meanfield", description=(
        "Mean-field particle simulations of GAN training (see MODEL.md)."))
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
