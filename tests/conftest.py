"""Shared helpers of the test suite: small WGAN systems, float64 mode, the repository's paths.

The suite runs under strict JAX settings: implicit rank promotion (adding a ``[n]`` array to a
``[m, n]`` one without saying so) raises, so every broadcast in the library is written out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Compiled programs are cached on disk for the session's processes (the pytest workers and the
# CLI subprocesses they start inherit this environment): many tests compile the same tiny configs.
# Set before JAX is imported, which reads these variables once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(Path(tempfile.gettempdir()) / f"meanfield-test-jax-cache-{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from meanfield.measures import laws
from meanfield.schemes.descent_ascent import DescentAscentState
from meanfield.systems.wgan.system import make_wgan

jax.config.update("jax_numpy_rank_promotion", "raise")

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "configs" / "quickstart.toml"


def script(name: str, *args, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python experiments/NAME ARGS`` from the repository root, output captured."""
    return subprocess.run([sys.executable, str(ROOT / "experiments" / name), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def x64():
    """Run the test body in JAX's float64 mode (tight tolerances need it)."""
    with jax.enable_x64(True):
        yield


def bimodal(K: int = 1):
    """½N(−1, 0.3²) + ½N(1, 0.3²) on R^K (the quickstart's target, along the diagonal if K > 1)."""
    return laws.gaussian_mixture([0.5, 0.5], [[-1.0] * K, [1.0] * K], [0.3, 0.3])


def small_wgan(*, K: int = 1, L: int = 1, N: int = 8, M: int = 8, lr: float = 0.5,
               clip: float = 1.0, dtype: str = "float64", target=None, **kw):
    """A small WGAN with the quickstart's laws; call inside ``jax.enable_x64`` for float64."""
    kw.setdefault("n_eval", 256)
    kw.setdefault("n_directions", 16)
    return make_wgan(K=K, L=L, N=N, M=M, latent=laws.StandardGaussian(L),
                     target=target if target is not None else bimodal(K), lr=lr, clip=clip,
                     dtype=dtype, **kw)


def random_particles(seed: int, N: int, M: int, K: int, L: int, clip: float = 1.0,
                     dtype=jnp.float64):
    """Generator particles ``[N, K, L+2]`` (std 1) and critic particles ``[M, K+2]`` inside Q.

    Drawn with numpy: eager jax.random costs a compilation per shape, numpy costs nothing.
    """
    rng = np.random.default_rng(seed)
    gen = rng.standard_normal((N, K, L + 2))
    crit = rng.uniform(-0.9 * clip, 0.9 * clip, (M, K + 2))
    return jnp.asarray(gen, dtype), jnp.asarray(crit, dtype)


def duplicate_state(state: DescentAscentState, system) -> DescentAscentState:
    """Every particle twice (rows i and i + N are copies), with a fresh optimiser state."""
    gen = jnp.concatenate([state.gen, state.gen])
    crit = jnp.concatenate([state.crit, state.crit])
    return system.game.init(gen, crit)


def stack(tree, R: int = 1):
    """Add a leading replica axis of size ``R`` to every leaf (``simulate(initial_state=...)``)."""
    return jax.tree.map(lambda x: jnp.stack([x] * R), tree)


def assert_allclose(actual, desired, rtol=0.0, atol=0.0, err_msg=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol,
                               err_msg=err_msg)
