"""Mode collapse of the 1-D shallow WGAN: converge, oscillate or collapse over (n_c, c, α, scheme).

    python experiments/mode_collapse_1d.py [CONFIG] [--full] [--out DIR] [--force] [--set table.key=value]

Runs the sweep study ``mode_collapse`` of ``configs/mode_collapse_1d.toml`` (``--full``:
``configs/mode_collapse_1d_full.toml``, a finer grid and more replicas), classifies every replica at
T, and writes ``DIR/numbers.json`` (the map: class fractions and statistics per cell, the
settings), ``DIR/figures/map.png``, ``DIR/figures/histograms.png``, ``DIR/figures/histograms.gif``
and the cells' run folders (docs/mode_collapse.md). Rerunning reads finished cells back.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from meanfield.cli import stoppable
from meanfield.core.driver import NonFiniteError
from meanfield.io import config as C
from meanfield.io.folders import FolderError
from meanfield.studies import mode_collapse
from meanfield.studies.sweep import Progress, SweepConfigChanged, load, run_sweep

ROOT = Path(__file__).resolve().parent.parent


class Report(Progress):
    """Stage messages on stdout, time-stamped (the library itself never prints)."""

    def stage(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text[:100]}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", help="a mode_collapse sweep config (default: "
                   "configs/mode_collapse_1d.toml, or its _full variant with --full)")
    p.add_argument("--full", action="store_true", help="the finer grid (120 cells; estimated 30–40 minutes)")
    p.add_argument("--out", help="output folder (default: the config's [sweep] out)")
    p.add_argument("--force", action="store_true", help="start over")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    args = p.parse_args(argv)
    name = "mode_collapse_1d_full.toml" if args.full else "mode_collapse_1d.toml"
    path = args.config or str(ROOT / "configs" / name)
    try:
        spec = load(path, args.set)
        if spec.study != mode_collapse.__name__.rsplit(".", 1)[1]:
            raise C.ConfigError(f"sweep.study: expected 'mode_collapse', got {spec.study!r}")
        out = Path(args.out or spec.out or "results/mode_collapse_1d")
        t0 = time.perf_counter()
        with stoppable(lambda: f"finished cells are kept in {out}/cells; rerun the same "
                               "command to resume"):
            info = run_sweep(spec, out, progress=Report(), force=args.force)
    except (C.ConfigError, SweepConfigChanged, FolderError, OSError) as e:
        print(f"mode_collapse_1d: error: {e}", file=sys.stderr)
        return 2
    except NonFiniteError as e:
        print(f"mode_collapse_1d: error: {e}", file=sys.stderr)
        return 3
    print(mode_collapse.report(info["summary"]))
    print(f"{out}: {info['cells']} cells in {info['groups']} compiled groups, {info['computed']} "
          f"computed, {time.perf_counter() - t0:.1f} s")
    for f in ("numbers.json", "figures/map.png", "figures/histograms.png",
              "figures/histograms.gif"):
        print(f"  wrote {out / f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
