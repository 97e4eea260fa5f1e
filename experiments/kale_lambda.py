"""KALE across λ next to the MMD flow and Langevin, on a target away from the start.

Runs ``configs/kale_lambda.toml`` as the kale flow at each λ of ``--lambdas`` (step min(lr, λ),
same horizon), then the mmd and langevin flows with the same fields, and writes ``OUT/numbers.json`` (per flow: final ½MMD², exact
W₂ to the target sample, far fraction; KALE's value, largest duality gap and Newton steps),
``OUT/loss.png`` and ``OUT/particles.png`` (docs/kernel_flows.md).

    python experiments/kale_lambda.py [--out results/kale_lambda] [--lambdas 1e-3 0.1 1 1e4]
"""

from __future__ import annotations

import argparse
import sys

from meanfield.cli import progress_bar, study_folder
from meanfield.io import config
from meanfield.studies import flows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/kale_lambda.toml")
    p.add_argument("--out", default="results/kale_lambda")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    p.add_argument("--lambdas", type=float, nargs="+", default=[1e-3, 0.1, 1.0, 1e4])
    p.add_argument("--same-step", action="store_true",
                   help="run every λ with system.lr (default: min(lr, λ), same horizon T)")
    args = p.parse_args(argv)
    try:
        cfg = config.load(args.config, args.set)
        if cfg.kind != "kale":
            raise config.ConfigError(f"system.kind: expected 'kale', got {cfg.kind!r}")
        if any(not lam > 0 for lam in args.lambdas):
            raise config.ConfigError("--lambdas: expected numbers > 0")
    except config.ConfigError as e:
        sys.exit(f"kale_lambda: error: {e}")
    with study_folder(args.out) as out, progress_bar("KALE across λ, MMD, Langevin") as bar:
        numbers = flows.flows_across_lambda(cfg, args.lambdas, out, lambda name: bar,
                                            cap_step=not args.same_step)
    for name, n in numbers.items():
        w2 = "n/a" if n["w2"] is None else f"{n['w2']:.3f}"
        print(f"{name:20s} step {n['lr']:g}: final ½MMD² {n['final_half_mmd2']:.4g}  W2 {w2}  "
              f"far fraction {n['final_far_fraction']:.3f}")
    print(f"wrote {out}/numbers.json, {out}/loss.png and {out}/particles.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
