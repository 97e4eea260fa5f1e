"""``XLA_FLAGS=--xla_cpu_max_isa=...`` really narrows XLA:CPU's vectors.

``.ci/run`` reruns ``tests/test_coagulation.py`` under ``--xla_cpu_max_isa=SSE4_2`` to check that
the coagulation observables do not depend on the vector width. That is only a check if the flag
takes effect, so here a small elementwise float32 function is compiled in a subprocess (the flag is
read when JAX starts its CPU backend) with ``--xla_dump_to``, and the widest float vector type in
the dumped optimised LLVM IR (``*.ir-with-opt.ll``) is read: at most 128 bits (``<4 x float>``)
under SSE4_2, at most 256 under AVX (exactly 256 on a host with AVX), and wider than 128 by default
on a host with AVX.

The subprocess imports ``meanfield`` first, as the suite does: :mod:`meanfield.core.xla` adds its own
flag to ``XLA_FLAGS`` and must keep the user's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, os, sys
import meanfield  # noqa: F401  (adds its XLA defaults to XLA_FLAGS, as in the suite)
import jax, jax.numpy as jnp

def elementwise(x, y):
    # Multiply-adds: where FMA is allowed they fuse, one source of ISA-dependent rounding.
    return x * y + 2.0 * x

x = jnp.linspace(0.0, 1.0, 4096, dtype=jnp.float32)
jax.jit(elementwise)(x, x).block_until_ready()
print(json.dumps({"xla_flags": os.environ.get("XLA_FLAGS", "")}))
"""

VECTOR = re.compile(r"<(\d+) x float>")


def host_has_avx() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return "avx" in flags


def compile_and_dump(tmp_path: Path, isa: str | None) -> tuple[int, dict]:
    """Compile SCRIPT's function with ``--xla_cpu_max_isa=isa`` (None: no limit).

    Returns:
        The widest float vector in bits in the function's optimised IR, and what the subprocess
        reported (its final ``XLA_FLAGS``).
    """
    dump = tmp_path / f"dump_{isa or 'default'}"
    flags = f"--xla_dump_to={dump}" + (f" --xla_cpu_max_isa={isa}" if isa else "")
    # No persistent compilation cache (conftest turns it on): a cached program is not compiled
    # again, so XLA would dump no IR to inspect.
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu",
           "JAX_ENABLE_COMPILATION_CACHE": "false"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    # The jitted function's module is named after it, e.g. module_0002.jit_elementwise.*.
    ir = sorted(dump.glob("*jit_elementwise*.ir-with-opt.ll"))
    assert ir, f"no optimised IR dumped: {sorted(p.name for p in dump.iterdir())[:20]}"
    lanes = [int(n) for path in ir for n in VECTOR.findall(path.read_text())]
    # A function that is not vectorised at all would make the width checks vacuous.
    assert lanes, "the elementwise function was not vectorised"
    options = sorted(dump.glob("*jit_elementwise*.debug_options"))
    if isa:
        assert options and f'xla_cpu_max_isa: "{isa}"' in options[0].read_text()
    return 32 * max(lanes), report


@pytest.mark.parametrize("isa, widest", [("SSE4_2", 128), ("AVX", 256)])
def test_max_isa_limits_the_vector_width(tmp_path, isa, widest):
    bits, report = compile_and_dump(tmp_path, isa)
    assert bits <= widest, f"{isa}: {bits}-bit float vectors"
    if isa == "AVX" and host_has_avx():
        assert bits == 256, "AVX allows 256-bit vectors: the limit must not be narrower"
    # meanfield's own defaults are appended, not substituted.
    assert f"--xla_cpu_max_isa={isa}" in report["xla_flags"].split()


def test_default_uses_wider_vectors_where_the_host_has_avx(tmp_path):
    if not host_has_avx():
        pytest.skip("the host has no AVX: 128-bit vectors are the widest anyway")
    bits, _ = compile_and_dump(tmp_path, None)
    assert bits > 128, f"default: only {bits}-bit float vectors on an AVX host"
