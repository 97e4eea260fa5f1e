"""The empirical law of a data set (meanfield/measures/datasets.py) and its selection from a
config (``system.target.law = "digits"``)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from meanfield.io import config
from meanfield.measures import datasets
from meanfield.measures.datasets import EmpiricalLaw

POINTS = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, -2.0], [2.0, 0.0]])


def test_rule_is_the_points_with_equal_weights():
    rule = EmpiricalLaw(POINTS).rule(20, 4096)
    assert rule.kind == "atoms"
    np.testing.assert_array_equal(rule.points, POINTS)
    np.testing.assert_array_equal(rule.weights, np.full(4, 0.25))


def test_rule_above_max_points_is_a_fixed_subset():
    x = np.arange(100.0)[:, None]
    a, b = EmpiricalLaw(x).rule(0, 10), EmpiricalLaw(x).rule(0, 10)
    assert a.kind == "sample" and a.points.shape == (10, 1)
    np.testing.assert_array_equal(a.points, b.points)  # fixed, not redrawn
    assert len(np.unique(a.points)) == 10 and np.isin(a.points, x).all()  # without replacement
    assert a.weights.sum() == pytest.approx(1.0)


def test_moments_are_the_empirical_ones():
    law = EmpiricalLaw(POINTS)
    np.testing.assert_allclose(law.mean(), [2.0, 0.0])
    c = POINTS - POINTS.mean(0)
    np.testing.assert_allclose(law.cov(), c.T @ c / 4)  # this law's covariance: 1/n, not 1/(n−1)


def test_samples_are_uniform_draws_of_the_points():
    law = EmpiricalLaw(POINTS)
    x = np.asarray(law.sample(jax.random.key(0), 40000))
    assert x.shape == (40000, 2)
    # every draw is one of the points, each with frequency ≈ 1/4 (binomial sd 0.0022)
    idx = [np.flatnonzero((POINTS == row).all(1)) for row in x[:500]]
    assert all(len(i) == 1 for i in idx)
    freq = np.array([np.mean((x == p).all(1)) for p in POINTS])
    np.testing.assert_allclose(freq, 0.25, atol=0.01)
    np.testing.assert_allclose(x.mean(0), law.mean(), atol=0.03)


def test_one_dimensional_cdf_and_quantile():
    law = EmpiricalLaw(np.array([[3.0], [1.0], [2.0], [2.0]]))
    np.testing.assert_allclose(law.cdf([0.5, 1.0, 2.0, 2.5, 3.0]), [0, 0.25, 0.75, 0.75, 1.0])
    np.testing.assert_allclose(law.quantile([0.1, 0.25, 0.26, 0.75, 0.76, 1.0]),
                               [1, 1, 2, 2, 3, 3])
    xs = np.linspace(-5, 9, 2001)
    assert np.trapezoid(law.density(xs), xs) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="K = 1"):
        EmpiricalLaw(POINTS).cdf(0.0)


def test_equality_by_content_and_bad_points():
    assert EmpiricalLaw(POINTS) == EmpiricalLaw(POINTS.copy())
    assert hash(EmpiricalLaw(POINTS)) == hash(EmpiricalLaw(POINTS.copy()))
    assert EmpiricalLaw(POINTS) != EmpiricalLaw(POINTS + 1)
    for bad in (np.zeros((0, 2)), np.zeros(3), np.array([[np.nan]])):
        with pytest.raises(ValueError, match="EmpiricalLaw"):
            EmpiricalLaw(bad)


def test_digits_split_is_fixed_disjoint_and_scaled():
    a, b = datasets.digits(), datasets.digits()
    assert a.x_train.shape == (1257, 64) and a.x_test.shape == (540, 64)
    np.testing.assert_array_equal(a.x_test, b.x_test)  # fixed seed
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0  # pixels / 16
    # stratified: every class in both parts, in about the same proportions
    assert np.all(np.bincount(a.y_test, minlength=10) >= 50)
    # the held-out images are not training images (the digits have no exact duplicates across
    # the split: checked on rows)
    train_rows = {r.tobytes() for r in a.x_train}
    assert sum(r.tobytes() in train_rows for r in a.x_test) == 0
    law = datasets.dataset_law("digits")
    np.testing.assert_array_equal(law.points, a.x_train)


def test_config_selects_the_digits_and_checks_K():
    cfg = config.load(None, ["system.kind=wgan", "system.K=64", "system.L=2",
                             "system.target.law=digits"])
    law = cfg.system.target.build()
    assert isinstance(law, EmpiricalLaw) and law.dim == 64 and law.n == 1257
    with pytest.raises(config.ConfigError, match="system.target.law.*K = 64"):
        config.load(None, ["system.kind=wgan", "system.target.law=digits"])
    with pytest.raises(config.ConfigError, match="system.target.law"):
        config.load(None, ["system.kind=wgan", "system.target.law=mnist"])
    # The default table is unchanged: no new key in a saved config.
    assert set(config.to_dict(config.load(None))["system"]["target"]) == {
        "law", "weights", "means", "stds", "atoms"}
