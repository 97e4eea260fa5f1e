"""Spreading the replica axis over every visible JAX device.

The driver's program is ``jit(vmap(scan(...)))`` over replicas. Its arguments (initial states, noise
keys and, for a batched system, the system's leaves) all carry the replica axis first; when they are
placed on a one-axis :class:`jax.sharding.Mesh` with ``PartitionSpec("replica")``, ``jit`` keeps that
sharding through the whole scan, so each device steps its own slice of replicas and no replica ever
talks to another. Nothing in the step changes: a sharded run gives the single-device numbers.

Replica counts that do not divide the device count are padded (with copies of the last replica) and
the padding is dropped afterwards (:func:`pad_replicas`, :func:`unpad`).

Multi-process runs (one process per host, or several on one machine): pass ``enabled=True`` to
:func:`initialize` (the CLI's ``--distributed``), with the coordinator's ``HOST:PORT``, the process
count and this process's id, or let ``jax.distributed.initialize()`` read them from the environment
(``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``, or a cluster manager such
as SLURM); ``MEANFIELD_DISTRIBUTED=1`` asks for it too. CPU processes exchange data through gloo.
The mesh then spans every process's devices: :func:`shard_replicas` builds global arrays from each
process's slices, :func:`to_host` gathers results to every process
(``jax.experimental.multihost_utils``), and only the writer, process 0, writes files
(:func:`is_writer`); the others compute their share of the replicas and agree with it on what to
compute (:func:`broadcast`).
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


def initialize(enabled: bool | None = None, coordinator: str | None = None,
               num_processes: int | None = None, process_id: int | None = None) -> bool:
    """Start ``jax.distributed`` once when asked (argument, else the environment switch).

    Must run before any other JAX call in the process.

    Args:
        enabled: start it (None: when ``MEANFIELD_DISTRIBUTED=1``).
        coordinator: ``HOST:PORT`` of process 0's coordinator (None: from the environment).
        num_processes: the number of processes (None: from the environment).
        process_id: this process's id in ``[0, num_processes)`` (None: from the environment).

    Returns:
        Whether the distributed runtime is on.
    """
    global _initialized
    if enabled is None:
        enabled = distributed_requested()
    if enabled and not _initialized:
        # CPU devices of different processes talk through gloo (XLA's default has no collectives).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
        _initialized = True
    return _initialized


def is_writer() -> bool:
    """True in the process that writes files: process 0 (the only one without distribution)."""
    return jax.process_index() == 0


def to_host(tree: PyTree) -> PyTree:
    """Every leaf as a host numpy array; arrays that span other processes' devices are gathered
    first (a collective: every process must call it in the same order)."""
    from jax.experimental import multihost_utils

    def host(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(host, tree)


def broadcast(value):
    """Process 0's ``value`` (a pytree of numbers or arrays) in every process."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils
    return multihost_utils.broadcast_one_to_all(value)


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
        if jax.process_count() > 1 and jax.dtypes.issubdtype(getattr(x, "dtype", None),
                                                            jax.dtypes.prng_key):
            # Typed keys have no numpy form: place their data, then wrap it again.
            return jax.random.wrap_key_data(place(jax.random.key_data(x)),
                                            impl=jax.random.key_impl(x))
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


__all__ = ["available_bytes", "broadcast", "device_count", "distributed_requested", "initialize",
           "is_writer", "pad_replicas", "padded_size", "replica_mesh", "shard_replicas", "to_host",
           "unpad"]
