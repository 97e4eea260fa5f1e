"""Run configurations: TOML files read into frozen, documented dataclasses.

The names follow docs/model.md so a reader of the paper recognises them: ``model.K``, ``model.L``,
``model.N``, ``model.M``, ``dynamics.lr`` (α), ``dynamics.n_critic`` (n_c), ``dynamics.clip`` (c),
``dynamics.batch_size`` (m), ``run.T``. Every field carries its documentation and its admissible
range; :func:`load` rejects unknown keys, wrong types and out-of-range values with a
:class:`ConfigError` that names the key. Configs hold integer seeds, never keys.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range; names the key."""


def _f(default, doc: str, check: Callable[[Any], bool] | None = None, expect: str = ""):
    meta = {"doc": doc, "check": check, "expect": expect}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def _pos(x) -> bool:
    return x > 0


def _nonneg(x) -> bool:
    return x >= 0


def _one_of(*names):
    return (lambda x: x in names), "one of " + ", ".join(repr(n) for n in names)


_POS = dict(check=_pos, expect="> 0")
_NONNEG = dict(check=_nonneg, expect=">= 0")


@dataclass(frozen=True)
class ModelConfig:
    """Which particle system, and its sizes (docs/model.md §2)."""

    kind: str = _f("wgan", "particle system", *_one_of("wgan", "toy", "dirac"))
    K: int = _f(1, "data dimension K", **_POS)
    L: int = _f(1, "latent dimension L", **_POS)
    N: int = _f(256, "number of generator particles N", **_POS)
    M: int = _f(256, "number of critic particles M", **_POS)
    activation: str = _f("sigmoid", "activation s of both networks", *_one_of("sigmoid", "tanh"))


@dataclass(frozen=True)
class LatentConfig:
    """The latent law λ on R^L."""

    law: str = _f("gaussian", "latent law", *_one_of("gaussian", "logistic"))


@dataclass(frozen=True)
class TargetConfig:
    """The target P* on R^K: a Gaussian mixture or an atomic mixture.

    ``means`` and ``atoms`` hold one number per component when K = 1, else one list of K numbers.
    """

    law: str = _f("gaussian_mixture", "target law", *_one_of("gaussian_mixture", "atoms"))
    weights: list = _f([0.5, 0.5], "mixture weights (normalised)")
    means: list = _f([-1.0, 1.0], "component means (gaussian_mixture)")
    stds: list = _f([0.3, 0.3], "component standard deviations (gaussian_mixture)")
    atoms: list = _f([-1.0, 1.0], "atom positions (atoms)")


@dataclass(frozen=True)
class InitConfig:
    """Initial laws N(mean, std²) of each parameter block (generator a, b, c; critic α, β, γ)."""

    a_mean: float = _f(0.0, "generator a: mean")
    a_std: float = _f(1.0, "generator a: std", **_NONNEG)
    b_mean: float = _f(0.0, "generator b: mean")
    b_std: float = _f(1.0, "generator b: std", **_NONNEG)
    c_mean: float = _f(0.0, "generator c: mean")
    c_std: float = _f(1.0, "generator c: std", **_NONNEG)
    alpha_mean: float = _f(0.0, "critic α: mean")
    alpha_std: float = _f(0.5, "critic α: std (particles are then clipped into Q)", **_NONNEG)
    beta_mean: float = _f(0.0, "critic β: mean")
    beta_std: float = _f(0.5, "critic β: std", **_NONNEG)
    gamma_mean: float = _f(0.0, "critic γ: mean")
    gamma_std: float = _f(0.5, "critic γ: std", **_NONNEG)


@dataclass(frozen=True)
class DynamicsConfig:
    """The discrete scheme (docs/model.md §2). One generator step advances time by Δt = lr/N."""

    scheme: str = _f("simultaneous", "update scheme", *_one_of("simultaneous", "alternating"))
    optimizer: str = _f("sgd", "optimiser: sgd (the mean-field scheme) or rmsprop (PyTorch's "
                        "RMSprop defaults: ν ← 0.99ν + 0.01g², step lr·g/(√ν + 1e-8), eps outside "
                        "the square root; the time reading is then approximate)",
                        *_one_of("sgd", "rmsprop"))
    lr: float = _f(1.0, "raw step size α (Δt = α/N)", **_POS)
    n_critic: int = _f(1, "critic steps per generator step n_c (γ_c = n_c N/M)", **_POS)
    clip: float = _f(0.01, "clipping half-width c of Q = [−c, c]^{K+2}", **_POS)
    batch_size: int = _f(1, "samples per update m", **_POS)
    population: bool = _f(False, "exact expectations (quadrature) instead of samples")


@dataclass(frozen=True)
class ToyConfig:
    """The toy game of the mean-field lecture (docs/model.md §5), used when ``model.kind = "toy"``.

    Particle counts come from ``model.N``/``model.M`` and the latent from ``latent.law``. Time is
    mean-field time directly: one step advances it by ``dt``.
    """

    gamma: float = _f(1.0, "critic speed γ", **_POS)
    dt: float = _f(0.01, "mean-field time per step", **_POS)
    integrator: str = _f("euler", "projected explicit Euler (the GAN algorithm) or RK4",
                         *_one_of("euler", "rk4"))
    clipped: bool = _f(True, "project ω onto [−c, c]")
    clip: float = _f(1.0, "c (the lecture's setting: 1)", **_POS)
    theta0: float = _f(-2.0, "centre of the generator particles θ")
    omega0: float = _f(0.0, "centre of the critic particles ω")
    theta_spread: float = _f(0.0, "std of the initial generator cloud", **_NONNEG)
    omega_spread: float = _f(0.0, "std of the initial critic cloud", **_NONNEG)
    sign: str = _f("fake_minus_real", "which game: 'fake_minus_real' (the critic ascends E f(fake) − E f(real), "
                   "the generator descends it) or 'wgan' (the critic ascends E f(real) − "
                   "E f(fake), the generator descends it); different games for N > 1, since the "
                   "ReLU critics are not closed under f ↦ −f (docs/toy_game.md)",
                   *_one_of("fake_minus_real", "wgan"))


@dataclass(frozen=True)
class DiracConfig:
    """The Dirac GAN (docs/model.md §6), used when ``model.kind = "dirac"``.

    One step advances time by ``h``.
    """

    loss: str = _f("gan", "loss f", *_one_of("gan", "nonsaturating", "wgan"))
    scheme: str = _f("simultaneous", "discrete updates or a flow (RK4 steps of size h)",
                     *_one_of("simultaneous", "alternating", "nash_flow", "morse_flow"))
    h: float = _f(0.2, "step size h", **_POS)
    clipped: bool = _f(False, "clip ψ to [−c, c]")
    clip: float = _f(0.5, "c, used when clipped", **_POS)
    n_critic: int = _f(1, "critic steps per generator step (alternating)", **_POS)
    gp: float = _f(0.0, "gradient-penalty weight γ_gp", **_NONNEG)
    noise: float = _f(0.0, "instance-noise scale σ (in expectation)", **_NONNEG)
    consensus: float = _f(0.0, "consensus-optimisation weight γ (Mescheder et al. 2017): both "
                          "players subtract ½γ‖v‖² from their objectives, v the joint gradient "
                          "field, so they follow v − γJ_vᵀv; eigenvalues −γf′(0)² ± if′(0) at "
                          "the equilibrium (docs/dirac_gan.md)", **_NONNEG)
    theta0: float = _f(1.0, "initial generator position θ")
    psi0: float = _f(1.0, "initial critic slope ψ")


@dataclass(frozen=True)
class RunConfig:
    """Horizon, grid, replicas, seeds and numerics of a run."""

    T: float = _f(10.0, "horizon in mean-field time", **_POS)
    n_records: int = _f(101, "recorded times on [0, T], t = 0 included", check=lambda x: x >= 2,
                        expect=">= 2")
    snapshot_times: list = _f([0.0], "times >= 0 at which all particles are saved (times beyond T "
                              "are dropped with a note; each is rounded up to a record time when "
                              "the step does not allow it exactly, with a note)",
                              check=lambda x: all(not isinstance(v, list) and v >= 0 for v in x),
                              expect="a flat list of times >= 0")
    replicas: int = _f(1, "independent replicas R (vmapped)", **_POS)
    seed: int = _f(0, "integer seed in [0, 2^32 − 1] (JAX keys hold 32 bits in float32 mode)",
                   check=lambda x: 0 <= x < 2 ** 32, expect="an integer in [0, 2^32 − 1]")
    shared_init: bool = _f(False, "all replicas start from the same particles")
    chunk_records: int = _f(0, "records per compiled chunk (0: about a tenth of the run)",
                            **_NONNEG)
    dtype: str = _f("float32", "float dtype", *_one_of("float32", "float64"))
    quadrature_nodes: int = _f(20, "quadrature nodes per dimension (population, payoff)", **_POS)
    max_quadrature_points: int = _f(4096, "above this, a fixed sample replaces quadrature", **_POS)
    n_eval: int = _f(1024, "points per cloud for W_1, W_2 (>= 16: the estimators resolve about "
                           "1/n_eval of the laws' spread)", check=lambda x: x >= 16,
                     expect=">= 16")


@dataclass(frozen=True)
class Config:
    """A whole run: one section per dataclass above, as in the TOML file."""

    model: ModelConfig = field(default_factory=ModelConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    init: InitConfig = field(default_factory=InitConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    toy: ToyConfig = field(default_factory=ToyConfig)
    dirac: DiracConfig = field(default_factory=DiracConfig)
    run: RunConfig = field(default_factory=RunConfig)


#: Section name -> its dataclass, in file order.
SECTIONS: dict[str, type] = dict(typing.get_type_hints(Config))


def _finite_numbers(x, depth: int = 2) -> bool:
    """A finite number, or a list (nested at most ``depth`` deep) of such."""
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return math.isfinite(x)
    if isinstance(x, list) and depth > 0:
        return all(_finite_numbers(v, depth - 1) for v in x)
    return False


def _coerce(key: str, value: Any, typ: type) -> Any:
    """Check ``value`` against the field type ``typ``; ints are accepted where floats are."""
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    elif typ is list:
        # A list of numbers, or of lists of numbers (one vector per component when K > 1).
        if not isinstance(value, list) or not _finite_numbers(value):
            raise ConfigError(f"{key}: expected a list of finite numbers (or of lists of finite "
                              f"numbers), got {value!r}")
    return value


def _section(name: str, cls: type, raw: dict) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key; expected one of {', '.join(fields)}")
    values = {}
    for k, v in raw.items():
        key = f"{name}.{k}"
        v = _coerce(key, v, hints[k])
        check = fields[k].metadata.get("check")
        if check is not None and not check(v):
            raise ConfigError(f"{key}: expected {fields[k].metadata['expect']}, got {v!r}")
        values[k] = v
    return cls(**values)


def from_dict(raw: dict) -> Config:
    """Build and validate a :class:`Config` from nested dicts (as parsed from TOML).

    Raises:
        ConfigError: naming the first bad key.
    """
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; expected one of {', '.join(SECTIONS)}")
    cfg = Config(**{name: _section(name, cls, raw.get(name, {})) for name, cls in SECTIONS.items()})
    _cross_check(cfg)
    return cfg


def _cross_check(cfg: Config) -> None:
    """Constraints between fields."""
    t, K = cfg.target, cfg.model.K
    n = len(t.weights)
    if n == 0 or any(w <= 0 for w in t.weights):
        raise ConfigError("target.weights: expected a non-empty list of positive numbers")
    lists = {"means": t.means, "stds": t.stds} if t.law == "gaussian_mixture" else {"atoms": t.atoms}
    for name, v in lists.items():
        if len(v) != n:
            raise ConfigError(f"target.{name}: expected {n} entries (one per weight), got {len(v)}")
        for entry in v:
            size = len(entry) if isinstance(entry, list) else 1
            if size != K and not (name == "stds" and size == 1):
                raise ConfigError(f"target.{name}: expected entries of dimension model.K = {K}")
    if t.law == "gaussian_mixture" and not _finite_numbers(t.stds):
        raise ConfigError("target.stds: expected finite numbers")
    if t.law == "gaussian_mixture" and any(
            s <= 0 for e in t.stds for s in (e if isinstance(e, list) else [e])):
        raise ConfigError("target.stds: expected positive numbers")
    if any(isinstance(x, list) for x in t.weights):
        raise ConfigError(f"target.weights: expected a flat list of numbers, got {t.weights!r}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"section.key=value"`` -> (path, value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    path, value = text.split("=", 1)
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    parts = path.strip().split(".")
    if len(parts) != 2 or parts[0] not in SECTIONS:
        raise ConfigError(f"--set {path}: expected section.key with section one of "
                          f"{', '.join(SECTIONS)}")
    return parts, parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """A copy of ``raw`` with every ``section.key=value`` of ``overrides`` set."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for text in overrides:
        (section, key), value = parse_override(text)
        raw.setdefault(section, {})[key] = value
    return raw


def load(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read a TOML config (or the defaults when ``path`` is None) and apply ``--set`` overrides.

    Raises:
        ConfigError: naming the bad key or the unreadable file.
    """
    raw: dict = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder, not a config file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot be read ({type(e).__name__})") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from None
    return from_dict(apply_overrides(raw, list(overrides)))


def to_dict(cfg: Config) -> dict:
    """The fully resolved config as nested dicts (round-trips through :func:`from_dict`)."""
    return dataclasses.asdict(cfg)


def dumps(cfg: Config) -> str:
    """The fully resolved config as TOML text."""
    return tomli_w.dumps(to_dict(cfg))


def describe() -> str:
    """Every key with its default and documentation (for ``meanfield config --help``)."""
    lines = []
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"  {f.name} = {default!r}  # {f.metadata['doc']}")
    return "\n".join(lines)


__all__ = ["Config", "ConfigError", "ModelConfig", "LatentConfig", "TargetConfig", "InitConfig",
           "DynamicsConfig", "ToyConfig", "DiracConfig", "RunConfig", "load", "from_dict",
           "to_dict", "dumps", "describe",
           "apply_overrides"]
