"""Mode collapse on the 8×8 digits: the classifier baseline on real held-out digits, the collapse
statistics on constructed sets (meanfield/metrics/classifier.py), a WGAN built on the digits, and
the study script (slow)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import ROOT, script
from meanfield.io import config, experiment
from meanfield.measures import datasets
from meanfield.metrics import classifier as clf_mod


@pytest.fixture(scope="module")
def split():
    return datasets.digits()


@pytest.fixture(scope="module")
def clf(split):
    return clf_mod.fit_classifier(split.x_train, split.y_train)


def test_real_held_out_digits_are_classified_and_not_collapsed(split, clf):
    s = clf_mod.image_statistics(clf, split.x_test, split.y_test)
    assert s["accuracy"] > 0.94  # measured 0.965
    assert s["entropy"] == pytest.approx(math.log(10), abs=0.01)  # classes are balanced
    assert s["coverage"] == 10 and s["confidence"] > 0.9
    assert sum(s["histogram"]) == pytest.approx(1.0)


def test_one_class_is_total_collapse(split, clf):
    zeros = split.x_test[split.y_test == 0]
    s = clf_mod.image_statistics(clf, zeros)
    assert s["entropy"] == 0.0 and s["coverage"] == 1 and s["histogram"][0] == 1.0
    assert "accuracy" not in s
    # the mean image of all digits: one blurred image repeated, also one class
    mean = np.repeat(split.x_train.mean(0, keepdims=True), 50, axis=0)
    assert clf_mod.image_statistics(clf, mean)["coverage"] == 1


def test_two_classes_give_ln_2(split, clf):
    # 40 correctly classified held-out images of each of two classes: half and half
    right = clf.predict(split.x_test) == split.y_test
    x = np.concatenate([split.x_test[right & (split.y_test == c)][:40] for c in (3, 7)])
    s = clf_mod.image_statistics(clf, x, np.repeat([3, 7], 40))
    assert s["coverage"] == 2 and s["accuracy"] == 1.0
    assert s["entropy"] == pytest.approx(math.log(2), abs=1e-12)


def test_statistics_from_probabilities():
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    s = clf_mod.collapse_statistics(p, np.array([0, 1, 1, 0]))
    assert s["histogram"] == [0.75, 0.25, 0.0]
    assert s["entropy"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert s["entropy_ratio"] == pytest.approx(s["entropy"] / math.log(3))
    assert s["coverage"] == 2 and s["accuracy"] == 0.75
    assert s["confidence"] == pytest.approx((0.9 + 0.7 + 0.6 + 0.5) / 4)
    # the coverage threshold: one image in 200 (0.5 %) is below 1 %
    q = np.zeros((200, 2))
    q[:, 0], q[0] = 1.0, [0.0, 1.0]
    assert clf_mod.collapse_statistics(q)["coverage"] == 1
    assert clf_mod.collapse_statistics(q, min_share=0.005)["coverage"] == 2
    with pytest.raises(ValueError, match="collapse_statistics"):
        clf_mod.collapse_statistics(np.ones(3))
    with pytest.raises(ValueError, match="fit_classifier"):
        clf_mod.fit_classifier(np.zeros((3, 2)), np.zeros(3))


def test_shipped_configs_build_a_system_on_the_training_digits():
    for name in ("digits_wgan", "digits_gan"):
        cfg = config.load(ROOT / "configs" / f"{name}.toml")
        system = experiment.build_system(cfg)
        assert system.K == 64 and system.L <= 16
        # the exact expectation over the data is the 1257 training images, weight 1/1257
        assert system.rule.x.shape == (1257, 64)
        np.testing.assert_allclose(np.asarray(system.rule.wx), 1 / 1257, rtol=1e-6)
        assert dict(system.rule_kinds)["target"] == "atoms"


@pytest.mark.slow  # the script's smoke test (about 1.5 min): plumbing, not the numbers
def test_digits_collapse_script(tmp_path):
    out = tmp_path / "digits"
    res = script("digits_collapse.py", "--smoke", "--out", out, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers["real"]) >= {"accuracy", "entropy", "coverage", "confidence"}
    assert set(numbers["generated"]) == {"wgan", "gan"}
    for per in numbers["generated"].values():
        assert list(per) == ["0", "20"]
        for s in per.values():
            assert 0 <= s["entropy"] <= math.log(10) + 1e-9 and 1 <= s["coverage"] <= 10
    for f in ("samples.png", "collapse.png"):
        assert (out / f).read_bytes()[:4] == b"\x89PNG"
    bad = script("digits_collapse.py", "--set", "system.K=3", "--out", tmp_path / "bad",
                 timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
