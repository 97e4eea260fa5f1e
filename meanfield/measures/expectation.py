"""Expectations as weighted points: one type for sample batches, quadrature rules and fixed samples.

A step of any particle system evaluates its expectations under an :class:`Expectation`: a fresh
batch (weights 1/m) gives the SGD dynamics, a fixed quadrature rule of the laws gives the
population (mean-field) dynamics from the same particles (docs/model.md §2), and a large fixed
sample stands in for quadrature in high dimension. Every formula is then a weighted sum, so the
two dynamics share every line of the update.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

Array = jax.Array


class Expectation(NamedTuple):
    """Latent and data points with weights: E_z h(z) ≈ wz @ h(z), E_x h(x) ≈ wx @ h(x).

    Attributes:
        z: latents ``[B_z, L]``.
        wz: weights ``[B_z]`` summing to 1.
        x: data ``[B_x, K]``.
        wx: weights ``[B_x]`` summing to 1.
    """

    z: Array
    wz: Array
    x: Array
    wx: Array
