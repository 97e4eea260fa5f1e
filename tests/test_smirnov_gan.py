"""The Smirnov output layer in the GAN (``system.output = "smirnov"``): exact marginals of the
data under the exact layer, the interpolated layer in the losses, the config, and the comparison
script (slow)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from conftest import ROOT, script
from meanfield.io import config, experiment
from meanfield.measures.laws import gaussian_mixture, StandardGaussian
from meanfield.networks import smirnov
from meanfield.systems.gan.system import make_gan

DATA = np.array([[0.0, 5.0], [3.0, 1.0], [1.0, 1.0], [7.0, 2.0], [2.0, 0.5]])


def _gan(output: str, **kw):
    return make_gan(K=2, L=2, N=8, M=8, latent=StandardGaussian(2),
                    target=gaussian_mixture([1.0], [[0.0, 0.0]], [1.0]), lr=0.1, batch_size=4,
                    output=output, smirnov_data=DATA, n_eval=64, **kw)


def test_exact_layer_on_latent_quantiles_gives_the_data_marginals_exactly():
    # A generator whose output is N(0, 1) per coordinate, at the latent midpoint quantiles
    # Φ⁻¹((i − ½)/n): the exact layer returns each data value of each feature once.
    system = _gan("smirnov")
    n = len(DATA)
    h = special.ndtri((np.arange(n) + 0.5) / n)
    h = np.stack([h, h[::-1]], 1)
    out = np.asarray(system.output_layer(train=False)(jnp.asarray(h, jnp.float32)))
    np.testing.assert_array_equal(np.sort(out, 0), np.sort(DATA, 0))
    # The interpolated layer (training) goes through the same points at these quantiles.
    inter = np.asarray(system.output_layer(train=True)(jnp.asarray(h, jnp.float32)))
    np.testing.assert_allclose(np.sort(inter, 0), np.sort(DATA, 0), atol=1e-5)


def test_generated_points_are_data_values_and_identity_is_unchanged():
    sm, plain = _gan("smirnov"), _gan("identity")
    state = plain.init(jax.random.key(0))
    x = np.asarray(sm.generated(state.gen))
    for j in range(2):
        assert np.isin(x[:, j], DATA[:, j]).all()  # every generated coordinate is a data value
    y = np.asarray(plain.generated(state.gen))
    np.testing.assert_array_equal(np.asarray(smirnov.exact(sm.smirnov, jnp.asarray(y))), x)
    assert plain.output_layer(train=True) is None


def test_the_game_differentiates_through_the_interpolated_layer():
    system = _gan("smirnov")
    state = system.init(jax.random.key(1))
    e = system.draw(jax.random.key(2))
    g = jax.grad(lambda gen: system.game.gen.loss(gen, state.crit, e))(state.gen)
    assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).max()) > 0
    step = system.step(state, system.step_noise(jax.random.key(3)))
    assert not np.array_equal(np.asarray(step.gen), np.asarray(state.gen))


def test_config_output_and_refusals():
    cfg = config.load(ROOT / "configs" / "smirnov_skewed.toml", ["system.output=smirnov"])
    system = experiment.build_system(cfg)
    assert system.output == "smirnov" and system.smirnov.sorted.shape == (1, 4096)
    with pytest.raises(config.ConfigError, match="system.output"):
        config.load(ROOT / "configs" / "smirnov_skewed.toml", ["system.output=quantile"])
    with pytest.raises(config.ConfigError, match="system.output"):
        config.load(ROOT / "configs" / "jsd_three_ways.toml", ["system.output=smirnov"])
    with pytest.raises(ValueError, match="output"):
        _gan("smirnov", algorithm="jsd_flow", loss="saturating", scheme="alternating")


@pytest.mark.slow  # the script's smoke test (about 2 min): plumbing, not the numbers
def test_smirnov_gan_script(tmp_path):
    out = tmp_path / "smirnov"
    res = script("smirnov_gan.py", "--smoke", "--out", out, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers) == {"digits", "skewed"}
    for e in numbers.values():
        for output in ("identity", "smirnov"):
            assert np.isfinite(e[output]["cdf_l1_mean"])
    assert 0 < numbers["digits"]["smirnov"]["tstr_f1"] <= 1
    assert numbers["digits"]["train_on_real_f1"] > 0.9
    assert (out / "smirnov.png").read_bytes()[:4] == b"\x89PNG"
