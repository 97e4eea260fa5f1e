"""Mode collapse on real 8×8 digits (docs/model.md §11, docs/digits.md).

Each system (a shallow WGAN, the vanilla GAN, …) is trained on the training part of scikit-learn's
digits (:mod:`meanfield.measures.datasets`); a classifier trained on the same real training images
(:mod:`meanfield.metrics.classifier`) labels the generated images at every snapshot, and the collapse
statistics (class histogram, entropy against ln 10, classes covered, mean confidence) are written
next to the same statistics of the real held-out images, which neither the GANs nor the classifier
saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.measures.datasets import DATASETS, Split
from meanfield.metrics.classifier import MIN_SHARE, fit_classifier, image_statistics
from meanfield.studies.flows import run_or_read

#: Images per snapshot in the grid figure.
GRID_IMAGES = 10


def generated_images(cfg: C.Config, run: results.RunFiles) -> tuple[np.ndarray, np.ndarray]:
    """The generated images at every snapshot of a finished run: g_μ at the system's fixed
    evaluation latents, for every replica.

    Returns:
        ``([S, R·n_eval, K], iterations [S])``: the images and the iteration of each snapshot.
    """
    with experiment.precision(cfg):
        system = experiment.build_system(cfg)
        gen = run.snapshot("gen")  # [R, S, N, K, L+2]
        images = np.stack([np.concatenate([np.asarray(system.generated(gen[r, j]), float)
                                           for r in range(gen.shape[0])])
                           for j in range(gen.shape[1])])
    iterations = np.rint(run.snapshot_t / system.dt).astype(int)
    return images, iterations


def collapse(configs: dict[str, C.Config], out: Path,
             progress_for: Callable[[str], Callable] | None = None) -> dict:
    """Run (or read back) each config into ``out/<name>/`` and measure collapse at its snapshots.

    Args:
        configs: system name → config; every target must be the same data set.
        out: the study folder.
        progress_for: name → progress callback of that run (or None).

    Returns:
        The numbers written to ``numbers.json``: ``real`` (the held-out images: accuracy, entropy,
        entropy ratio, coverage, confidence, histogram), ``generated`` (name → iteration →
        the same statistics, no accuracy), ``settings``.

    Raises:
        ConfigError: when a config's target is not a data set, or the configs' data sets differ.
    """
    names = {cfg.system.target.law for cfg in configs.values()}
    if len(names) != 1 or not names <= set(DATASETS):
        raise C.ConfigError(f"system.target.law: expected one data set ({', '.join(DATASETS)}) "
                            f"for every system, got {sorted(names)}")
    split: Split = DATASETS[names.pop()][0]()
    clf = fit_classifier(split.x_train, split.y_train)
    real = image_statistics(clf, split.x_test, split.y_test)
    numbers: dict = {"real": real, "generated": {}, "settings": {
        "classifier": "standardised multinomial logistic regression (C = 1) on the real training "
                      "images", "covered": f"classes with >= {MIN_SHARE:.0%} of the images",
        "train_images": len(split.x_train), "held_out_images": len(split.x_test)}}
    grids = {}
    for name, cfg in configs.items():
        run = run_or_read(cfg, out / name, progress_for and progress_for(name))
        images, iterations = generated_images(cfg, run)
        numbers["generated"][name] = {str(k): image_statistics(clf, x)
                                      for k, x in zip(iterations, images)}
        d = cfg.system.dynamics
        numbers["settings"][name] = {
            "kind": cfg.kind, "N": cfg.system.N, "M": cfg.system.M, "L": cfg.system.L,
            "optimizer": d.optimizer, "lr": d.lr, "n_critic": d.n_critic, "clip": d.clip,
            "batch_size": d.batch_size, "iterations": int(iterations[-1]),
            "images_per_snapshot": int(images.shape[1]),
            "wall_seconds": run.summary.get("wall_seconds")}
        grids[name] = (iterations, images[:, :GRID_IMAGES])
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    draw_grid(out / "samples.png", grids, split.x_test[:GRID_IMAGES], split.shape)
    draw_statistics(out / "collapse.png", numbers)
    return numbers


def draw_grid(path: Path, grids: dict, real: np.ndarray, shape: tuple) -> None:
    """Generated images, one row per system and snapshot (the first ``GRID_IMAGES`` evaluation
    latents, the same in every row), and a row of real held-out images."""
    rows = [(f"{name}\nit. {k}", x) for name, (its, xs) in grids.items() for k, x in zip(its, xs)]
    rows.append(("real\nheld out", real))
    cols = max(len(x) for _, x in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.75 * cols + 1.0, 0.8 * len(rows)),
                             squeeze=False)
    for r, (label, xs) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(xs):
                # Fixed grey scale: the data's range [0, 1]; generated pixels outside it saturate.
                ax.imshow(np.reshape(xs[c], shape), cmap="gray_r", vmin=0.0, vmax=1.0)
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle("generated digits at each snapshot (same latents per row) and real ones",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_statistics(path: Path, numbers: dict) -> None:
    """Entropy, coverage and confidence against iterations, per system, with the real held-out
    images' values as horizontal lines; and the final class histograms."""
    real = numbers["real"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for name, per in numbers["generated"].items():
        its = np.array(sorted(int(k) for k in per))  # numbers.json sorts keys as text
        x = np.maximum(its, 1)  # iteration 0 drawn at 1 on the log axis
        for ax, key in zip(axes[:3], ("entropy", "coverage", "confidence")):
            ax.plot(x, [per[str(k)][key] for k in its], "o-", label=name)
        last = per[str(its.max())]["histogram"]
        axes[3].plot(range(len(last)), last, "o-", label=f"{name}, it. {its.max()}")
    for ax, key, title in zip(axes[:3], ("entropy", "coverage", "confidence"),
                              ("entropy of the class histogram (ln 10 dotted)",
                               f"classes with >= {MIN_SHARE:.0%} of images",
                               "mean max. probability")):
        ax.axhline(real[key], color="k", lw=1, label="real held out")
        ax.set(xscale="log", xlabel="iteration (0 at 1)", title=title)
    axes[0].axhline(np.log(len(real["histogram"])), color="k", ls=":", lw=1)
    axes[3].plot(range(len(real["histogram"])), real["histogram"], "k-", lw=1,
                 label="real held out")
    axes[3].set(xlabel="predicted class", title="class histogram at the last snapshot")
    axes[0].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the classic GAN against the Smirnov GAN (docs/model.md §10, 004) ----------------------------

#: Points of P* drawn (fixed seed) as the real reference of a target that is not a data set.
REFERENCE_POINTS = 4096


def _with_output(cfg: C.Config, output: str) -> C.Config:
    return C.from_dict(C.apply_overrides(C.to_dict(cfg), [f"system.output={output!r}"]))


def smirnov_comparison(configs: dict[str, C.Config], out: Path,
                       progress_for: Callable[[str], Callable] | None = None) -> dict:
    """Each config (kind ``gan``) run twice into ``out/<name>-<output>/``, with
    ``system.output = "identity"`` (classic) and ``"smirnov"``; the generated points at the last
    snapshot are compared with real data.

    Measures: the per-feature CDF L¹ distance (W₁ per feature, :func:`cdf_distance`) to the real
    reference (the held-out images for a data set, else a fixed sample of P*), mean and max over
    features; for a data set also train-on-synthetic / test-on-real macro-F1 (:func:`tstr_f1`),
    the synthetic images labelled by the classifier trained on the real training images (the GANs
    are unconditional), next to train-on-real, and the collapse statistics.

    Returns:
        The numbers written to ``numbers.json``: name → output → measures; per data set
        ``train_on_real_f1`` and the real reference's CDF distance to the training data.
    """
    import jax

    from meanfield.metrics.marginals import cdf_distance, tstr_f1

    numbers: dict = {}
    panels = {}
    for name, base in configs.items():
        law = base.system.target.law
        entry: dict = {}
        if law in DATASETS:
            split: Split = DATASETS[law][0]()
            reference = split.x_test
            clf = fit_classifier(split.x_train, split.y_train)
            entry["train_on_real_f1"] = tstr_f1(split.x_train, split.y_train, split.x_test,
                                                split.y_test)
            entry["train_vs_held_out_cdf_l1_mean"] = float(np.mean(cdf_distance(
                split.x_train, split.x_test)))
        else:
            with experiment.precision(base):
                target = experiment.build_system(base).target
            reference = np.asarray(target.sample(jax.random.key(5), REFERENCE_POINTS), float)
            split = clf = None
        gens = {}
        for output in ("identity", "smirnov"):
            cfg = _with_output(base, output)
            run = run_or_read(cfg, out / f"{name}-{output}",
                              progress_for and progress_for(f"{name}-{output}"))
            images, iterations = generated_images(cfg, run)
            x = images[-1]
            d = np.asarray(cdf_distance(x, reference), float)
            m = {"iterations": int(iterations[-1]), "cdf_l1_mean": float(d.mean()),
                 "cdf_l1_max": float(d.max()), "cdf_l1_per_feature": d.tolist(),
                 "wall_seconds": run.summary.get("wall_seconds")}
            if clf is not None:
                labels = clf.predict(x)
                m["tstr_f1"] = tstr_f1(x, labels, split.x_test, split.y_test)
                m.update({k: v for k, v in image_statistics(clf, x).items()
                          if k in ("entropy", "coverage", "confidence")})
            entry[output] = m
            gens[output] = x
        numbers[name] = entry
        panels[name] = (gens, reference, split.shape if split is not None else None)
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    draw_comparison(out / "smirnov.png", numbers, panels)
    return numbers


def draw_comparison(path: Path, numbers: dict, panels: dict) -> None:
    """Per data set: the per-feature CDF L¹ distances of both GANs (K > 1) or their histograms
    against the reference (K = 1), and generated images when the points are images."""
    n = len(panels)
    fig, axes = plt.subplots(n, 2, figsize=(12, 3.6 * n), squeeze=False)
    for r, (name, (gens, ref, shape)) in enumerate(panels.items()):
        ax = axes[r, 0]
        if ref.shape[1] == 1:
            lo, hi = np.quantile(ref, [0.001, 0.999])
            ax.hist(ref[:, 0], bins=80, range=(lo, hi), density=True, histtype="step", color="k",
                    label="real")
            for output, x in gens.items():
                ax.hist(x[:, 0], bins=80, range=(lo, hi), density=True, alpha=0.45,
                        label=f"{output}: CDF L¹ {numbers[name][output]['cdf_l1_mean']:.3f}")
            ax.set(title=f"{name}: generated against real")
        else:
            for output in gens:
                d = numbers[name][output]["cdf_l1_per_feature"]
                ax.plot(d, "o-", ms=3, label=f"{output}: mean {np.mean(d):.4f}")
            ax.set(xlabel="feature (pixel)", ylabel="CDF L¹ distance to held-out",
                   title=f"{name}: per-feature CDF L¹")
        ax.legend(fontsize=7)
        ax = axes[r, 1]
        if shape is not None:
            rows = [np.concatenate([np.reshape(x[i], shape) for i in range(GRID_IMAGES)], 1)
                    for x in gens.values()]
            ax.imshow(np.concatenate(rows, 0), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_yticks([shape[0] * (i + 0.5) for i in range(len(rows))], list(gens))
            ax.set_xticks([])
            e = numbers[name]
            ax.set_title(f"TSTR macro-F1: identity {e['identity']['tstr_f1']:.3f}, smirnov "
                         f"{e['smirnov']['tstr_f1']:.3f}, train on real "
                         f"{e['train_on_real_f1']:.3f}", fontsize=8)
        else:
            for output, x in gens.items():
                q = np.linspace(0.005, 0.995, 199)
                ax.plot(np.quantile(ref[:, 0], q), np.quantile(x[:, 0], q), label=output)
            ax.plot(*[np.quantile(ref[:, 0], [0.005, 0.995])] * 2, "k:", lw=1)
            ax.set(xlabel="real quantile", ylabel="generated quantile", title="Q–Q plot")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
