"""``meanfield bench``: speed of the WGAN particle step, against PyTorch eager and the machine.

For one configuration (N, M, K, L, batch m, replicas R, scheme) it reports, after compilation:

- ``steps_per_second``: generator steps of one replica per second of wall time, all R replicas
  advancing together, in the driver's compiled chunk program without observables
  (R·steps_per_second replica-steps are done per second);
- ``observe_seconds``: one record of the observables of all R replicas, timed apart;
  ``observables_fraction``: their share of a run's time when recorded every ``record_every`` =
  max(1000, 4N) steps (a run's default cadence, :func:`record_every`, which does not depend on how
  many steps the bench times), and ``run_steps_per_second``, the rate of such a run;
- ``particle_steps_per_second``: N·R·steps_per_second (generator particles moved per second);
- ``compile_seconds`` and ``memory_bytes`` (XLA's buffer sizes of the compiled chunk program:
  arguments + outputs + temporaries, i.e. its peak; it grows with snapshots, not with steps);
- ``machine_fraction``: the time the step's sigmoid and multiply–add work would take at the rates
  XLA reaches on large fused arrays (measured in the same run, :func:`machine_limit`) divided by
  the measured time;
- ``torch_steps_per_second`` and ``speedup_vs_torch`` for the simultaneous SGD step with R = 1,
  timed side by side (interleaved repeats in the same process) with
  ``benchmarks/torch_reference.py`` when PyTorch is installed; ``torch_compile_steps_per_second``
  and ``speedup_vs_torch_compile`` for the same step with the whole update under
  ``torch.compile`` (``torch_compile_seconds``: its first call, which compiles).

A second section (:func:`run_flows`, key ``"flows"`` of bench.json, a second table in bench.md)
times one step of the kernel flows in data space, the MMD flow at N = M ∈ {1000, 4096} and the
KALE flow at N = M = 300 (d = 2, float32, one replica), against the same steps in PyTorch eager
and under ``torch.compile``, side by side (:func:`bench_flow`).

The driver is measured as a run uses it: the compiled chunk program of
:func:`meanfield.core.driver.simulate` (``vmap`` over replicas of ``scan`` over records of ``scan`` over
steps), with its observables switched off and timed separately. Timings are medians of
interleaved repeats; the machine is shared, so the spread (``steps_per_second_best``) is
reported too.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from meanfield.core.driver import Carry, Schedule, chunk_program, replica_keys
from meanfield.io import results
from meanfield.io.experiment import versions
from meanfield.measures import laws
from meanfield.systems.wgan.system import make_wgan

SCHEMES = ("simultaneous", "alternating", "population")
TABLE_N = (256, 1024, 4096, 16384)
TABLE_KL = ((1, 1), (8, 8))
TABLE_BATCH = (1, 64)
TABLE_REPLICAS = (1, 64)
#: Skip a configuration whose compiled program would need more than this many bytes.
MEMORY_CAP = 4 * 1024 ** 3


@dataclass(frozen=True)
class BenchConfig:
    """One row of the table (see module docstring)."""

    N: int = 256
    M: int = 256
    K: int = 1
    L: int = 1
    batch: int = 1
    replicas: int = 1
    scheme: str = "simultaneous"
    dtype: str = "float32"
    game: str = "wgan"

    def system(self):
        """The WGAN of this row (``game = "gan"``: the log-loss GAN, saturating, no clipping):
        N(0, I_L) latent, ½N(−1, 0.3²) + ½N(1, 0.3²) on R^K, α = 1."""
        target = laws.gaussian_mixture([0.5, 0.5], [[-1.0] * self.K, [1.0] * self.K], [0.3, 0.3])
        pop = self.scheme == "population"
        kw = dict(K=self.K, L=self.L, N=self.N, M=self.M, latent=laws.StandardGaussian(self.L),
                  target=target, lr=1.0, n_critic=1, batch_size=self.batch,
                  scheme="simultaneous" if pop else self.scheme, population=pop,
                  dtype=self.dtype)
        if self.game == "gan":
            from meanfield.systems.gan.system import make_gan
            return make_gan(clip=float("inf"), **kw)
        return make_wgan(clip=1.0, **kw)

    @property
    def clip(self) -> float:
        return float("inf") if self.game == "gan" else 1.0


def step_work(cfg: BenchConfig, system=None) -> tuple[float, float]:
    """(sigmoid evaluations, multiply–adds) of one generator step of one replica.

    Forward: the generator's m·N·K pre-activations (L+1 multiply–adds each) and sigmoids, the
    critic's at m fake and m real points (K+1 multiply–adds, one sigmoid each per critic neuron).
    The backward pass reuses the sigmoids and costs about two forward passes of multiply–adds.
    Alternating (n_c = 1) evaluates the generator twice and the critic three times; the
    population step uses the rule's points in place of the batch.
    """
    bz = bx = cfg.batch
    if cfg.scheme == "population":
        system = system or cfg.system()
        bz, bx = system.rule.z.shape[0], system.rule.x.shape[0]
    gen_s, crit_s = bz * cfg.N * cfg.K, cfg.M * (bz + bx)
    gen_f, crit_f = gen_s * (cfg.L + 2), crit_s * (cfg.K + 2)
    if cfg.scheme == "alternating":
        gen_s, gen_f = 2 * gen_s, 2 * gen_f
        crit_s, crit_f = crit_s + bz * cfg.M, crit_f + bz * cfg.M * (cfg.K + 2)
    return float(gen_s + crit_s), float(3 * (gen_f + crit_f))


def machine_limit(size: int = 1 << 21, seconds: float = 0.3, dtype=jnp.float32) -> dict:
    """Rates of XLA on large fused elementwise arrays on this machine, now.

    ``sigmoid_per_second``: ``jax.nn.sigmoid`` over ``size`` elements; ``fma_per_second``: 16
    chained multiply–adds per element over the same array (compute-bound, not memory-bound).
    Each is the best of repeats over about ``seconds`` (at least 10, after a warm-up): a limit is
    a best case, and the first calls in a fresh process ran up to 5× slower.
    """
    x = jnp.linspace(-3.0, 3.0, size, dtype=dtype)

    def chain(v):
        for _ in range(16):
            v = v * 0.999 + 0.001
        return v

    out = {}
    for name, fn, per in (("sigmoid_per_second", jax.nn.sigmoid, 1), ("fma_per_second", chain, 16)):
        f = jax.jit(fn)
        for _ in range(3):
            jax.block_until_ready(f(x))
        ts, t_end = [], time.perf_counter() + seconds
        while len(ts) < 10 or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            jax.block_until_ready(f(x))
            ts.append(time.perf_counter() - t0)
        out[name] = per * size / min(ts)
    return out


def limit_seconds(cfg: BenchConfig, limit: dict, system=None) -> float:
    """Seconds one step of all replicas takes at the machine limit."""
    s, f = step_work(cfg, system)
    return cfg.replicas * (s / limit["sigmoid_per_second"] + f / limit["fma_per_second"])


def estimated_bytes(cfg: BenchConfig, system=None) -> float:
    """Rough size of the step's largest intermediates, ×R: a few ``[N·K, m]`` and ``[M, m]``
    arrays (pre-activations, sigmoids, their cotangents) and the particles with their copies."""
    bz = cfg.batch
    if cfg.scheme == "population":
        system = system or cfg.system()
        bz = max(system.rule.z.shape[0], system.rule.x.shape[0])
    item = np.dtype(cfg.dtype).itemsize
    particles = cfg.N * cfg.K * (cfg.L + 2) + cfg.M * (cfg.K + 2)
    return item * cfg.replicas * (4.0 * bz * (cfg.N * cfg.K + 2 * cfg.M) + 8.0 * particles)


def record_every(cfg: BenchConfig) -> int:
    """Steps between records in a run at the default cadence: 101 records over a horizon T are
    T·N/(100 α) steps apart, proportional to N (the quickstart: T = 1500, α = 4, every 3.75 N
    steps); the bench takes every max(1000, 4 N) steps, whatever number of steps it times."""
    return max(1000, 4 * cfg.N)


class _Program:
    """The driver's compiled chunk program for ``cfg`` without observables (``steps`` steps of
    every replica) with its carry, ready to time; and the observables of one record, apart."""

    def __init__(self, cfg: BenchConfig, system, steps: int):
        self.schedule = Schedule(system.dt, steps, 1, ())
        init_keys, self.noise_keys = replica_keys(0, cfg.replicas)
        state = jax.jit(jax.vmap(system.init))(init_keys)
        shot = jax.vmap(system.snapshot)(state)
        snaps = jax.tree.map(lambda x: x[:, None], shot)
        self.carry = Carry(state, snaps, jnp.full((cfg.replicas,), -1, jnp.int32))
        self.system = system
        program = jax.jit(chunk_program(self.schedule, 1, False, None, observe=False),
                          donate_argnums=1)
        t0 = time.perf_counter()
        self.compiled = program.lower(system, self.carry, self.noise_keys, jnp.int32(1)).compile()
        self.compile_seconds = time.perf_counter() - t0
        mem = self.compiled.memory_analysis()
        self.memory_bytes = None if mem is None else int(
            mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
            - mem.alias_size_in_bytes)
        self.steps = steps
        self.record = 1
        self.observe = _observe_program(system, state)
        self.observe_calls = 1
        self.observe_calls = max(1, min(64, int(0.05 / max(self.observe_once(), 1e-6))))

    def run_once(self) -> float:
        """Seconds for ``self.steps`` steps of every replica (no observables)."""
        t0 = time.perf_counter()
        self.carry, _ = self.compiled(self.system, self.carry, self.noise_keys,
                                      jnp.int32(self.record))
        jax.block_until_ready(self.carry)
        self.record += 1
        return time.perf_counter() - t0

    def observe_once(self) -> float:
        """Seconds for the observables of one record of every replica (a mean over the
        ``observe_calls`` records of one compiled program)."""
        t0 = time.perf_counter()
        jax.block_until_ready(self.observe(self.system, self.carry.state,
                                           jnp.int32(self.observe_calls)))
        return (time.perf_counter() - t0) / self.observe_calls


def _observe_program(system, state):
    """The compiled observables of all replicas, ``calls`` times in one program (as a run records
    them inside its compiled chunk, without a dispatch each), each time of a slightly rescaled
    state so that XLA cannot hoist them out of the loop: ``(system, state, calls) -> scalar``."""
    def many(sys_, st, calls):
        def body(i, acc):
            scale = 1.0 + 1e-7 * i
            s = jax.tree.map(lambda a: a * scale.astype(a.dtype)
                             if jnp.issubdtype(a.dtype, jnp.floating) else a, st)
            obs = jax.vmap(sys_.observe)(s)
            return acc + sum(jnp.sum(v).astype(jnp.float32) for v in jax.tree.leaves(obs))
        return jax.lax.fori_loop(0, calls, body, jnp.float32(0))
    return jax.jit(many).lower(system, state, jnp.int32(1)).compile()


#: The PyTorch reference lives with the benchmarks, outside the installed package.
TORCH_REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_reference.py"


def _torch_available() -> bool:
    return TORCH_REFERENCE.exists() and importlib.util.find_spec("torch") is not None


def torch_reference():
    """The module ``benchmarks/torch_reference.py`` of this checkout (needs PyTorch)."""
    spec = importlib.util.spec_from_file_location("torch_reference", TORCH_REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_one(cfg: BenchConfig, limit: dict | None = None, budget: float = 2.0,
              torch: bool | None = None) -> dict:
    """Measure one configuration (see module docstring); ``budget`` is seconds of timing per side."""
    system = cfg.system()
    limit = limit or machine_limit()
    row = asdict(cfg)
    est_bytes = estimated_bytes(cfg, system)
    t_limit = limit_seconds(cfg, limit, system)
    # Pessimistic per-step time (10% of the limit, at least 5 µs) sizes a repeat of about budget/5.
    t_guess = max(5e-6, 10.0 * t_limit)
    if est_bytes > MEMORY_CAP:
        return {**row, "skipped": f"estimated {est_bytes / 2**30:.1f} GiB > {MEMORY_CAP / 2**30:.0f} GiB"}
    if t_guess > 20 * budget:
        return {**row, "skipped": f"one step estimated at {t_guess:.1f} s"}
    prog = _Program(cfg, system, max(1, int(budget / 5 / t_guess)))
    prog.run_once()  # warm-up: first execution allocates

    use_torch = (cfg.scheme == "simultaneous" and cfg.replicas == 1 and cfg.dtype == "float32"
                 and (_torch_available() if torch is None else torch))
    compiled = False
    if use_torch:
        tr = torch_reference()

        def torch_once(n, compiled=False):
            t0 = time.perf_counter()
            tr.run(cfg.N, cfg.M, cfg.K, cfg.L, cfg.batch, n, clip=cfg.clip, compiled=compiled,
                   game=cfg.game)
            return time.perf_counter() - t0

        t1 = torch_once(3) / 3
        torch_steps = max(1, min(prog.steps, int(budget / 5 / max(t1, 1e-6))))
        torch_once(torch_steps)
        try:  # the first call compiles the whole step for this shape
            row["torch_compile_seconds"] = torch_once(1, compiled=True)
            compiled = True
        except Exception as e:  # noqa: BLE001 — e.g. no C++ compiler for inductor
            row["torch_compile_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    mf, th, tc, obs = [], [], [], []
    t_end = time.perf_counter() + (2 + compiled) * budget
    while len(mf) < 3 or (time.perf_counter() < t_end and len(mf) < 15):
        mf.append(prog.steps / prog.run_once())
        obs.append(prog.observe_once())
        if use_torch:
            th.append(torch_steps / torch_once(torch_steps))
        if compiled:
            tc.append(torch_steps / torch_once(torch_steps, compiled=True))
    sps = statistics.median(mf)
    every, t_obs = record_every(cfg), statistics.median(obs)
    t_between = every / sps
    row.update(
        steps_per_second=sps, steps_per_second_best=max(mf),
        particle_steps_per_second=sps * cfg.N * cfg.replicas,
        compile_seconds=prog.compile_seconds, memory_bytes=prog.memory_bytes,
        steps_per_repeat=prog.steps, repeats=len(mf),
        machine_fraction=t_limit * sps, limit_steps_per_second=1.0 / t_limit,
        record_every=every, observe_seconds=t_obs,
        observables_fraction=t_obs / (t_obs + t_between),
        run_steps_per_second=every / (t_between + t_obs))
    if use_torch:
        row.update(torch_steps_per_second=statistics.median(th),
                   speedup_vs_torch=statistics.median(a / b for a, b in zip(mf, th)))
    if compiled:
        row.update(torch_compile_steps_per_second=statistics.median(tc),
                   speedup_vs_torch_compile=statistics.median(a / b for a, b in zip(mf, tc)))
    return row


#: The log-loss GAN's rows (simultaneous, one replica): (N = M, K = L, m).
GAN_TABLE = ((1024, 1, 64), (4096, 8, 64))


def table_configs(all_kl: bool = False) -> list[BenchConfig]:
    """The configurations of the full table (K = L tied unless ``all_kl``), then the log-loss
    GAN's rows."""
    kls = (list(itertools.product((1, 8), (1, 8))) if all_kl else list(TABLE_KL))
    return ([BenchConfig(N, N, K, L, m, R, s) for s in SCHEMES for N in TABLE_N for K, L in kls
             for m in TABLE_BATCH for R in TABLE_REPLICAS]
            + [BenchConfig(N, N, KL, KL, m, game="gan") for N, KL, m in GAN_TABLE])


def environment() -> dict:
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = None
    return {"device": str(jax.devices()[0]), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "torch": tv,
            "versions": versions(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(rows: list[dict], env: dict, limit: dict) -> str:
    """The table as markdown."""
    lines = [
        "# `meanfield bench` results", "",
        f"{env['device']}, {env['cpu_count']} cores (shared with other jobs: medians of repeats), "
        f"jax {env['versions'].get('jax')}, torch {env['torch']}, {env['date']}.", "",
        f"Machine limit measured in the same run: {limit['sigmoid_per_second']:.3g} sigmoid/s, "
        f"{limit['fma_per_second']:.3g} multiply–add/s (XLA, large fused arrays, float32).", "",
        "steps/s: generator steps of each replica per second (all R replicas together), the "
        "driver's compiled steps without observables; particle-steps/s = N·R·steps/s; memory: "
        "XLA buffers of the compiled chunk; limit: fraction of the machine limit; vs eager, vs "
        "compile: meanfield / PyTorch eager and / the same step under `torch.compile`, "
        "interleaved in the same process; observables: their share of a run's time when they are "
        "recorded every `record every` steps (max(1000, 4N), a run's default cadence).", "",
        "| game | scheme | N=M | K | L | m | R | steps/s | particle-steps/s | compile s | "
        "memory MiB | limit | vs eager | vs compile | observables | record every |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- |"]
    for r in rows:
        head = (f"| {r.get('game', 'wgan')} | {r['scheme']} | {r['N']} | {r['K']} | {r['L']} | "
                f"{r['batch']} | {r['replicas']} |")
        if "skipped" in r:
            lines.append(head + f" skipped: {r['skipped']} | | | | | | | | |")
            continue
        mem = None if r.get("memory_bytes") is None else r["memory_bytes"] / 2 ** 20
        lines.append(
            head + f" {r['steps_per_second']:.4g} | {r['particle_steps_per_second']:.3g} | "
            f"{r['compile_seconds']:.2f} | {_fmt(mem, '.1f')} | {r['machine_fraction']:.1%} | "
            f"{_fmt(r.get('speedup_vs_torch'), '.1f')} | "
            f"{_fmt(r.get('speedup_vs_torch_compile'), '.1f')} | "
            f"{_fmt(r.get('observables_fraction'), '.1%')} | {r.get('record_every', '—')} |")
    return "\n".join(lines) + "\n"


# -- gradient flows: kernel flows in data space, the regression ----------------------------------
#: Gaussian kernel bandwidth of the kernel flows' rows. The particles start at N(0, I₂) and the
#: target is N((10, 10), 0.5² I₂): at σ = 5 no kernel value is subnormal in float32 (at σ = 1 the
#: cross terms e^(−100) are, and the bench would time the CPU's subnormal arithmetic).
FLOW_SIGMA = 5.0
#: Teacher seed of the regression rows.
REGRESSION_TEACHER_SEED = 0


@dataclass(frozen=True)
class FlowBenchConfig:
    """One row of the flows section, one replica.

    ``flow = "mmd"`` (no noise injection) or ``"kale"``: N particles in R^d toward a fixed target
    sample of M points. ``flow = "regression"``: the population flow of N student neurons
    (K = 1 output, d inputs) toward a teacher of M neurons, the expectation over N(0, I_d) by its
    rule (Gauss–Hermite for d = 1; a fixed 4096-point sample above 4096 points).
    """

    flow: str = "mmd"
    N: int = 1000
    M: int = 1000
    d: int = 2
    lr: float = 1.0
    lam: float = 1.0
    dtype: str = "float32"

    def system(self):
        if self.flow == "regression":
            from meanfield.networks.initial import BlockLaw
            from meanfield.systems.regression.system import draw_teacher, make_regression

            teacher = draw_teacher(REGRESSION_TEACHER_SEED, self.M, 1, self.d, BlockLaw(0, 4),
                                   BlockLaw(0, 3), BlockLaw(0, 1), self.dtype)
            return make_regression(N=self.N, K=1, L=self.d, lr=self.lr, teacher=teacher,
                                   mmd_form=False, dtype=self.dtype)
        from meanfield.measures.kernels import Kernel
        from meanfield.systems.kernel_flows.system import make_flow

        kw = dict(lam=self.lam) if self.flow == "kale" else {}
        return make_flow(flow=self.flow, N=self.N, d=self.d, lr=self.lr,
                         initial=laws.gaussian_mixture([1.0], [[0.0] * self.d], [1.0]),
                         target=laws.gaussian_mixture([1.0], [[10.0] * self.d], [0.5]),
                         kernel=Kernel("gaussian", FLOW_SIGMA), M=self.M, dtype=self.dtype, **kw)

    def steps(self, system=None) -> int:
        """Steps per timed repeat: 50, fewer for large N (about 0.1 s of meanfield per repeat)."""
        if self.flow == "regression":
            system = system or self.system()
            pairs = 3 * self.N * system.rule_x.shape[0] * (self.d + 2)
        else:
            pairs = self.N * (self.N + self.M) + (3 * self.M ** 3 if self.flow == "kale" else 0)
        return int(min(50, max(5, 1e8 // pairs)))


#: The flows section of the table.
FLOW_TABLE = (FlowBenchConfig("mmd", 1000, 1000), FlowBenchConfig("mmd", 4096, 4096),
              FlowBenchConfig("kale", 300, 300),
              FlowBenchConfig("regression", 1024, 4, d=1, lr=2.0),
              FlowBenchConfig("regression", 4096, 16, d=8, lr=2.0))


def flow_configs() -> list[FlowBenchConfig]:
    return list(FLOW_TABLE)


def bench_flow(cfg: FlowBenchConfig, budget: float = 1.0, torch: bool | None = None) -> dict:
    """meanfield against PyTorch eager and ``torch.compile`` on one flow step, side by side.

    meanfield: a jitted ``lax.scan`` of ``cfg.steps()`` calls of ``ParticleFlow.step``, compiled
    ahead of timing. PyTorch: ``benchmarks/torch_reference.py`` (:func:`flow_runner`), the same
    number of steps in a Python loop, eagerly and with the whole step under ``torch.compile``
    (compiled, then warmed up, before timing). Every repeat of every side restarts from the same
    particles; the repeats of the three sides are interleaved and the ratios are medians of
    per-repeat ratios. The KALE step in PyTorch does a fixed number of Newton iterations: the mean
    number meanfield took (tolerance 100 eps of float32) over the same steps, rounded, reported
    as ``newton_steps``. ``*_max_abs_diff``: the largest difference of the particles after one
    repeat between meanfield and each PyTorch side (float32 round-off, a check that the three do
    the same work). Torch fields are None without PyTorch (or when ``torch.compile`` fails, with
    ``torch_compile_error``).
    """
    system = cfg.system()
    steps = cfg.steps(system)
    row = {**asdict(cfg), "steps_per_repeat": steps}
    if cfg.flow != "regression":
        row["kernel_bandwidth"] = FLOW_SIGMA
    state0 = jax.jit(system.init)(jax.random.key(0))
    keys = jax.random.split(jax.random.key(1), steps)
    kale = cfg.flow == "kale"

    def scan(sys_, state, ks):
        def body(s, k):
            s = sys_.step(s, k)
            # The particles after every step (N·d numbers against the step's N·(N + M) kernel
            # terms) for the agreement check; the Newton iterations of each step.
            return s, (s.x, s.aux.steps if kale else None)
        return jax.lax.scan(body, state, ks)

    t0 = time.perf_counter()
    compiled = jax.jit(scan).lower(system, state0, keys).compile()
    row["compile_seconds"] = time.perf_counter() - t0
    _, (xs_mf, newton) = jax.block_until_ready(compiled(system, state0, keys))  # warm-up
    n_newton = 3
    if kale:
        row["newton_steps_meanfield"] = float(np.mean(np.asarray(newton)))
        n_newton = max(1, int(round(row["newton_steps_meanfield"])))
        row["newton_steps"] = n_newton

    def mf_once():
        t = time.perf_counter()
        jax.block_until_ready(compiled(system, state0, keys))
        return steps / (time.perf_counter() - t)

    sides = {"meanfield": mf_once}
    row.update(torch_steps_per_second=None, torch_compile_steps_per_second=None,
               speedup_vs_torch=None, speedup_vs_torch_compile=None,
               torch_compile_seconds=None)
    if _torch_available() if torch is None else torch:
        tr = torch_reference()
        if cfg.flow == "regression":
            args = (np.asarray(state0.x), np.asarray(system.teacher), np.asarray(system.rule_x),
                    np.asarray(system.rule_w), cfg.lr)
            runner = tr.regression_runner
        else:
            args = (cfg.flow, np.asarray(state0.x), np.asarray(system.target_x),
                    np.asarray(system.target_w), np.asarray(system.gram) if kale else None,
                    cfg.lr, FLOW_SIGMA, cfg.lam, n_newton)
            runner = tr.flow_runner
        runners = {"torch": runner(*args)}
        runners["torch"](1)
        t0 = time.perf_counter()
        runners["torch"](1)
        # PyTorch's repeats are sized on its eager step (about budget/5 s each), at most the
        # scan's length: a slow eager step must not stretch the section.
        torch_steps = int(min(steps, max(1, budget / 5 / (time.perf_counter() - t0))))
        row["torch_steps_per_repeat"] = torch_steps
        x_mf = np.asarray(xs_mf[torch_steps - 1])
        row["torch_max_abs_diff"] = float(np.abs(runners["torch"](torch_steps) - x_mf).max())
        try:
            runners["torch_compile"] = runner(*args, compiled=True)
            t0 = time.perf_counter()
            runners["torch_compile"](1)
            row["torch_compile_seconds"] = time.perf_counter() - t0
            row["torch_compile_max_abs_diff"] = float(
                np.abs(runners["torch_compile"](torch_steps) - x_mf).max())
        except Exception as e:  # noqa: BLE001 — e.g. no C++ compiler for inductor
            runners.pop("torch_compile", None)
            row["torch_compile_error"] = f"{type(e).__name__}: {str(e)[:200]}"

        def timer(run):
            def once():
                t = time.perf_counter()
                run(torch_steps)
                return torch_steps / (time.perf_counter() - t)
            return once

        sides.update({k: timer(v) for k, v in runners.items()})
    times = {k: [] for k in sides}
    t_end = time.perf_counter() + len(sides) * budget
    while len(times["meanfield"]) < 3 or (time.perf_counter() < t_end
                                           and len(times["meanfield"]) < 15):
        for k, once in sides.items():
            times[k].append(once())
    mf = times["meanfield"]
    row.update(steps_per_second=statistics.median(mf), steps_per_second_best=max(mf),
               particle_steps_per_second=statistics.median(mf) * cfg.N, repeats=len(mf),
               # Other jobs on the cores swing these small-op steps by 10×: say how loaded.
               load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    for k, name in (("torch", "speedup_vs_torch"), ("torch_compile", "speedup_vs_torch_compile")):
        if k in times:
            row[f"{k}_steps_per_second"] = statistics.median(times[k])
            row[name] = statistics.median(a / b for a, b in zip(mf, times[k]))
    return row


def flows_markdown(rows: list[dict]) -> str:
    """The flows section as markdown."""
    lines = [
        "## Gradient flows: kernel flows in data space, the regression", "",
        f"One step of the MMD flow (no noise injection) and of the KALE flow (Newton inner solve, "
        f"warm-started), Gaussian kernel σ = {FLOW_SIGMA:g}, a fixed target sample of M points; "
        "one step of the teacher–student regression's population flow (N students, a teacher of "
        "M neurons, K = 1, inputs N(0, I_d) by their rule); one replica, float32. meanfield: a "
        "jitted `lax.scan` of the steps; PyTorch (`benchmarks/torch_reference.py`): the same "
        "steps in a Python loop, eager and under `torch.compile`; repeats of the three "
        "interleaved in the same process, medians. vs eager / vs compile: meanfield steps/s over "
        "PyTorch's. newton: PyTorch's fixed Newton iterations per KALE step (meanfield's mean at "
        "its tolerance).", "",
        "| flow | N | M | d | steps/s | torch eager steps/s | torch.compile steps/s | vs eager | "
        "vs compile | compile s (meanfield / torch) | newton |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        head = f"| {r['flow']} | {r['N']} | {r['M']} | {r['d']} |"
        if "skipped" in r:
            lines.append(head + f" skipped: {r['skipped']} | | | | | | |")
            continue
        lines.append(
            head + f" {r['steps_per_second']:.4g} | {_fmt(r.get('torch_steps_per_second'), '.4g')} | "
            f"{_fmt(r.get('torch_compile_steps_per_second'), '.4g')} | "
            f"{_fmt(r.get('speedup_vs_torch'), '.2f')} | "
            f"{_fmt(r.get('speedup_vs_torch_compile'), '.2f')} | {r['compile_seconds']:.2f} / "
            f"{_fmt(r.get('torch_compile_seconds'), '.2f')} | {r.get('newton_steps', '—')} |")
    return "\n".join(lines) + "\n"


def run_flows(budget: float = 1.0, report: Callable[[str], None] | None = None,
              torch: bool | None = None, on_row: Callable[[list[dict]], None] | None = None
              ) -> list[dict]:
    """Every row of the flows section (:func:`bench_flow`); ``report`` receives one line per row
    and ``on_row`` the rows so far after each."""
    rows = []
    for cfg in flow_configs():
        t0 = time.perf_counter()
        try:
            row = bench_flow(cfg, budget, torch)
        except Exception as e:  # noqa: BLE001 — a row that fails is marked, as in the table
            row = {**asdict(cfg), "skipped": f"{type(e).__name__}: {str(e)[:120]}"}
        rows.append(row)
        if report is not None:
            report(json.dumps(row) + f"  # {time.perf_counter() - t0:.1f} s")
        if on_row is not None:
            on_row(rows)
    return rows


def run_table(out: Path, budget: float, all_kl: bool = False,
              report: Callable[[str], None] | None = None) -> list[dict]:
    """Run every configuration, then the flows section (:func:`run_flows`), writing
    ``out/bench.json`` (the flows under ``"flows"``) and ``out/bench.md`` after each row;
    ``report`` receives one line per row. Returns the WGAN rows."""
    out.mkdir(parents=True, exist_ok=True)
    env, limit = environment(), machine_limit()
    rows, flows = [], []

    def write():
        # Rewritten after every row, atomically: an interrupted table keeps its finished rows.
        results.atomic_write_text(out / "bench.json", results.dumps_json(
            {"environment": env, "machine_limit": limit, "rows": rows, "flows": flows}))
        md = markdown(rows, env, limit)
        if flows:
            md += "\n" + flows_markdown(flows)
        results.atomic_write_text(out / "bench.md", md)

    for cfg in table_configs(all_kl):
        t0 = time.perf_counter()
        try:
            row = bench_one(cfg, limit, budget)
        except Exception as e:  # noqa: BLE001 — a row that fails (e.g. out of memory) is marked
            row = {**asdict(cfg), "skipped": f"{type(e).__name__}: {str(e)[:120]}"}
        rows.append(row)
        if report is not None:
            report(json.dumps(row) + f"  # {time.perf_counter() - t0:.1f} s")
        write()

    def flow_done(done):
        flows[:] = done
        write()

    run_flows(budget, report, on_row=flow_done)
    return rows
