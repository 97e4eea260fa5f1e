"""The JSD gradient flow three ways: Fokker–Planck PDE, particle ODE with a KDE, GAN by Algorithm 2.

From ρ₀ = N(1.5, 0.5²) to ρ_d = N(0, 1) (``configs/jsd_three_ways.toml``; docs/model.md §7):
writes ``OUT/numbers.json`` (JSD, mean and variance at t = 0, 0.5, 1, 2, 4, 8 for each method,
their largest distances from the PDE, the estimator's own share), ``OUT/three_ways.png`` and the
GAN run's folder ``OUT/gan``. A rerun reads back what is complete.

    python experiments/jsd_three_ways.py [--out results/jsd_three_ways] [--set table.key=value]
        [--particles N] [--bandwidth B]
"""

from __future__ import annotations

import argparse
import sys

from meanfield.cli import progress_bar, study_folder
from meanfield.io import config
from meanfield.studies import jsd_flow


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/jsd_three_ways.toml")
    p.add_argument("--out", default="results/jsd_three_ways")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    p.add_argument("--particles", type=int, default=jsd_flow.Settings.n_particles,
                   help="N of the particle ODE")
    p.add_argument("--bandwidth", type=float, default=jsd_flow.Settings.bandwidth,
                   help="KDE bandwidth b of the particle ODE")
    args = p.parse_args(argv)
    try:
        cfg = config.load(args.config, args.set)
        d = cfg.system.dynamics if cfg.kind == "gan" else None
        if d is None or d.algorithm != "jsd_flow" or not cfg.system.initial.steps:
            raise config.ConfigError("system: expected kind 'gan' with dynamics.algorithm = "
                                     "'jsd_flow' and initial.steps > 0")
        if args.particles < 2 or not args.bandwidth > 0:
            raise config.ConfigError("--particles must be >= 2 and --bandwidth > 0")
    except config.ConfigError as e:
        sys.exit(f"jsd_three_ways: error: {e}")
    st = jsd_flow.Settings(n_particles=args.particles, bandwidth=args.bandwidth)
    with study_folder(args.out) as out, progress_bar("GAN (Algorithm 2)") as bar:
        numbers = jsd_flow.three_ways(cfg, out, st, bar)
    print("t        " + "  ".join(f"{t:7g}" for t in numbers["t"]))
    for name in ("pde", "particles", "gan"):
        for key in ("jsd", "mean", "var"):
            print(f"{name:9s} {key:4s} " + "  ".join(f"{v:7.4f}" for v in numbers[name][key]))
    for name, d in numbers["distance_from_pde"].items():
        print(f"largest distance from the PDE, {name}: " +
              ", ".join(f"{k} {v:.4f}" for k, v in d.items()))
    print(f"wrote {out}/numbers.json and {out}/three_ways.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
