"""The driver: any :class:`~meanfield.core.system.ParticleSystem`, R replicas, one compiled ``lax.scan``.

Time is mean-field time (docs/model.md §1): a run of horizon T takes about T/dt steps. Observables are
recorded on a uniform grid of ``n_records`` times (t = 0 included); particles are kept only at the
requested snapshot times, so memory grows with the number of snapshots, never with the number of
steps. The grid is advanced in chunks of records; each chunk is the same compiled program
(``jit(vmap(scan(scan(step)))``), which lets the caller show progress and checkpoint between chunks.

Randomness: the noise of step k of replica r is ``fold_in(key_r, k)``, so the numbers do not depend
on the chunk size, and a resumed run reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.core import devices
from meanfield.core.system import ParticleSystem, finite_check

PyTree = Any


class NonFiniteError(FloatingPointError):
    """A replica's particles or observables stopped being finite; the message names the steps."""


class InsufficientMemory(MemoryError):
    """A run would need more memory than the device has available; the message says how much."""


def _tree_bytes(tree) -> int:
    return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def _check_memory(need: float, what: str) -> None:
    from meanfield.core.devices import available_bytes

    have = available_bytes()
    if have is not None and need > have:
        raise InsufficientMemory(f"the run needs about {_gib(need)} of memory ({what}) but "
                                 f"{_gib(have)} are available; use fewer particles or replicas")


def _first_nonfinite(observables: dict, first_record: int) -> tuple[int, int, str] | None:
    """(record, replica, name) of the earliest non-finite observable in a block of records."""
    worst = None
    for name, v in observables.items():
        v = np.asarray(v)
        if not np.issubdtype(v.dtype, np.inexact):
            continue
        bad = ~np.isfinite(v.reshape(v.shape[0], v.shape[1], -1)).all(axis=2)
        if bad.any():
            rec = int(np.argmax(bad.any(axis=0)))
            hit = (first_record + rec, int(np.argmax(bad[:, rec])), name)
            worst = hit if worst is None or hit < worst else worst
    return worst


@dataclass(frozen=True)
class Schedule:
    """How a horizon T is cut into steps, records and snapshots.

    Attributes:
        dt: mean-field time per step.
        record_every: steps between two recorded times.
        n_intervals: number of record intervals (records are ``n_intervals + 1`` times).
        snapshot_records: record indices at which all particles are saved (sorted, unique).
    """

    dt: float
    record_every: int
    n_intervals: int
    snapshot_records: tuple[int, ...]

    @property
    def n_steps(self) -> int:
        return self.record_every * self.n_intervals

    @property
    def T(self) -> float:
        return self.n_steps * self.dt

    @property
    def t(self) -> np.ndarray:
        """Recorded times, shape ``[n_intervals + 1]``."""
        return np.arange(self.n_intervals + 1) * self.record_every * self.dt

    @property
    def snapshot_t(self) -> np.ndarray:
        """Snapshot times, shape ``[S]``."""
        return self.t[list(self.snapshot_records)]


#: Step indices are int32 inside the compiled program (they select each step's noise).
MAX_STEPS = 2 ** 31 - 1


def _steps(t: float, dt: float) -> tuple[int, bool]:
    """Steps of size ``dt`` that reach time ``t``, and whether they reach it exactly."""
    x = t / dt
    k = round(x)
    if abs(x - k) <= 1e-9 * max(1.0, x):
        return int(k), True
    return math.ceil(x), False


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def make_schedule(dt: float, T: float, n_records: int = 101,
                  snapshot_times: tuple[float, ...] = ()) -> Schedule:
    """Cut ``[0, T]`` into steps of ``dt``, recorded times and snapshot records.

    Records are every ``record_every`` steps; snapshots are taken at records. The grid honours the
    request exactly where the step allows:

    1. ``T`` takes ``T/dt`` steps when that is an integer (to 1e-9), else ``ceil(T/dt)``.
    2. ``record_every`` is chosen among the divisors of the greatest common divisor of the step
       counts of ``T`` and of every snapshot time, so that ``T`` and every snapshot time are record
       times; among those giving at most twice the requested number of records, the one closest
       (in ratio) to the requested spacing ``T/(n_records − 1)``.
    3. If no such divisor exists, snapshot times are given up first (rounded up to the next record,
       so a snapshot at ``T`` is always the final state), then ``T`` (``record_every`` =
       ``ceil(steps/(n_records − 1))``, the run ends at the first record at or after ``T``).

    Snapshot times beyond ``T`` are dropped. :func:`schedule_notes` says, in words, where the
    result departs from the request.

    Args:
        dt: mean-field time per step (> 0).
        T: horizon (> 0).
        n_records: requested number of recorded times including t = 0 (>= 2).
        snapshot_times: times at which to keep all particles.

    Returns:
        The schedule.
    """
    if not (dt > 0 and T > 0 and n_records >= 2):
        raise ValueError(f"need dt > 0, T > 0, n_records >= 2 (got {dt}, {T}, {n_records})")
    total, _ = _steps(T, dt)
    total = max(1, total)
    if total > MAX_STEPS:
        raise ValueError(f"T = {T:g} takes {total} steps of {dt:.3g}; at most {MAX_STEPS} are "
                         "possible (step indices are int32 in the compiled program)")
    kept = [s for s in snapshot_times if s <= T * (1 + 1e-12)]
    snap_steps = [min(total, max(0, _steps(s, dt)[0])) for s in kept]
    want = n_records - 1
    if total <= want:
        every = 1
    else:
        spacing = total / want
        every = None
        for common in (math.gcd(total, *snap_steps), total):
            fits = [d for d in _divisors(common) if total // d <= 2 * want]
            if fits:
                every = min(fits, key=lambda d: (abs(math.log(d / spacing)), d))
                break
        if every is None:
            every = math.ceil(spacing)
    n_intervals = math.ceil(total / every)
    snaps = sorted({min(n_intervals, math.ceil(k / every)) for k in snap_steps})
    return Schedule(float(dt), every, n_intervals, tuple(snaps))


def schedule_notes(schedule: Schedule, T: float, n_records: int,
                   snapshot_times: tuple[float, ...] = ()) -> list[str]:
    """Where ``schedule`` departs from the request it was made for, one sentence each.

    Returns:
        An empty list when the horizon, the record count and every snapshot time are as asked.
    """
    notes = []
    dt, rel = schedule.dt, 1e-9
    if abs(schedule.T - T) > rel * T:
        notes.append(f"the run ends at t = {schedule.T:.10g}, not T = {T:.10g}: T is not a "
                     f"multiple of the time step {dt:.6g}")
    if schedule.n_intervals + 1 != n_records:
        notes.append(f"{schedule.n_intervals + 1} records every {schedule.record_every * dt:.6g} "
                     f"(every {schedule.record_every} steps) instead of {n_records}, so that the "
                     "horizon and the snapshot times fall on records")
    dropped = [s for s in snapshot_times if s > T * (1 + 1e-12)]
    if dropped:
        notes.append("snapshot times beyond T dropped: " + ", ".join(f"{s:.6g}" for s in dropped))
    kept = sorted({s for s in snapshot_times if s <= T * (1 + 1e-12)})
    grid = schedule.t
    for s in kept:
        got = grid[min(schedule.n_intervals, math.ceil(_steps(s, dt)[0] / schedule.record_every))]
        if abs(got - s) > rel * max(T, 1.0):
            notes.append(f"snapshot at t = {got:.10g} instead of {s:.10g}")
    return notes


class Trajectory(NamedTuple):
    """What a run returns; every array is a host numpy array.

    Attributes:
        t: recorded times ``[n_rec]``.
        observables: name -> ``[R, n_rec, ...]``.
        snapshot_t: snapshot times ``[S]``.
        snapshots: name -> ``[R, S, ...]``.
        final_state: the system's state after the last step, with a leading replica axis.
        schedule: the schedule that was run.
        compile_seconds: time to compile the chunk program (0 when cached).
        run_seconds: wall time of the steps, compilation excluded (earlier sessions of a resumed
            run included).
    """

    t: np.ndarray
    observables: dict[str, np.ndarray]
    snapshot_t: np.ndarray
    snapshots: dict[str, np.ndarray]
    final_state: PyTree
    schedule: Schedule
    compile_seconds: float
    run_seconds: float


class Carry(NamedTuple):
    """Scan carry of one replica: the state, the snapshot buffer and the first bad record (-1)."""

    state: PyTree
    snaps: dict[str, jax.Array]
    bad_record: jax.Array


#: Largest block of pre-drawn step noise (bytes per replica; drawing it takes about 20x that in
#: temporaries); records with more steps draw their noise block by block.
NOISE_BLOCK_BYTES = 64 * 2 ** 10


def _draws_noise(system) -> bool:
    return callable(getattr(system, "step_noise", None))


def _noise_block(system, every: int) -> tuple[int, int]:
    """``(block, rest)``: steps whose noise is drawn at once, and the steps left after
    ``every // block`` such blocks. The block is the largest divisor of ``every`` within the
    budget when that divisor is at least a quarter of it (no remainder), else the budget itself
    and a shorter last block: a record interval with no good divisor (a prime number of steps)
    would otherwise draw one step at a time, 3-5x slower (benchmarks/README.md)."""
    if not _draws_noise(system):
        return every, 0
    shapes = jax.eval_shape(system.step_noise, jax.random.key(0))
    per_step = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    cap = min(every, max(1, NOISE_BLOCK_BYTES // max(per_step, 1)))
    divisor = max(d for d in range(1, cap + 1) if every % d == 0)
    if 4 * divisor >= cap:
        return divisor, 0
    return cap, every % cap


def chunk_program(schedule: Schedule, chunk: int, batched: bool, fixed: Any = None,
                  observe: bool = True):
    """``(system, carry[R], keys[R], first_record) -> (carry[R], observables[R, chunk])``.

    ``system`` is mapped over its leading axis when ``batched`` (one system per replica), else
    shared by all replicas. A system that is not a pytree is passed as ``fixed`` and closed over.
    ``observe=False`` records no observables (an empty dict): ``meanfield bench`` times the
    steps and the observables apart.
    """
    snap_records = jnp.asarray(schedule.snapshot_records or (-1,), dtype=jnp.int32)
    every = schedule.record_every

    def one_record(system, carry: Carry, key: jax.Array, record: jax.Array):
        block, rest = _noise_block(system, every)

        def run_steps(state, start, size: int):
            # Step k's randomness comes from fold_in(key, k) alone, so chunking cannot change it.
            steps = (record - 1) * every + start + jnp.arange(size)
            keys = jax.vmap(jax.random.fold_in, (None, 0))(key, steps)
            # Drawn for a block of steps at once: one vectorised RNG call instead of many small
            # ones, and samples that XLA cannot fuse into (and recompute in) the step's loops.
            noise = jax.vmap(system.step_noise)(keys) if _draws_noise(system) else keys

            def one_step(carry, i):
                # The step's noise rides in the carry, sliced one step ahead: scanning over it
                # directly lets XLA fuse the dynamic slice into every elementwise loop of the
                # step, which then cannot vectorise (1.7-3.3x slower on CPU; benchmarks/README).
                state, current = carry
                following = jax.tree.map(
                    lambda a: jax.lax.dynamic_index_in_dim(a, jnp.minimum(i + 1, size - 1),
                                                           keepdims=False), noise)
                return (system.step(state, current), following), None

            first = jax.tree.map(lambda a: a[0], noise)
            (state, _), _ = jax.lax.scan(one_step, (state, first), jnp.arange(size))
            return state

        full = every // block
        state, _ = jax.lax.scan(lambda s, b: (run_steps(s, b * block, block), None),
                                carry.state, jnp.arange(full))
        if rest:
            state = run_steps(state, full * block, rest)
        hit = snap_records == record
        slot = jnp.argmax(hit)
        shot = system.snapshot(state)
        snaps = jax.tree.map(
            lambda buf, x: buf.at[slot].set(jnp.where(hit.any(), x, buf[slot])), carry.snaps, shot)
        bad = jnp.where((carry.bad_record < 0) & ~finite_check(state),
                        record.astype(jnp.int32), carry.bad_record)
        return Carry(state, snaps, bad), (system.observe(state) if observe else {})

    def replica(system, carry: Carry, key: jax.Array, first_record: jax.Array):
        system = fixed if fixed is not None else system

        def body(c, i):
            return one_record(system, c, key, first_record + i)

        return jax.lax.scan(body, carry, jnp.arange(chunk))

    replicas = jax.vmap(replica, in_axes=(0 if batched else None, 0, 0, None))

    def program(system, carry: Carry, keys: jax.Array, first_record: jax.Array):
        if keys.shape[0] != 1:
            return replicas(system, carry, keys, first_record)
        # One replica runs unbatched: under vmap every product of the step is a batched dot with
        # a batch of one, which XLA:CPU ran 17-22% slower (benchmarks/README.md).
        first = functools.partial(jax.tree.map, lambda a: a[0])
        out = replica(first(system) if batched else system, first(carry), keys[0], first_record)
        return jax.tree.map(lambda a: a[None], out)

    return program


def replica_keys(seed: int, replicas: int, shared_init: bool = False) -> tuple[jax.Array, jax.Array]:
    """Initial-particle keys and noise keys, ``[R]`` each, from one integer seed.

    With ``shared_init`` every replica starts from the same particles (the coupled studies of
    docs/model.md §3) and differs only in its sampling noise.
    """
    root = jax.random.key(seed)
    init_root, noise_root = jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)
    if shared_init:
        init_keys = jnp.stack([init_root] * replicas)
    else:
        init_keys = jax.random.split(init_root, replicas)
    return init_keys, jax.random.split(noise_root, replicas)


def _best_chunk(n_intervals: int, target: int) -> int:
    """Largest divisor of ``n_intervals`` not above ``target``: one compiled shape per run."""
    target = max(1, min(target, n_intervals))
    return max(d for d in range(1, target + 1) if n_intervals % d == 0)


class _Programs:
    """The compiled pieces of a run: the chunk program and the vmapped init/snapshot/observe.

    Kept per (schedule, chunk, batching, constant system) so that repeated runs of one shape (sweep
    cells, tests, benchmarks) compile once; executables are further kept per argument signature.
    """

    def __init__(self, schedule: Schedule, chunk: int, batched: bool, fixed: Any):
        # The carry is donated: the caller's ``initial_state`` arrays may be consumed by the run.
        self.program = jax.jit(chunk_program(schedule, chunk, batched, fixed), donate_argnums=1)
        axis = 0 if batched else None
        self.methods = {
            name: jax.jit(jax.vmap(lambda sys, x, name=name: getattr(fixed or sys, name)(x),
                                   in_axes=(axis, 0)))
            for name in ("init", "snapshot", "observe")}
        self.methods["finite"] = jax.jit(jax.vmap(lambda sys, x: finite_check(x),
                                                  in_axes=(axis, 0)))
        self._executables: dict = {}

    def compiled(self, system, carry, noise_keys):
        args = (system, carry, noise_keys, jnp.int32(1))
        leaves, treedef = jax.tree.flatten(args)
        # x64 mode changes how the program is traced (index and default dtypes), so it is part
        # of the signature, as it is of jax.jit's own cache.
        signature = (treedef, bool(jax.config.jax_enable_x64),
                     tuple((jnp.shape(x), jnp.result_type(x), getattr(x, "sharding", None))
                           for x in leaves))
        if signature not in self._executables:
            self._executables[signature] = self.program.lower(*args).compile()
        return self._executables[signature]


@functools.lru_cache(maxsize=16)
def _cached_programs(schedule: Schedule, chunk: int, batched: bool, fixed: Any,
                     noise_block_bytes: int) -> _Programs:
    del noise_block_bytes  # read at trace time; part of the key so that changing it recompiles
    return _Programs(schedule, chunk, batched, fixed)


def _programs(schedule: Schedule, chunk: int, batched: bool, fixed: Any) -> _Programs:
    try:
        return _cached_programs(schedule, chunk, batched, fixed, NOISE_BLOCK_BYTES)
    except TypeError:  # an unhashable constant system: compile for this run only
        return _Programs(schedule, chunk, batched, fixed)


def simulate(system: ParticleSystem, schedule: Schedule, init_keys: jax.Array,
             noise_keys: jax.Array, *, chunk_records: int | None = None,
             on_chunk: Callable[[int, int, dict], None] | None = None,
             resume: dict | None = None, system_batched: bool = False,
             initial_state: PyTree | None = None) -> Trajectory:
    """Run ``system`` for R replicas along ``schedule``.

    Args:
        system: the particle dynamics.
        schedule: from :func:`make_schedule`.
        init_keys: ``[R]`` keys for ``system.init``.
        noise_keys: ``[R]`` keys for the steps' noise.
        chunk_records: records per compiled chunk (rounded down to a divisor of the record count);
            default about a tenth of the run. Results do not depend on it.
        on_chunk: called after every chunk as ``on_chunk(records_done, n_intervals, checkpoint)``,
            where ``checkpoint`` can be passed back as ``resume`` to continue from that point.
        resume: a checkpoint dict from ``on_chunk`` (``carry_leaves``, ``observables``,
            ``records_done``, optionally ``run_seconds``); the run continues from it and gives the
            same numbers.
        system_batched: ``system`` is a pytree whose leaves carry a leading replica axis (e.g.
            stacked WGANs differing in c or n_c): replica r runs the system at index r.
        initial_state: states ``[R, ...]`` to start from instead of ``system.init(init_keys)``
            (e.g. a population run from the very particles of an SGD run). The run's carry is
            donated to the compiled chunk, so pass a copy if you need these arrays afterwards.

    Returns:
        The :class:`Trajectory`.

    Raises:
        NonFiniteError: when a replica's state or observables become non-finite (names the
            steps).
        InsufficientMemory: when the run cannot fit in the device's available memory (checked
            before the particles are drawn, and again once the chunk program is compiled).
    """
    n_int = schedule.n_intervals
    chunk = _best_chunk(n_int, chunk_records or max(1, n_int // 10))
    # Pytree systems are jit arguments (so batched leaves can be mapped); others are constants.
    fixed = None if jax.tree.leaves(system) != [system] else system
    programs = _programs(schedule, chunk, system_batched, fixed)
    if fixed is not None:
        system = None

    def vmapped(method_name):
        return programs.methods[method_name]

    replicas = init_keys.shape[0]
    shapes = (jax.eval_shape(vmapped("init"), system, init_keys) if initial_state is None
              else initial_state)
    n_snap = max(1, len(schedule.snapshot_records))
    state_bytes = _tree_bytes(shapes)
    snap_bytes = n_snap * _tree_bytes(jax.eval_shape(vmapped("snapshot"), system, shapes))
    obs_bytes = (n_int + 1) * _tree_bytes(jax.eval_shape(vmapped("observe"), system, shapes))
    # The state lives about three times (the carry, its update, the observed copy); the snapshot
    # buffer and the observables' history once.
    _check_memory(3 * state_bytes + snap_bytes + obs_bytes,
                  f"particles {_gib(state_bytes / replicas)} per replica x {replicas} replicas, "
                  f"snapshots {_gib(snap_bytes)}, observables {_gib(obs_bytes)}")

    state0 = vmapped("init")(system, init_keys) if initial_state is None else initial_state
    shot = vmapped("snapshot")(system, state0)
    snaps = jax.tree.map(lambda x: jnp.repeat(x[:, None], n_snap, axis=1), shot)
    carry = Carry(state0, snaps, jnp.full((init_keys.shape[0],), -1, jnp.int32))
    if resume is None:
        obs0 = devices.to_host(vmapped("observe")(system, state0))
        history = [jax.tree.map(lambda x: x[:, None], obs0)]
        done = 0
        finite = devices.to_host(vmapped("finite")(system, state0))
        if not finite.all():
            raise NonFiniteError(f"non-finite particles in replica {int(np.argmin(finite))} at "
                                 "t = 0 (the initial particles); check the initial laws")
        bad = _first_nonfinite(history[0], 0)
        if bad is not None:
            raise NonFiniteError(f"non-finite observable {bad[2]!r} in replica {bad[1]} at t = 0 "
                                 "(the initial particles); check the initial laws")
    else:
        treedef = jax.tree.structure(carry)
        if jax.process_count() > 1:
            # Every leaf carries the replica axis first: split it over the processes as before.
            leaves = devices.shard_replicas(list(resume["carry_leaves"]))
        else:
            leaves = [jnp.asarray(x) for x in resume["carry_leaves"]]
        carry = jax.tree.unflatten(treedef, leaves)
        history = [resume["observables"]]
        done = int(resume["records_done"])

    t0 = time.perf_counter()
    compiled = programs.compiled(system, carry, noise_keys)
    compile_seconds = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    if mem is not None:
        # The arguments (the carry) are already allocated; what the chunk adds must fit.
        extra = mem.temp_size_in_bytes + mem.output_size_in_bytes - mem.alias_size_in_bytes
        _check_memory(extra, f"a compiled chunk's temporaries and outputs, {replicas} replicas")

    # A resumed run counts the stepping time of its earlier sessions, so steps/s stays true.
    prior_seconds = float(resume.get("run_seconds", 0.0)) if resume is not None else 0.0
    t0 = time.perf_counter()
    while done < n_int:
        carry, obs = compiled(system, carry, noise_keys, jnp.int32(done + 1))
        history.append(devices.to_host(obs))
        done += chunk
        bad = devices.to_host(carry.bad_record)
        first = _first_nonfinite(history[-1], done - chunk + 1)
        if (bad >= 0).any() or first is not None:
            recs = [(int(b), r, None) for r, b in enumerate(bad) if b >= 0]
            rec, r, name = min(recs + ([first] if first is not None else []),
                               key=lambda hit: hit[:2])
            what = "particles" if name is None else f"observable {name!r}"
            step_hi = rec * schedule.record_every
            raise NonFiniteError(
                f"non-finite {what} in replica {r} between step "
                f"{step_hi - schedule.record_every + 1} and step {step_hi} (t <= "
                f"{step_hi * schedule.dt:.6g}); lower the step size or check the initial laws")
        if on_chunk is not None:
            merged = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *history)
            history = [merged]
            on_chunk(done, n_int, {"carry_leaves": devices.to_host(jax.tree.leaves(carry)),
                                   "observables": merged, "records_done": done,
                                   "run_seconds": prior_seconds + time.perf_counter() - t0})
    jax.block_until_ready(carry)
    run_seconds = prior_seconds + time.perf_counter() - t0

    observables = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *history)
    snapshots = devices.to_host(carry.snaps)
    if not schedule.snapshot_records:
        snapshots = jax.tree.map(lambda x: x[:, :0], snapshots)
    final = carry.state if jax.process_count() == 1 else devices.to_host(carry.state)
    return Trajectory(schedule.t, observables, schedule.snapshot_t, snapshots, final, schedule,
                      compile_seconds, run_seconds)


def simulate_sharded(system: ParticleSystem, schedule: Schedule, init_keys: jax.Array,
                     noise_keys: jax.Array, *, initial_state: PyTree | None = None,
                     system_batched: bool = False, **kw) -> Trajectory:
    """:func:`simulate` with the replica axis split over every device of every process
    (:mod:`meanfield.core.devices`): each device steps its own replicas, so the numbers are those
    of one device. Replica counts that do not divide the device count are padded with copies of
    the last replica, dropped from the result. ``kw`` are :func:`simulate`'s other arguments (a
    checkpoint to resume must come from a run on as many devices).
    """
    mesh = devices.replica_mesh()
    n = init_keys.shape[0]
    padded = devices.padded_size(n, mesh)

    def spread(tree):
        return devices.shard_replicas(devices.pad_replicas(tree, padded), mesh)

    init_keys, noise_keys = spread((init_keys, noise_keys))
    if initial_state is not None:
        initial_state = spread(initial_state)
    if system_batched:
        system = spread(system)
    traj = simulate(system, schedule, init_keys, noise_keys, initial_state=initial_state,
                    system_batched=system_batched, **kw)
    if padded == n:
        return traj
    return traj._replace(observables=devices.unpad(traj.observables, n),
                         snapshots=devices.unpad(traj.snapshots, n),
                         final_state=devices.unpad(traj.final_state, n))
