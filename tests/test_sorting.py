"""Sorting floats as integer keys (meanfield.metrics.sorting) gives exactly jnp.sort's numbers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield.metrics import sorting


def _numbers(dtype, subnormal=False):
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, np.inf, -np.inf, np.finfo(dtype).tiny, -np.finfo(dtype).tiny,
               np.finfo(dtype).max, -np.finfo(dtype).max, 1.0, 1.0]
    if subnormal:
        special += [np.finfo(dtype).smallest_subnormal, -np.finfo(dtype).smallest_subnormal]
    x = np.concatenate([rng.standard_normal(502) * 10.0 ** rng.integers(-30, 30, 502), special])
    return rng.permutation(x).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sort_equals_jnp_sort(dtype):
    with jax.enable_x64(dtype == "float64"):
        x = jnp.asarray(_numbers(dtype))
        got, want = np.asarray(sorting.sort(x)), np.asarray(jnp.sort(x))
        assert got.dtype == want.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)
        # −0 sorts just below +0 (equal as numbers, so the check above holds either way).
        assert np.all(np.diff(got) >= 0)
        # Subnormal numbers: XLA:CPU's float sort compares them as zero (it may put 1e-45 before
        # −1e-45); the keys order them as IEEE-754 does, as numpy does.
        xs = _numbers(dtype, subnormal=True)
        np.testing.assert_array_equal(np.asarray(sorting.sort(jnp.asarray(xs))), np.sort(xs))
        np.testing.assert_array_equal(np.asarray(sorting.from_key(sorting.key(x), dtype)),
                                      np.asarray(x))
        # Rows of a matrix along either axis.
        m = x[:504].reshape(12, 42)
        for axis in (0, 1):
            np.testing.assert_array_equal(np.asarray(sorting.sort(m, axis=axis)),
                                          np.asarray(jnp.sort(m, axis=axis)))


def test_key_is_increasing():
    """x < y ⇔ key(x) < key(y) over all pairs of distinct numbers (subnormals included)."""
    x = _numbers("float32", subnormal=True)
    k = np.asarray(sorting.key(jnp.asarray(x))).astype(np.int64)
    def sign(v):
        return (v[:, None] > v[None, :]).astype(int) - (v[:, None] < v[None, :])

    dx, dk = sign(x), sign(k)
    distinct = dx != 0
    np.testing.assert_array_equal(dk[distinct], dx[distinct])


def test_argsort_orders_like_numpy():
    x = _numbers("float32")
    x = x[np.isfinite(x) & (x != 0)]
    np.testing.assert_array_equal(x[np.asarray(sorting.argsort(jnp.asarray(x)))], np.sort(x))
