"""Particle systems, one folder per family. Each folder declares a ``KIND``
(:class:`meanfield.core.registry.Kind`: its ``[system]`` config, builder, figures, vmappable
fields); registering it is one line below.
"""

from meanfield.core.registry import register
from meanfield.systems import dirac, gan, kernel_flows, regression, toy, wgan

register(wgan.KIND)
register(toy.KIND)
register(dirac.KIND)
register(kernel_flows.MMD)
register(kernel_flows.KALE)
register(kernel_flows.LANGEVIN)
register(gan.KIND)
register(regression.KIND)
