"""The descent–ascent scheme (docs/model.md §1): general-sum players, each with its own loss,
optimiser and projection; the zero-sum shortcut agrees with the general form."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from meanfield.schemes.descent_ascent import DescentAscent, Player, zero_sum
from meanfield.schemes.optimizers import box_projection


def _game(scheme="simultaneous", n_critic=1, **players):
    # A general-sum game in closed form: the generator chases the critic, the critic chases a.
    a = jnp.array([0.3, -0.2])
    gen = players.get("gen", Player(lambda g, c, e: 0.5 * jnp.sum((g - c) ** 2), optax.sgd(0.1)))
    crit = players.get("crit", Player(lambda g, c, e: 0.5 * jnp.sum((c - a) ** 2) * e,
                                      optax.sgd(0.2)))
    return DescentAscent(gen=gen, crit=crit, sample=lambda key: jnp.float32(1.0),
                         expect=lambda noise: noise, scheme=scheme, n_critic=n_critic), a


def test_simultaneous_general_sum_step_is_explicit_euler():
    game, a = _game()
    g0, c0 = jnp.array([1.0, 2.0]), jnp.array([-1.0, 0.5])
    s = game.step(game.init(g0, c0), jnp.float32(1.0))
    # Both players move from the old state: g ← g − 0.1 (g − c), c ← c − 0.2 (c − a).
    np.testing.assert_allclose(s.gen, g0 - 0.1 * (g0 - c0), rtol=1e-6)
    np.testing.assert_allclose(s.crit, c0 - 0.2 * (c0 - a), rtol=1e-6)


def test_alternating_moves_the_critic_first_and_n_critic_times():
    game, a = _game("alternating", n_critic=3)
    g0, c0 = jnp.array([1.0, 2.0]), jnp.array([-1.0, 0.5])
    s = game.step(game.init(g0, c0), jax.random.key(0))
    c = c0
    for _ in range(3):
        c = c - 0.2 * (c - a)
    np.testing.assert_allclose(s.crit, c, rtol=1e-6)
    np.testing.assert_allclose(s.gen, g0 - 0.1 * (g0 - c), rtol=1e-6)  # sees the new critic


def test_each_player_has_its_own_projection():
    game, _ = _game(gen=Player(lambda g, c, e: -jnp.sum(g), optax.sgd(1.0), box_projection(1.5)),
                    crit=Player(lambda g, c, e: jnp.sum(c), optax.sgd(1.0), box_projection(0.5)))
    s = game.step(game.init(jnp.array([1.0, 1.4]), jnp.array([0.0, 0.2])), jnp.float32(1.0))
    np.testing.assert_allclose(s.gen, [1.5, 1.5])    # g + 1, clipped at 1.5
    np.testing.assert_allclose(s.crit, [-0.5, -0.5])  # c − 1, clipped at −0.5


@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_zero_sum_shortcut_equals_the_general_form(scheme):
    """One backward pass of Ψ gives the same step as two players with losses Ψ and −Ψ."""
    def psi(g, c, e):
        return jnp.sum(jnp.tanh(g[:, None] * c[None, :] + e))

    kw = dict(sample=lambda key: jax.random.normal(key, ()), expect=lambda x: x, scheme=scheme,
              n_critic=2)
    fast = zero_sum(psi, optax.sgd(0.05), optax.sgd(0.1), box_projection(0.3), **kw)
    slow = DescentAscent(gen=Player(psi, optax.sgd(0.05)),
                         crit=Player(lambda g, c, e: -psi(g, c, e), optax.sgd(0.1),
                                     box_projection(0.3)), **kw)
    s_fast = fast.init(jnp.linspace(-1, 1, 5), jnp.linspace(-0.2, 0.25, 3))
    s_slow = slow.init(jnp.linspace(-1, 1, 5), jnp.linspace(-0.2, 0.25, 3))
    for k in range(5):
        key = jax.random.key(k)
        noise = fast.sample(key) if scheme == "simultaneous" else key
        s_fast, s_slow = fast.step(s_fast, noise), slow.step(s_slow, noise)
    np.testing.assert_allclose(s_fast.gen, s_slow.gen, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s_fast.crit, s_slow.crit, rtol=1e-6, atol=1e-7)


def test_bad_options_are_refused_when_built():
    with pytest.raises(ValueError, match="scheme"):
        _game("altrenating")
    with pytest.raises(ValueError, match="gen"):
        _game(gen=Player(None, optax.sgd(0.1)))
