"""The classic GAN against the Smirnov GAN (output layer F_n⁻¹∘Φ) on the digits and a skewed 1-D
target (docs/digits.md, docs/model.md §10).

Runs ``configs/digits_gan.toml`` and ``configs/smirnov_skewed.toml`` with ``system.output`` =
``identity`` and ``smirnov`` and writes ``OUT/numbers.json`` (per-feature CDF L¹ distances to real
data; for the digits the train-on-synthetic / test-on-real macro-F1 next to train-on-real),
``OUT/smirnov.png`` and each run's folder. ``--smoke`` is a tiny plumbing check.

    python experiments/smirnov_gan.py [--out results/smirnov_gan] [--smoke] [--set table.key=value]
"""

from __future__ import annotations

import argparse

from meanfield.cli import fail, progress_bar, study_folder
from meanfield.io import config
from meanfield.studies import digits

CONFIGS = {"digits": "configs/digits_gan.toml", "skewed": "configs/smirnov_skewed.toml"}


def _load(path: str, sets: list[str], smoke: bool) -> config.Config:
    if smoke:
        sets = [*sets, "system.N=16", "system.M=16", "system.numerics.n_eval=64"]
    cfg = config.load(path, sets)
    if cfg.kind != "gan":
        raise config.ConfigError(f"system.kind: expected 'gan', got {cfg.kind!r}")
    if smoke:
        T = 20 * cfg.system.dynamics.lr / cfg.system.N  # 20 iterations
        cfg = config.load(path, [*sets, f"run.T={T!r}", "run.n_records=3",
                                 f"run.snapshot_times=[0.0, {T!r}]"])
    return cfg


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="default results/smirnov_gan (-smoke)")
    p.add_argument("--smoke", action="store_true", help="tiny runs: the plumbing only")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    args = p.parse_args(argv)
    out_dir = args.out or ("results/smirnov_gan-smoke" if args.smoke else "results/smirnov_gan")
    try:
        configs = {name: _load(path, args.set, args.smoke) for name, path in CONFIGS.items()}
    except config.ConfigError as e:
        fail(f"smirnov_gan: {e}")
    with study_folder(out_dir) as out, progress_bar("classic and Smirnov GAN") as bar:
        numbers = digits.smirnov_comparison(configs, out, lambda name: bar)
    for name, e in numbers.items():
        for output in ("identity", "smirnov"):
            m = e[output]
            extra = f", TSTR F1 {m['tstr_f1']:.3f}" if "tstr_f1" in m else ""
            print(f"{name:7s} {output:8s}: CDF L1 mean {m['cdf_l1_mean']:.4f} (max "
                  f"{m['cdf_l1_max']:.4f}){extra}")
        if "train_on_real_f1" in e:
            print(f"{name:7s} train on real F1 {e['train_on_real_f1']:.3f}")
    print(f"wrote {out}/numbers.json and {out}/smirnov.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
