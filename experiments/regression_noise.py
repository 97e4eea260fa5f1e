"""Arbel et al.'s student–teacher experiment: the regression's flow with and without noise injection.

Runs ``configs/regression_noise.toml`` (noise injection) and the same config without noise, four
seeds each, from a student near a point mass, and writes ``OUT/numbers.json`` (final energy,
median over seeds and per seed; the neurons' spread), ``OUT/noise_injection.png`` and each run's
folder (docs/regression.md).

    python experiments/regression_noise.py [--out results/regression_noise] [--set table.key=value]
"""

from __future__ import annotations

import argparse
import sys

from meanfield.cli import progress_bar, study_folder
from meanfield.io import config
from meanfield.studies import regression


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/regression_noise.toml")
    p.add_argument("--out", default="results/regression_noise")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    args = p.parse_args(argv)
    try:
        cfg = config.load(args.config, args.set)
        if cfg.kind != "regression":
            raise config.ConfigError(f"system.kind: expected 'regression', got {cfg.kind!r}")
        if cfg.system.noise.schedule == "none":
            raise config.ConfigError("system.noise.schedule: the study compares a noise schedule "
                                     "with none; got 'none'")
    except config.ConfigError as e:
        sys.exit(f"regression_noise: error: {e}")
    with study_folder(args.out) as out, progress_bar("regression, noise / no noise") as bar:
        numbers = regression.noise_injection(cfg, out, lambda name: bar)
    for name in ("noise", "no_noise"):
        n = numbers[name]
        seeds = ", ".join(f"{e:.3g}" for e in n["final_energy_per_seed"])
        print(f"{name:9s} final energy {n['final_energy']:.4g} (median; seeds {seeds}), "
              f"spread {n['final_spread']:.3g}")
    print(f"ratio no noise / noise: {numbers['ratio_no_noise_over_noise']:.3g}")
    print(f"wrote {out}/numbers.json and {out}/noise_injection.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
