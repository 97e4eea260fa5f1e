"""The simultaneous WGAN particle step in PyTorch eager, as a researcher would write it.

This is the comparison point of ``meanfield bench`` (needs the optional ``bench`` extra,
``pip install -e .[bench]``); it lives outside the installed package, and ``meanfield bench`` loads
it from this folder of a checkout. It does the work of
:meth:`meanfield.schemes.descent_ascent.DescentAscent.step` with ``scheme="simultaneous"`` and SGD on
the payoff :func:`meanfield.systems.wgan.payoff.payoff` (docs/model.md §2): one batch (z, x) of size m per step,
θ ← θ − α ∇_θ Ψ̂, ω ← clip(ω + n_c α ∇_ω Ψ̂, −c, c), gradients by autograd.

``tests/test_torch_reference.py`` checks that, from the same initial particles and the same samples,
it follows the same trajectory as ``meanfield``, so the benchmark compares identical work.
"""

from __future__ import annotations

import numpy as np
import torch


def payoff(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Ψ̂ = mean_b f_ν(g_μ(z_b)) − mean_b f_ν(x_b) with the logistic sigmoid.

    Args:
        gen: ``[N, K, L+2]`` generator neurons (a, b_1..b_L, c).
        crit: ``[M, K+2]`` critic neurons (α, β_1..β_K, γ).
        z: ``[m, L]`` latents.
        x: ``[m, K]`` data.
    """
    a, b, c = gen[..., 0], gen[..., 1:-1], gen[..., -1]
    fake = (a * torch.sigmoid(torch.einsum("nkl,bl->bnk", b, z) + c)).mean(dim=1)
    alpha, beta, gamma = crit[:, 0], crit[:, 1:-1], crit[:, -1]

    def f(p):
        return (alpha * torch.sigmoid(p @ beta.T + gamma)).mean(dim=1)

    return f(fake).mean() - f(x).mean()


def sgd_step(gen: torch.Tensor, crit: torch.Tensor, z: torch.Tensor, x: torch.Tensor, lr: float,
             n_critic: int, clip: float) -> None:
    """One simultaneous step, in place (``gen`` and ``crit`` require grad)."""
    psi = payoff(gen, crit, z, x)
    g_gen, g_crit = torch.autograd.grad(psi, (gen, crit))
    with torch.no_grad():
        gen.sub_(lr * g_gen)
        crit.add_(n_critic * lr * g_crit).clamp_(-clip, clip)


def trajectory(gen0: np.ndarray, crit0: np.ndarray, zs: np.ndarray, xs: np.ndarray, lr: float,
               n_critic: int, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Run ``len(zs)`` steps from given particles with given samples (the equivalence test).

    Args:
        gen0: ``[N, K, L+2]``; crit0: ``[M, K+2]`` (their dtype is kept).
        zs: ``[steps, m, L]``; xs: ``[steps, m, K]``: the batch of each step.

    Returns:
        Final ``(gen, crit)`` as numpy arrays.
    """
    gen = torch.tensor(gen0, requires_grad=True)
    crit = torch.tensor(crit0, requires_grad=True)
    zs, xs = torch.as_tensor(zs, dtype=gen.dtype), torch.as_tensor(xs, dtype=gen.dtype)
    for z, x in zip(zs, xs):
        sgd_step(gen, crit, z, x, lr, n_critic, clip)
    return gen.detach().numpy(), crit.detach().numpy()


def run(N: int, M: int, K: int, L: int, m: int, steps: int, lr: float = 1.0, n_critic: int = 1,
        clip: float = 1.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` simultaneous steps with fresh samples each step, for timing.

    The latent is N(0, I_L) and the target ½N(−1, 0.3²I) + ½N(1, 0.3²I) on R^K, the laws of
    ``meanfield bench``; sampling happens inside the loop as in a training script.
    """
    g = torch.Generator().manual_seed(seed)
    gen = torch.randn(N, K, L + 2, generator=g).requires_grad_()
    crit = (0.5 * torch.randn(M, K + 2, generator=g)).clamp_(-clip, clip).requires_grad_()
    centres = torch.tensor([-1.0, 1.0])
    for _ in range(steps):
        z = torch.randn(m, L, generator=g)
        comp = torch.randint(0, 2, (m, 1), generator=g)
        x = centres[comp] + 0.3 * torch.randn(m, K, generator=g)
        sgd_step(gen, crit, z, x, lr, n_critic, clip)
    return gen, crit
