"""The PyTorch reference of `meanfield bench` follows meanfield's trajectory (so both do the same work)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from meanfield.measures import laws  # noqa: E402
from meanfield.core.driver import make_schedule, simulate  # noqa: E402
from meanfield.studies.bench import torch_reference as load_reference  # noqa: E402
from meanfield.systems.gan.system import make_gan  # noqa: E402
from meanfield.systems.wgan.system import make_wgan  # noqa: E402

torch_reference = load_reference()  # benchmarks/torch_reference.py, outside the package


@pytest.mark.parametrize("K, L, m, compiled, game", [
    (1, 1, 1, False, "wgan"), (1, 1, 1, False, "gan"),
    pytest.param(2, 3, 4, False, "wgan", marks=pytest.mark.slow),
    pytest.param(2, 3, 4, True, "wgan", marks=pytest.mark.slow),
    pytest.param(2, 3, 4, True, "gan", marks=pytest.mark.slow)],
    ids=["eager", "eager-gan", "eager-2-3-4", "compile", "compile-gan"])
def test_same_trajectory_as_meanfield(K, L, m, compiled, game):
    """From the same particles and the same batches, 40 simultaneous steps agree to 1e-10 (float64),
    eagerly and with the whole step under ``torch.compile`` (slow: inductor compiles for ~40 s);
    for the WGAN and for the log-loss GAN (saturating, clipped here too so the clamp is tested)."""
    N, M, steps, lr, n_c, clip = 16, 12, 40, 0.5, 3, 0.3
    with jax.enable_x64(True):
        target = laws.gaussian_mixture([0.5, 0.5], [[-1.0] * K, [1.0] * K], [0.3, 0.3])
        kw = dict(K=K, L=L, N=N, M=M, latent=laws.StandardGaussian(L), target=target, lr=lr,
                  n_critic=n_c, clip=clip, batch_size=m, dtype="float64", n_eval=16)
        w = make_gan(**kw) if game == "gan" else make_wgan(**kw)
        key_init, key_noise = jax.random.key(3), jax.random.key(4)
        state0 = w.init(key_init)
        # The driver's step key is fold_in(noise key, global step), steps counted from 0.
        draws = [w.draw(jax.random.fold_in(key_noise, k)) for k in range(steps)]
        zs = np.stack([np.asarray(d.z) for d in draws])
        xs = np.stack([np.asarray(d.x) for d in draws])
        sched = make_schedule(w.dt, steps * w.dt, n_records=5)
        assert sched.n_steps == steps
        traj = simulate(w, sched, key_init[None], key_noise[None],
                        initial_state=jax.tree.map(lambda x: x[None], state0))
        try:
            gen_t, crit_t = torch_reference.trajectory(np.asarray(state0.gen),
                                                       np.asarray(state0.crit), zs, xs, lr, n_c,
                                                       clip, compiled=compiled, game=game)
        except Exception as e:  # noqa: BLE001 — inductor needs a C++ compiler
            if not compiled:
                raise
            pytest.skip(f"torch.compile unavailable here: {type(e).__name__}")
    gen_j, crit_j = np.asarray(traj.final_state.gen[0]), np.asarray(traj.final_state.crit[0])
    # The run must move the particles (else agreement would be vacuous) and hit the clip: a move
    # of 1e-4, six orders above the agreement tolerance, is enough (these float32-drawn initial
    # particles move 6.4e-4 in the (1, 1, 1) case).
    assert np.abs(gen_j - np.asarray(state0.gen)).max() > 1e-4
    assert (np.abs(crit_j) == clip).any()
    np.testing.assert_allclose(gen_t, gen_j, rtol=0, atol=1e-10)
    np.testing.assert_allclose(crit_t, crit_j, rtol=0, atol=1e-10)


def test_payoff_matches():
    """Ψ̂ of the reference equals meanfield's payoff at random particles (float64)."""
    from meanfield.measures.expectation import Expectation
    from meanfield.systems.wgan.payoff import payoff

    rng = np.random.default_rng(0)
    gen, crit = rng.normal(size=(7, 2, 5)), rng.normal(size=(9, 4))
    z, x = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    with jax.enable_x64(True):
        w = jnp.full((6,), 1 / 6)
        ref = float(payoff(jnp.asarray(gen), jnp.asarray(crit), Expectation(jnp.asarray(z), w,
                                                                           jnp.asarray(x), w)))
    got = float(torch_reference.payoff(*(torch.tensor(a) for a in (gen, crit, z, x))))
    assert abs(got - ref) < 1e-12
