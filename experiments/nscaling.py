"""The N-scaling study of the WGAN-PDE limit (docs/model.md §3): config -> sweep -> summary and figures.

    python experiments/nscaling.py [CONFIG] [--full] [--out DIR] [--force]

is the same as ``meanfield sweep configs/nscaling.toml``: the coupled study (SGD replicas against
the population run from the same particles; E d_2²(t) against N at every snapshot time, several
initial configurations per N) and the iid study (pairs of independent configurations: the initial
sampling part and the part the dynamics adds). ``--full`` adds the config's
``[[nscaling.full_grid]]`` tables (N = 2048, the batch-size and n_c grids) and writes to
``[nscaling] full_out``. It prints the per-time table (slope, intervals, C(t), W_1), the iid
exponents next to the bound of [DSC], and where the time went. Rerunning resumes: finished cells are
reused. See docs/nscaling.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from meanfield.cli import stoppable
from meanfield.core import devices
from meanfield.io import config as C
from meanfield.io.folders import FolderError
from meanfield.studies.nscaling import report, with_full_grids
from meanfield.studies.sweep import Progress, SweepConfigChanged, from_dict, run_sweep

ROOT = Path(__file__).resolve().parent.parent


class Report(Progress):
    """Stage messages on stdout, time-stamped (the library itself never prints)."""

    def stage(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default=str(ROOT / "configs" / "nscaling.toml"))
    p.add_argument("--full", action="store_true",
                   help="add the [[nscaling.full_grid]] tables (N = 2048, m and n_c grids)")
    p.add_argument("--out", help="output folder (default: the config's [sweep] out, or "
                                 "[nscaling] full_out with --full)")
    p.add_argument("--force", action="store_true", help="start over")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    args = p.parse_args(argv)
    devices.initialize()
    try:
        raw = C.read_toml(args.config)
        if args.full:
            raw = with_full_grids(raw)
        spec = from_dict(raw, args.set)
        out = Path(args.out or spec.out or "results/nscaling")
        t0, c0 = time.perf_counter(), time.process_time()
        with stoppable(lambda: f"finished cells are kept in {out}/cells; rerun the same "
                               "command to resume"):
            info = run_sweep(spec, out, progress=Report(), force=args.force)
    except (C.ConfigError, SweepConfigChanged, FolderError) as e:
        print(f"nscaling: error: {e}", file=sys.stderr)
        return 2
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{out}: {info['cells']} cells, {info['computed']} computed, {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU in this process ({cpu / max(wall, 1e-9):.2f} cores busy on average)")
    print(report(info["summary"]))
    for fig in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
