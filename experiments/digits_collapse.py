"""Mode collapse on real 8×8 digits: a shallow WGAN and the vanilla GAN in K = 64 (docs/digits.md).

Runs ``configs/digits_wgan.toml`` and ``configs/digits_gan.toml`` (6000 iterations each, about a
minute each on 2 cores), labels the generated images at iterations 0, 600, 3000, 6000 with a
classifier trained on real digits and writes ``OUT/numbers.json`` (class histogram, entropy,
classes covered, mean confidence per system and iteration, next to the real held-out digits'),
``OUT/samples.png``, ``OUT/collapse.png`` and each run's folder. ``--long`` runs ten times longer
(60000 iterations, snapshots at 0, 6000, 30000, 60000; about 20 minutes); ``--smoke`` is a tiny
plumbing check (N = M = 16, 20 iterations).

    python experiments/digits_collapse.py [--out results/digits_collapse] [--long | --smoke]
        [--set table.key=value]   (applied to both configs)
"""

from __future__ import annotations

import argparse

from meanfield.cli import fail, progress_bar, study_folder
from meanfield.io import config
from meanfield.studies import digits

CONFIGS = {"wgan": "configs/digits_wgan.toml", "gan": "configs/digits_gan.toml"}


def _scaled(path: str, sets: list[str], factor: float | None, smoke: bool) -> config.Config:
    if smoke:
        sets = [*sets, "system.N=16", "system.M=16", "system.numerics.n_eval=64"]
    cfg = config.load(path, sets)
    r = cfg.run
    if smoke:
        T = 20 * cfg.system.dynamics.lr / cfg.system.N  # 20 iterations
        return config.load(path, [*sets, f"run.T={T!r}", "run.n_records=3",
                                  f"run.snapshot_times=[0.0, {T!r}]"])
    if factor is None:
        return cfg
    times = ", ".join(repr(t * factor) for t in r.snapshot_times)
    return config.load(path, [*sets, f"run.T={r.T * factor!r}", f"run.snapshot_times=[{times}]"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="default results/digits_collapse (-long, -smoke)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--long", action="store_true", help="ten times longer runs (~20 min)")
    mode.add_argument("--smoke", action="store_true", help="tiny runs: the plumbing only")
    p.add_argument("--set", action="append", default=[], metavar="table.key=value")
    args = p.parse_args(argv)
    suffix = "-long" if args.long else "-smoke" if args.smoke else ""
    out_dir = args.out or f"results/digits_collapse{suffix}"
    try:
        configs = {name: _scaled(path, args.set, 10.0 if args.long else None, args.smoke)
                   for name, path in CONFIGS.items()}
    except config.ConfigError as e:
        fail(f"digits_collapse: {e}")
    with study_folder(out_dir) as out, progress_bar("digits: WGAN, GAN") as bar:
        numbers = digits.collapse(configs, out, lambda name: bar)
    real = numbers["real"]
    print(f"real held-out digits ({real['n']}): accuracy {real['accuracy']:.3f}, entropy "
          f"{real['entropy']:.3f} (ln 10 = 2.303), coverage {real['coverage']}, confidence "
          f"{real['confidence']:.3f}")
    for name, per in numbers["generated"].items():
        for it, s in per.items():
            print(f"{name:5s} iteration {it:>6s}: entropy {s['entropy']:.3f}, coverage "
                  f"{s['coverage']:2d}, confidence {s['confidence']:.3f}")
    print(f"wrote {out}/numbers.json, {out}/samples.png and {out}/collapse.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
