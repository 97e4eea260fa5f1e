"""d_2² between configurations: pairing bound, optimal assignment and the transport LP."""

import numpy as np
import pytest

from meanfield.metrics import coupling


def test_assignment_matches_sorting_in_one_dimension():
    # In 1-D the monotone (sorted) matching is optimal: a closed form for W_2².
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(200), rng.standard_normal(200) * 2 + 1
    closed = np.mean((np.sort(x) - np.sort(y)) ** 2)
    assert coupling.w2_assignment(x[:, None], y[:, None]) == pytest.approx(closed, rel=1e-12)


def test_translation_closed_form_and_permutation_invariance():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 3))
    v = np.array([0.3, -0.2, 0.5])
    # W_2²(x, x + v) = |v|² (the translation is an optimal map).
    assert coupling.w2_assignment(x, x + v) == pytest.approx(v @ v, rel=1e-12)
    # A relabelled cloud is the same measure: exact d_2 is 0, the labelled pairing is not.
    perm = rng.permutation(300)
    assert coupling.w2_assignment(x, x[perm]) == pytest.approx(0.0, abs=1e-14)
    assert coupling.pairing_w2(x, x[perm]) > 0.5


def test_exact_never_exceeds_pairing_and_equals_it_for_small_noise():
    rng = np.random.default_rng(2)
    gen = rng.standard_normal((4, 64, 1, 3))
    crit = rng.uniform(-1, 1, (4, 48, 3))
    for scale in (1e-3, 0.3, 3.0):
        g2 = gen + scale * rng.standard_normal(gen.shape)
        c2 = crit + scale * rng.standard_normal(crit.shape)
        pair = coupling.pairing_d2(gen, crit, g2, c2)
        exact = coupling.exact_d2(gen, crit, g2, c2)
        assert pair.shape == exact.shape == (4,)
        assert np.all(exact <= pair * (1 + 1e-12))
        if scale == 1e-3:  # the labels are already the optimal assignment
            np.testing.assert_allclose(exact, pair, rtol=1e-10)
        if scale == 3.0:
            assert np.all(exact < 0.9 * pair)


def test_transport_lp_agrees_with_assignment_two_methods():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 3)) + 0.5
    u = np.full(40, 1 / 40)
    assert coupling.w2_weighted(x, u, y, u) == pytest.approx(coupling.w2_assignment(x, y),
                                                            rel=1e-8)
    # Unequal sizes n | n_ref: W_2 to the uniform n-cloud equals the assignment with every
    # point of the small cloud repeated n_ref/n times.
    big = rng.standard_normal((160, 3))
    w2, plan = coupling.transport_plan(x, u, big, np.full(160, 1 / 160))
    assert w2 == pytest.approx(coupling.w2_assignment(np.repeat(x, 4, axis=0), big), rel=1e-8)
    np.testing.assert_allclose(plan.sum(1), u, atol=1e-12)
    np.testing.assert_allclose(plan.sum(0), 1 / 160, atol=1e-12)


def test_weighted_two_point_closed_form():
    # Mass 1/4 at 0 and 3/4 at 1 against 1/2 at 0 and 1/2 at 1: 1/4 of the mass moves by 1.
    x = np.array([[0.0], [1.0]])
    w2 = coupling.w2_weighted(x, np.array([0.25, 0.75]), x, np.array([0.5, 0.5]))
    assert w2 == pytest.approx(0.25, abs=1e-12)


def test_d2_unequal_zero_for_duplicated_reference():
    rng = np.random.default_rng(4)
    gen, crit = rng.standard_normal((8, 1, 3)), rng.uniform(-1, 1, (8, 3))
    assert coupling.d2_unequal(gen, crit, np.repeat(gen, 3, 0), np.repeat(crit, 3, 0)) == \
        pytest.approx(0.0, abs=1e-12)


def test_exact_d2_parts_sum_to_exact_d2():
    rng = np.random.default_rng(5)
    gen, crit = rng.standard_normal((3, 32, 1, 3)), rng.uniform(-1, 1, (3, 24, 3))
    g2, c2 = gen + 0.2 * rng.standard_normal(gen.shape), -crit
    g, c = coupling.exact_d2_parts(gen, crit, g2, c2)
    assert g.shape == c.shape == (3,)
    np.testing.assert_allclose(g + c, coupling.exact_d2(gen, crit, g2, c2), rtol=1e-14)
    # The critic term alone: W_2 between a cloud and its reflection (exact by assignment).
    assert c[0] == pytest.approx(coupling.w2_assignment(crit[0], -crit[0]), rel=1e-14)

