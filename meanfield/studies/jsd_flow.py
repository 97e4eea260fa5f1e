"""Three ways of one flow: the JSD gradient flow from ρ₀ to ρ_d as a PDE, as particles, as a GAN
(docs/model.md §7).

- **PDE**: the Fokker–Planck equation solved by :mod:`meanfield.systems.jsd_flow.fokker_planck`
  (implicit finite volumes; the reference).
- **Particles**: the ODE (5) with a Gaussian KDE of bandwidth b,
  :mod:`meanfield.systems.jsd_flow.particles`, started from the midpoint quantiles of ρ₀ (so the
  initial sampling error is O(1/N), not O(N^{-1/2})).
- **GAN**: Huang–Zhang's Algorithm 2 (a ``gan`` run with ``algorithm = "jsd_flow"``): the
  generator fitted to ρ₀ first, then each iteration trains the discriminator n_c steps and moves
  the generated points by ε along ∇D/(2(1 − D)); time t = k ε.

All three report JSD(ρ_t, ρ_d), the mean and the variance at the times ``TIMES``. JSD is exact on
the PDE's grid for the PDE; for particles and the GAN it is the KDE estimate of
:mod:`meanfield.metrics.divergences` (Silverman's bandwidth), and the same estimator applied to
quantiles of the PDE's density (``estimator.pde_kde``) shows the estimator's own share of the
differences. Moments come from the points directly (the GAN's at 1024 latent quantiles).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from meanfield.io import config as C
from meanfield.io import experiment, results
from meanfield.metrics.divergences import jsd_kde, kde_density
from meanfield.studies.flows import run_or_read
from meanfield.systems.jsd_flow import fokker_planck as fp
from meanfield.systems.jsd_flow import particles as pt

TIMES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Settings:
    """The PDE's and the particles' numerics (the GAN's are its config).

    Attributes:
        lo, hi, cells: the PDE's grid on [lo, hi].
        dt: the PDE's and the particles' time step.
        n_particles: N, midpoint quantiles of ρ₀.
        bandwidth: b of the particles' KDE.
        record: the time between recorded points of the curves.
    """

    lo: float = -7.0
    hi: float = 7.0
    cells: int = 800
    dt: float = 0.01
    n_particles: int = 2000
    bandwidth: float = 0.05
    record: float = 0.1


def _laws(cfg: C.Config):
    s = cfg.system
    return s.initial.build(), s.target.build()


def _moments(u, y, h):
    m = h * (u @ y)
    return m, h * (u @ (y - m) ** 2)


def _quantiles(u, g: fp.Grid, n: int) -> np.ndarray:
    """n midpoint quantiles of the density u on the grid (its CDF interpolated between faces)."""
    cdf = np.concatenate([[0.0], np.cumsum(u) * g.h])
    cdf /= cdf[-1]
    return np.interp((np.arange(n) + 0.5) / n, cdf, g.faces)


def solve_pde(rho0, rho_d, st: Settings, T: float) -> dict[str, np.ndarray]:
    """The PDE's density every ``st.record`` on the grid, its JSD, mean and variance."""
    g = fp.grid(st.lo, st.hi, st.cells)
    every = int(round(st.record / st.dt))
    n = int(round(T / st.dt))
    with jax.enable_x64(True):
        pr = fp.problem(g, rho_d.density, st.dt)
        u0 = jnp.asarray(rho0.density(g.y))
        u, newton = jax.jit(fp.solve, static_argnums=(2, 3))(u0, pr, n, every)
        u = np.asarray(u)
        js = np.asarray(jax.vmap(lambda x: fp.jsd(x, pr.rho, g.h))(jnp.asarray(u)))
    m, v = zip(*(_moments(x, g.y, g.h) for x in u))
    return {"t": np.arange(len(u)) * every * st.dt, "y": g.y, "u": u, "jsd": js,
            "mean": np.asarray(m), "var": np.asarray(v), "mass": u.sum(1) * g.h,
            "beta": np.asarray(fp.ratio_bound(u0, pr.rho)),
            "newton_max": np.asarray(int(np.max(newton)))}


def simulate_particles(rho0, rho_d, st: Settings, T: float) -> dict[str, np.ndarray]:
    """The particle ODE from the midpoint quantiles of ρ₀: positions every ``st.record``."""
    every = int(round(st.record / st.dt))
    x0 = (np.arange(st.n_particles) + 0.5) / st.n_particles
    with jax.enable_x64(True):
        log_rho_d = lambda y: jnp.log(_density_jnp(rho_d, y))  # noqa: E731
        xs = jax.jit(lambda x: pt.simulate(x, log_rho_d, st.bandwidth, st.dt,
                                           int(round(T / st.dt)), every))(
            jnp.asarray(rho0.quantile(x0)))
        xs = np.asarray(xs)
    return {"t": np.arange(len(xs)) * every * st.dt, "x": xs, "mean": xs.mean(1),
            "var": xs.var(1)}


def _density_jnp(law, y):
    """A Gaussian mixture's density in JAX (the particle ODE differentiates ln ρ_d)."""
    w, m, s = (jnp.asarray(np.asarray(a, float)) for a in (law.weights, law.means, law.stds))
    z = (y[..., None] - m[:, 0]) / s[:, 0]
    return jnp.sum(w * jnp.exp(-0.5 * z ** 2) / (jnp.sqrt(2 * jnp.pi) * s[:, 0]), axis=-1)


def _cached(path: Path, settings: dict, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """``compute()`` saved to ``path`` (an npz with its settings), read back when they match."""
    key = results.dumps_json(settings)
    if path.exists():
        with np.load(path) as f:
            if str(f["settings"]) == key:
                return {k: f[k] for k in f.files if k != "settings"}
    arrays = compute()
    results.atomic_save_npz(path, {**arrays, "settings": np.asarray(key)})
    return arrays


def _at(t: np.ndarray, values: np.ndarray, times) -> list[float]:
    idx = [int(np.argmin(np.abs(t - s))) for s in times]
    assert all(abs(t[i] - s) < 1e-6 for i, s in zip(idx, times)), "a reported time is not recorded"
    return [float(values[i]) for i in idx]


def three_ways(cfg: C.Config, out: Path, st: Settings = Settings(),
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Run (or read back) the three legs and write ``numbers.json`` and ``three_ways.png``.

    Args:
        cfg: a ``gan`` config with ``algorithm = "jsd_flow"`` and an initial fit (its ρ₀, its
            target ρ_d, its horizon T ≥ 8).
        out: the study folder (owned by the caller).
        st: the PDE's and the particles' numerics.
        progress: ``(done, total)`` of the GAN run.

    Returns:
        The numbers written to ``numbers.json``.
    """
    rho0, rho_d = _laws(cfg)
    T = cfg.run.T
    times = [s for s in TIMES if s <= T + 1e-9]
    settings = {"rho0": asdict(cfg.system.initial), "rho_d": asdict(cfg.system.target), "T": T}
    pde = _cached(out / "pde.npz", {**settings, **asdict(st), "leg": "pde"},
                  lambda: solve_pde(rho0, rho_d, st, T))
    par = _cached(out / "particles.npz", {**settings, **asdict(st), "leg": "particles"},
                  lambda: simulate_particles(rho0, rho_d, st, T))
    run = run_or_read(cfg, out / "gan", progress)
    y = pde["y"]
    dens_d = rho_d.density(y)
    with jax.enable_x64(True):
        par_jsd = np.asarray([float(jsd_kde(jnp.asarray(x), jnp.asarray(y), jnp.asarray(dens_d)))
                              for x in par["x"]])
        g = fp.grid(st.lo, st.hi, st.cells)
        pde_kde = np.asarray([float(jsd_kde(jnp.asarray(_quantiles(u, g, 1024)), jnp.asarray(y),
                                            jnp.asarray(dens_d))) for u in pde["u"]])
    gm = run.metrics
    gan = {"jsd": np.median(gm["jsd"], 0), "mean": np.median(gm["gen_out_mean"][..., 0], 0),
           "var": np.median(gm["gen_out_std"][..., 0] ** 2, 0),
           "jsd_lower_bound": np.median(gm["jsd_lower_bound"], 0)}
    legs = {"pde": (pde["t"], {k: pde[k] for k in ("jsd", "mean", "var")}),
            "particles": (par["t"], {"jsd": par_jsd, "mean": par["mean"], "var": par["var"]}),
            "gan": (run.t, gan)}
    numbers: dict = {"t": times}
    for name, (t, curves) in legs.items():
        numbers[name] = {k: _at(t, v, times) for k, v in curves.items()}
    numbers["estimator"] = {"pde_kde": _at(pde["t"], pde_kde, times)}
    numbers["distance_from_pde"] = {
        name: {k: float(np.max(np.abs(np.subtract(numbers[name][k], numbers["pde"][k]))))
               for k in ("jsd", "mean", "var")} for name in ("particles", "gan")}
    numbers["checks"] = {"pde_mass_drift": float(np.ptp(pde["mass"])),
                         "pde_jsd_nonincreasing": bool(np.all(np.diff(pde["jsd"]) <= 1e-14)),
                         "beta": float(pde["beta"]), "pde_newton_max": int(pde["newton_max"]),
                         "gan_replicas": int(gm["jsd"].shape[0]),
                         "gan_jsd_per_replica_at_T": gm["jsd"][:, -1].tolist()}
    numbers["settings"] = {**asdict(st), "gan": C.to_dict(cfg)["system"]["dynamics"],
                           "gan_N": cfg.system.N, "gan_M": cfg.system.M}
    results.atomic_write_text(out / "numbers.json", results.dumps_json(numbers))
    _figure(out / "three_ways.png", cfg, pde, par, run, legs, pde_kde, times, st)
    return numbers


def _figure(path: Path, cfg: C.Config, pde, par, run, legs, pde_kde, times,
            st: Settings) -> None:
    """Densities at every reported time (top), JSD, mean, variance and the JSD estimates'
    differences from the PDE over time (bottom)."""
    rho_d = cfg.system.target.build()
    fig = plt.figure(figsize=(3.2 * max(len(times), 4), 7.0))
    grid = fig.add_gridspec(2, max(len(times), 4))
    y = pde["y"]
    with experiment.precision(cfg):
        system = experiment.build_system(cfg)
        gen = run.snapshot("gen")[0]
        outs = [np.asarray(system.generated(gen[j]))[:, 0] for j in range(gen.shape[0])]
    for j, s in enumerate(times):
        ax = fig.add_subplot(grid[0, j])
        ax.plot(y, pde["u"][int(np.argmin(np.abs(pde["t"] - s)))], "k", lw=1.5, label="PDE")
        x = par["x"][int(np.argmin(np.abs(par["t"] - s)))]
        ax.plot(y, np.asarray(kde_density(jnp.asarray(x), jnp.asarray(y), 0.1)), "C0", lw=1.2,
                label="particles (KDE, b = 0.1)")
        ax.hist(outs[int(np.argmin(np.abs(run.snapshot_t - s)))], bins=80, range=(-4, 5),
                density=True, color="C3", alpha=0.35, label="GAN g_μ#λ")
        ax.plot(y, rho_d.density(y), ":", c="0.5", label="ρ_d")
        ax.set(xlim=(-4, 5), title=f"t = {s:g}")
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7)
    styles = {"pde": "k-", "particles": "C0-", "gan": "C3-"}
    for j, (key, label) in enumerate((("jsd", "JSD(ρ_t, ρ_d)"), ("mean", "mean"),
                                      ("var", "variance"))):
        ax = fig.add_subplot(grid[1, j])
        for name, (t, curves) in legs.items():
            ax.plot(t, curves[key], styles[name], lw=1.3, label=name)
        if key == "jsd":
            ax.set_yscale("log")
        ax.set(xlabel="flow time t", title=label)
        ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, 3])
    t_pde, ref = legs["pde"][0], legs["pde"][1]["jsd"]
    for name in ("particles", "gan"):
        t, curves = legs[name]
        ax.plot(t, curves["jsd"] - np.interp(t, t_pde, ref), styles[name], lw=1.3, label=name)
    ax.plot(t_pde, pde_kde - ref, "k--", lw=1.0, label="the estimator on the PDE")
    ax.axhline(0.0, c="0.6", lw=0.8)
    ax.set(xlabel="flow time t", title="JSD estimate − PDE")
    ax.legend(fontsize=7)
    fig.suptitle("The JSD gradient flow three ways: Fokker–Planck PDE, particle ODE with a KDE "
                 f"(N = {st.n_particles}, b = {st.bandwidth}), GAN by Algorithm 2 "
                 f"(ε = {cfg.system.dynamics.epsilon})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
