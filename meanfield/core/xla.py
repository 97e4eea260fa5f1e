"""XLA:CPU options that the particle steps need, set before JAX starts its CPU backend.

jaxlib 0.10 hands reductions whose operands contain transcendental functions (the readouts'
``mean(a * sigmoid(...))``) to YNNPACK "library fusions". For the small arrays of one particle step
these run about 30× slower than XLA's own loop fusions (measured: 165 µs against 4.5 µs for
N = 4096 sigmoid neurons; see ``benchmarks/README.md``), so meanfield turns them off with
``--xla_cpu_experimental_ynn_fusion_type=`` (an empty list). The flag is only added for the jaxlib
versions it was checked on (an unknown flag aborts XLA), only when the user's ``XLA_FLAGS`` does not
mention it, and not at all when ``MEANFIELD_XLA_DEFAULTS=0``. It takes effect only if this module
runs before JAX creates its backend, as ``import meanfield`` does unless arrays were made before.
"""

from __future__ import annotations

import importlib.metadata
import os

FLAG = "--xla_cpu_experimental_ynn_fusion_type="
#: jaxlib release series on which FLAG was checked to exist and to help.
CHECKED_SERIES = ("0.10.",)


def apply() -> bool:
    """Add :data:`FLAG` to ``XLA_FLAGS`` where appropriate; returns whether it is set now."""
    current = os.environ.get("XLA_FLAGS", "")
    if "ynn_fusion_type" in current:
        return FLAG in current.split()
    if os.environ.get("MEANFIELD_XLA_DEFAULTS", "1") == "0":
        return False
    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not version.startswith(CHECKED_SERIES):
        return False
    os.environ["XLA_FLAGS"] = (current + " " + FLAG).strip()
    return True
