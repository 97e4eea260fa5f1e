"""The N-scaling study of talk 002 (MODEL.md §3): config -> sweep -> summary and figures.

    python experiments/nscaling.py [CONFIG] [--out DIR] [--force]

is the same as ``meanfield sweep configs/nscaling.toml``: the coupled study (SGD replicas against
the population run from the same particles; E d_2²(T) against N, m and n_c) and the iid study. It
prints the fitted slope, the per-N table, the iid exponent next to 002's bound, and where the time
went. Rerunning resumes: finished cells are reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from meanfield import config as C
from meanfield import devices
from meanfield.nscaling import report
from meanfield.sweep import Progress, SweepConfigChanged, load, run_sweep

ROOT = Path(__file__).resolve().parent.parent


class Report(Progress):
    def stage(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default=str(ROOT / "configs" / "nscaling.toml"))
    p.add_argument("--out", help="output folder (default: the config's [sweep] out)")
    p.add_argument("--force", action="store_true", help="start over")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    devices.initialize()
    try:
        spec = load(args.config, args.set)
        out = Path(args.out or spec.out or "results/nscaling")
        t0 = time.perf_counter()
        info = run_sweep(spec, out, progress=Report(), force=args.force)
    except (C.ConfigError, SweepConfigChanged) as e:
        print(f"nscaling: error: {e}", file=sys.stderr)
        return 2
    print(f"{out}: {info['cells']} cells, {info['computed']} computed, "
          f"{time.perf_counter() - t0:.1f} s wall")
    print(report(info["summary"]))
    for fig in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
