"""Spreading the replica axis over every visible JAX device.

The driver's program is ``jit(vmap(scan(...)))`` over replicas. Its arguments (initial states, noise
keys and, for a batched system, the system's leaves) all carry the replica axis first; when they are
placed on a one-axis :class:`jax.sharding.Mesh` with ``PartitionSpec("replica")``, ``jit`` keeps that
sharding through the whole scan, so each device steps its own slice of replicas and no replica ever
talks to another. Nothing in the step changes: a sharded run gives the single-device numbers.

Replica counts that do not divide the device count are padded (with copies of the last replica) and
the padding is dropped afterwards (:func:`pad_replicas`, :func:`unpad`).

Multi-host runs: set ``MEANFIELD_DISTRIBUTED=1`` (or call :func:`initialize` with ``enabled=True``)
in every process; :func:`initialize` then calls ``jax.distributed.initialize()``, which reads the
coordinator address, process count and id from the environment (``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``, or a cluster manager such as SLURM). The mesh then spans
every process's devices and :func:`shard_replicas` builds global arrays from each process's
addressable slices.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PyTree = Any
AXIS = "replica"
_initialized = False


def distributed_requested() -> bool:
    """True when the environment asks for a multi-host run (``MEANFIELD_DISTRIBUTED=1``)."""
    return os.environ.get("MEANFIELD_DISTRIBUTED", "0").lower() in ("1", "true", "yes")


def initialize(enabled: bool | None = None) -> bool:
    """Start ``jax.distributed`` once when asked (argument, else the environment switch).

    Must run before any other JAX call in the process.

    Returns:
        Whether the distributed runtime is on.
    """
    global _initialized
    if enabled is None:
        enabled = distributed_requested()
    if enabled and not _initialized:
        jax.distributed.initialize()
        _initialized = True
    return _initialized


def replica_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"replica"`` over ``devices`` (default: every visible device)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (AXIS,))


def device_count(mesh: Mesh | None = None) -> int:
    return (mesh or replica_mesh()).size


def padded_size(n: int, mesh: Mesh | None = None) -> int:
    """The smallest multiple of the device count that is >= ``n``."""
    d = device_count(mesh)
    return -(-n // d) * d


def pad_replicas(tree: PyTree, n: int) -> PyTree:
    """Repeat the last entry of every leaf's leading axis until it has ``n`` entries."""
    def pad(x):
        extra = n - x.shape[0]
        if extra <= 0:
            return x
        xp = np if isinstance(x, np.ndarray) else jax.numpy
        return xp.concatenate([x, xp.repeat(x[-1:], extra, axis=0)], axis=0)

    return jax.tree.map(pad, tree)


def unpad(tree: PyTree, n: int) -> PyTree:
    """The first ``n`` entries of every leaf's leading axis."""
    return jax.tree.map(lambda x: x[:n], tree)


def shard_replicas(tree: PyTree, mesh: Mesh | None = None) -> PyTree:
    """Place every leaf with its leading (replica) axis split across ``mesh``.

    Leaves whose leading axis is not a multiple of the device count (or scalars) are replicated.
    With one device this is a plain ``device_put``.
    """
    mesh = mesh or replica_mesh()
    split = NamedSharding(mesh, PartitionSpec(AXIS))
    whole = NamedSharding(mesh, PartitionSpec())

    def place(x):
        shardable = np.ndim(x) >= 1 and x.shape[0] % mesh.size == 0
        sharding = split if shardable else whole
        if jax.process_count() == 1:
            return jax.device_put(x, sharding)
        # Multi-host: each process supplies the slices its own devices hold.
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(place, tree)


def available_bytes() -> int | None:
    """Memory a new run may use on the default device, in bytes (None when it cannot be told).

    An accelerator reports its allocator's limit less what is in use; on the CPU it is the host's
    available memory (``MemAvailable`` of ``/proc/meminfo``, else the physical memory).
    """
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


__all__ = ["available_bytes", "initialize", "distributed_requested", "replica_mesh", "device_count", "padded_size",
           "pad_replicas", "unpad", "shard_replicas"]
