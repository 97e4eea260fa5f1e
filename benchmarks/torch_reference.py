"""The simultaneous WGAN particle step in PyTorch, eager and under ``torch.compile``, as a
researcher would write it.

This is the comparison point of ``meanfield bench`` (needs the optional ``bench`` extra,
``pip install -e .[bench]``); it lives outside the installed package, and ``meanfield bench`` loads
it from this folder of a checkout. It does the work of
:meth:`meanfield.schemes.descent_ascent.DescentAscent.step` with ``scheme="simultaneous"`` and SGD on
the payoff :func:`meanfield.systems.wgan.payoff.payoff` (docs/model.md §2): one batch (z, x) of size m per step,
θ ← θ − α ∇_θ Ψ̂, ω ← clip(ω + n_c α ∇_ω Ψ̂, −c, c), gradients by autograd.

``tests/test_torch_reference.py`` checks that, from the same initial particles and the same samples,
it follows the same trajectory as ``meanfield``, so the benchmark compares identical work.

The second half of the file holds the MMD- and KALE-flow steps of the flows section of
``meanfield bench`` (:func:`mmd_step`, :func:`kale_step`; checked against meanfield by
``tests/test_bench_flows.py``).
"""

from __future__ import annotations

import numpy as np
import torch


def generator(gen: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """g_μ(z) ``[m, K]`` for neurons ``gen [N, K, L+2]`` (a, b_1..b_L, c) and latents ``z [m, L]``,
    the logistic sigmoid.

    The pre-activations are one product ``[N·K, L] @ [L, m]`` with the batch last, as in
    meanfield (``meanfield.networks.readout``). Written with the batch first
    (``einsum("nkl,bl->bnk")``), the step under ``torch.compile`` ran 4.6× slower at N = 4096,
    K = L = 8, m = 64 (44 against 205 steps/s) and eagerly 1.5× slower, so the reference uses the
    faster layout (at K = L = 1, m = 64 the batch-first layout compiled 12% faster: 1094 against
    977 steps/s; benchmarks/README.md).
    """
    n, k, _ = gen.shape
    rows = gen.reshape(n * k, -1)
    pre = rows[:, 1:-1] @ z.T + rows[:, -1:]
    return (rows[:, :1] * torch.sigmoid(pre)).reshape(n, k, -1).mean(0).T


def critic(crit: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f_ν(x) ``[m]`` for neurons ``crit [M, K+2]`` (α, β_1..β_K, γ) and points ``x [m, K]``."""
    alpha, beta, gamma = crit[:, :1], crit[:, 1:-1], crit[:, -1:]
    return (alpha * torch.sigmoid(beta @ x.T + gamma)).mean(0)


def critic_outputs(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """f_ν(g_μ(z_b)) and f_ν(x_b), ``[m]`` each (arguments as :func:`generator`, :func:`critic`)."""
    return critic(crit, generator(gen, z)), critic(crit, x)


def payoff(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Ψ̂ = mean_b f_ν(g_μ(z_b)) − mean_b f_ν(x_b) (arguments as :func:`critic_outputs`)."""
    fake, real = critic_outputs(gen, crit, z, x)
    return fake.mean() - real.mean()


def log_value(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor
              ) -> torch.Tensor:
    """The log-loss GAN's value V = mean_b ln σ(f_ν(x_b)) + mean_b ln σ(−f_ν(g_μ(z_b))) (the
    discriminator ascends it; with the saturating loss the generator descends it)."""
    fake, real = critic_outputs(gen, crit, z, x)
    logsig = torch.nn.functional.logsigmoid
    return logsig(real).mean() + logsig(-fake).mean()


#: The zero-sum games by name: the generator descends, the critic ascends.
GAMES = {"wgan": payoff, "gan": log_value}


def sgd_step(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor, lr: float,
             n_critic: int, clip: float, game: str = "wgan") -> None:
    """One simultaneous step, in place (``gen`` and ``crit`` require grad)."""
    psi = GAMES[game](gen, crit, z, x)
    g_gen, g_crit = torch.autograd.grad(psi, (gen, crit))
    with torch.no_grad():
        gen.sub_(lr * g_gen)
        crit.add_(n_critic * lr * g_crit).clamp_(-clip, clip)


def functional_step(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor,
                    lr: float, n_critic: int, clip: float, game: str = "wgan"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The same step as :func:`sgd_step`, returning new tensors (gradients by ``torch.func.grad``),
    so that the whole update compiles as one graph under ``torch.compile``."""
    g_gen, g_crit = torch.func.grad(GAMES[game], argnums=(0, 1))(gen, crit, z, x)
    return gen - lr * g_gen, (crit + n_critic * lr * g_crit).clamp(-clip, clip)


# Every (shape, dtype) of the bench table is one graph; dynamo's default of 8 would fall back to
# eager for the later configurations without saying so.
torch._dynamo.config.cache_size_limit = 64
#: The whole step under torch.compile (static shapes: compiled once per shape, then cached).
compiled_step = torch.compile(functional_step, dynamic=False, fullgraph=True)


def trajectory(gen0: np.ndarray, crit0: np.ndarray, zs: np.ndarray, xs: np.ndarray, lr: float,
               n_critic: int, clip: float, compiled: bool = False, game: str = "wgan"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Run ``len(zs)`` steps from given particles with given samples (the equivalence test).

    Args:
        gen0: ``[N, K, L+2]``; crit0: ``[M, K+2]`` (their dtype is kept).
        zs: ``[steps, m, L]``; xs: ``[steps, m, K]``: the batch of each step.
        compiled: the step under ``torch.compile`` instead of the eager in-place step.
        game: ``"wgan"`` (the payoff Ψ) or ``"gan"`` (the log-loss value V).

    Returns:
        Final ``(gen, crit)`` as numpy arrays.
    """
    gen = torch.tensor(gen0, requires_grad=not compiled)
    crit = torch.tensor(crit0, requires_grad=not compiled)
    zs, xs = torch.as_tensor(zs, dtype=gen.dtype), torch.as_tensor(xs, dtype=gen.dtype)
    for z, x in zip(zs, xs):
        if compiled:
            gen, crit = compiled_step(gen, crit, z, x, lr, n_critic, clip, game)
        else:
            sgd_step(gen, crit, z, x, lr, n_critic, clip, game)
    return gen.detach().numpy(), crit.detach().numpy()


def run(N: int, M: int, K: int, L: int, m: int, steps: int, lr: float = 1.0, n_critic: int = 1,
        clip: float = 1.0, seed: int = 0, compiled: bool = False, game: str = "wgan"
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` simultaneous steps with fresh samples each step, for timing.

    The latent is N(0, I_L) and the target ½N(−1, 0.3²I) + ½N(1, 0.3²I) on R^K, the laws of
    ``meanfield bench``; sampling happens inside the loop as in a training script. ``compiled``:
    the whole update under ``torch.compile`` (:data:`compiled_step`; the first call per shape
    compiles).
    """
    g = torch.Generator().manual_seed(seed)
    gen = torch.randn(N, K, L + 2, generator=g).requires_grad_(not compiled)
    crit = (0.5 * torch.randn(M, K + 2, generator=g)).clamp_(-clip, clip)
    crit.requires_grad_(not compiled)
    centres = torch.tensor([-1.0, 1.0])
    for _ in range(steps):
        z = torch.randn(m, L, generator=g)
        comp = torch.randint(0, 2, (m, 1), generator=g)
        x = centres[comp] + 0.3 * torch.randn(m, K, generator=g)
        if compiled:
            gen, crit = compiled_step(gen, crit, z, x, lr, n_critic, clip, game)
        else:
            sgd_step(gen, crit, z, x, lr, n_critic, clip, game)
    return gen, crit


# -- kernel flows in data space (docs/model.md §8) ---------------------------------------------
#
# The MMD and KALE flow steps of :mod:`meanfield.systems.kernel_flows` for the Gaussian kernel
# k(x, y) = exp(−|x − y|²/(2σ²)), written as a researcher would in PyTorch: dense kernel matrices
# (squared distances by |y|² + |x|² − 2 y·x, one matrix product) and the witness gradient in closed
# form, ∇_y Σⱼ wⱼ k(y, xⱼ) = −(1/σ²) Σⱼ wⱼ k(y, xⱼ)(y − xⱼ). meanfield sums the same terms in
# blocks of 1024 sources; memory here is O(N·(N + M)). ``tests/test_bench_flows.py`` checks both
# follow meanfield's trajectory in float64. Each step returns new tensors (no in-place update), so
# the same function runs eagerly and under ``torch.compile``.


def gaussian_gram(y: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """[k(yᵢ, xⱼ)] ``[n, m]`` for the Gaussian kernel of bandwidth ``sigma``."""
    # |y|² + |x|² − 2 y·x in one addmm; the elementwise passes after it in place.
    r2 = torch.addmm((y * y).sum(1)[:, None] + (x * x).sum(1)[None, :], y, x.T, alpha=-2.0)
    return r2.clamp_min_(0.0).mul_(-0.5 / (sigma * sigma)).exp_()


def witness_grad(y: torch.Tensor, src: torch.Tensor, w: torch.Tensor, sigma: float) -> torch.Tensor:
    """∇_y Σⱼ wⱼ k(y, srcⱼ) at every row of ``y`` ``[n, d]``."""
    s = gaussian_gram(y, src, sigma).mul_(w[None, :])
    return (s @ src - s.sum(1)[:, None] * y) / (sigma * sigma)


def mmd_step(x: torch.Tensor, z: torch.Tensor, q: torch.Tensor, lr: float,
             sigma: float) -> torch.Tensor:
    """One MMD-flow step without noise injection: x ← x − γ∇f(x),
    f(y) = (1/N) Σⱼ k(xⱼ, y) − Σₘ qₘ k(zₘ, y) (``x [N, d]``, target points ``z [M, d]``, weights
    ``q [M]``). Returns the new particles."""
    p = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=x.dtype)
    g = witness_grad(x, torch.cat([x, z]), torch.cat([p, -q]), sigma)
    return x - lr * g


def kale_step(x: torch.Tensor, a: torch.Tensor, z: torch.Tensor, q: torch.Tensor,
              gram: torch.Tensor, lr: float, sigma: float, lam: float,
              newton_steps: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """One KALE-flow step: ``newton_steps`` Newton iterations on
    R(a) = a − (c − K(q ⊙ eᵃ))/λ from the previous step's ``a`` (a warm start), each a dense solve
    with the Jacobian I + K diag(α)/λ (``torch.linalg.solve``), then
    x ← x − γ (1 + λ)/λ ∇_y[(1/N) Σⱼ k(xⱼ, y) − Σᵢ αᵢ k(zᵢ, y)] at y = x, α = q ⊙ eᵃ.

    The number of Newton iterations is fixed (no convergence test, so the step has no
    data-dependent control flow and compiles as one graph). meanfield instead stops at a tolerance;
    ``meanfield bench`` passes the mean number of iterations meanfield took over the same steps,
    so both sides do the same number of solves. Newton converges quadratically here, so iterations
    past convergence change ``a`` only at round-off (the equivalence test runs 10).

    Args:
        x: particles ``[N, d]``; a: aᵢ = h(zᵢ) ``[M]``, the warm start.
        z: target points ``[M, d]``; q: their weights ``[M]``; gram: K = [k(zᵢ, zₗ)] ``[M, M]``.

    Returns:
        ``(x, a)`` after the step.
    """
    n = x.shape[0]
    p = torch.full((n,), 1.0 / n, dtype=x.dtype)
    c = gaussian_gram(z, x, sigma) @ p
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    for _ in range(newton_steps):
        alpha = q * torch.exp(a)
        resid = a - (c - gram @ alpha) / lam
        jac = eye + gram * alpha[None, :] / lam
        a = a - torch.linalg.solve(jac, resid)
    alpha = q * torch.exp(a)
    g = witness_grad(x, torch.cat([x, z]), torch.cat([p, -alpha]), sigma)
    return x - lr * (1.0 + lam) / lam * g, a


def mmd_trajectory(x0: np.ndarray, z: np.ndarray, q: np.ndarray, lr: float, sigma: float,
                   steps: int, step=mmd_step) -> np.ndarray:
    """``steps`` MMD steps from ``x0`` (dtype kept); the final particles as numpy. ``step``: the
    step function (e.g. ``torch.compile(mmd_step)``)."""
    x = torch.tensor(np.array(x0))
    z, q = (torch.tensor(np.array(v), dtype=x.dtype) for v in (z, q))
    for _ in range(steps):
        x = step(x, z, q, lr, sigma)
    return x.numpy()


def kale_trajectory(x0: np.ndarray, a0: np.ndarray, z: np.ndarray, q: np.ndarray, gram: np.ndarray,
                    lr: float, sigma: float, lam: float, steps: int, newton_steps: int = 3,
                    step=kale_step) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` KALE steps from ``(x0, a0)`` (dtype kept): the final ``(x, a)`` as numpy."""
    x, a = torch.tensor(np.array(x0)), torch.tensor(np.array(a0))
    z, q, gram = (torch.tensor(np.array(v), dtype=x.dtype) for v in (z, q, gram))
    for _ in range(steps):
        x, a = step(x, a, z, q, gram, lr, sigma, lam, newton_steps)
    return x.numpy(), a.numpy()


def flow_runner(flow: str, x0: np.ndarray, z: np.ndarray, q: np.ndarray, gram: np.ndarray | None,
                lr: float, sigma: float, lam: float = 1.0, newton_steps: int = 3,
                compiled: bool = False):
    """For ``meanfield bench``: a function ``run(steps) -> x [N, d]`` (numpy) that does ``steps``
    steps of ``flow`` (``"mmd"`` or ``"kale"``) from ``x0`` (and a = 0 for kale), restarting
    there at every call, eagerly or with the whole step under ``torch.compile`` (static shapes;
    compiled at the first call)."""
    x0t = torch.tensor(np.array(x0))
    dt = x0t.dtype
    zt, qt = (torch.tensor(np.array(v), dtype=dt) for v in (z, q))
    if flow == "mmd":
        return _runner(mmd_step, x0t, (zt, qt, lr, sigma), compiled)
    if flow != "kale":
        raise ValueError(f"flow: expected mmd or kale, got {flow!r}")
    gt = torch.tensor(np.array(gram), dtype=dt)
    a0 = torch.zeros(qt.shape, dtype=dt)
    return _runner(kale_step, (x0t, a0), (zt, qt, gt, lr, sigma, lam, newton_steps), compiled)


def _runner(step, state0, args: tuple, compiled: bool):
    """``run(steps)``: ``steps`` calls ``state = step(*state, *args)`` from ``state0`` (a tensor
    or a tuple of them, the particles first) at every call, the particles as numpy; the step
    eager or under ``torch.compile`` (static shapes, compiled at the first call)."""
    step = torch.compile(step, dynamic=False, fullgraph=True) if compiled else step

    def run(steps: int) -> np.ndarray:
        state = state0
        for _ in range(steps):
            state = step(*state, *args) if isinstance(state, tuple) else step(state, *args)
        return (state[0] if isinstance(state, tuple) else state).numpy()
    return run


# -- teacher–student regression (docs/regression.md) --------------------------------------------
#
# The population flow of the risk E(θ) = ½ Σ_b w_b |g_θ(x_b) − g*(x_b)|² over fixed input points
# x_b with weights w_b, θ ← θ − lr·N ∇_θ E (N ∇_{θᵢ} E is the mean-field velocity; meanfield uses
# the closed form of ∇ δE/δμ, the same numbers), gradients by autograd as a researcher would.
# ``tests/test_bench_flows.py`` checks it follows meanfield's trajectory in float64.


def regression_step(theta: torch.Tensor, teacher: torch.Tensor, x: torch.Tensor, w: torch.Tensor,
                    lr: float) -> torch.Tensor:
    """One explicit Euler step of the population flow: the new neurons ``[N, K, L+2]``."""
    target = generator(teacher, x)

    def risk(th):
        r = generator(th, x) - target
        return 0.5 * (w * (r * r).sum(1)).sum()

    return theta - lr * theta.shape[0] * torch.func.grad(risk)(theta)


def regression_runner(theta0: np.ndarray, teacher: np.ndarray, x: np.ndarray, w: np.ndarray,
                      lr: float, compiled: bool = False):
    """For ``meanfield bench``: ``run(steps) -> theta`` (numpy) doing ``steps`` regression steps
    from ``theta0`` at every call, eagerly or under ``torch.compile`` (compiled at the first
    call)."""
    th0 = torch.tensor(np.array(theta0))
    tt, xt, wt = (torch.tensor(np.array(v), dtype=th0.dtype) for v in (teacher, x, w))
    return _runner(regression_step, th0, (tt, xt, wt, lr), compiled)
