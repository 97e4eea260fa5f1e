"""Run configurations: TOML files read into frozen, documented dataclasses.

A config has two tables::

    [system]            # a tagged union: ``kind`` selects the dataclass of a registered kind
    kind = "..."        # (meanfield.core.registry); only that kind's fields are valid
    N = 256
    [system.dynamics]   # sub-configs the kind composes (laws, networks, optimiser, ...)
    lr = 4.0
    [run]               # what every kind has: horizon, grid, replicas, seed, dtype
    T = 100.0

Every field carries its documentation and its admissible range (:func:`option`); :func:`load`
rejects unknown keys, wrong types and out-of-range values with a :class:`ConfigError` that names
the key. Configs hold integer seeds, never keys. A result folder stores its own resolved config
(:func:`dumps`), which holds only its kind's fields, so adding a kind changes no saved text.
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

from meanfield.core import registry


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range; names the key."""


def option(default, doc: str, check: Callable[[Any], bool] | None = None, expect: str = ""):
    """A config field: its default, its documentation and its admissible range.

    Args:
        default: the default (a list default is copied per instance).
        doc: one line for ``meanfield config``.
        check: predicate the value must satisfy.
        expect: what ``check`` requires, in words (for the error line).
    """
    meta = {"doc": doc, "check": check, "expect": expect}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, doc: str):
    """A sub-config field: a nested table holding the dataclass ``cls``."""
    return field(default_factory=cls, metadata={"doc": doc, "check": None, "expect": ""})


POSITIVE = dict(check=lambda x: x > 0, expect="> 0")
NONNEGATIVE = dict(check=lambda x: x >= 0, expect=">= 0")


def one_of(*names) -> dict:
    """``option`` keywords admitting exactly ``names``."""
    return dict(check=lambda x: x in names, expect="one of " + ", ".join(repr(n) for n in names))


def kind_option(name: str):
    """The ``kind`` field of a kind's ``[system]`` dataclass."""
    return option(name, "system kind", **one_of(name))


@dataclass(frozen=True)
class RunConfig:
    """Horizon, grid, replicas, seeds and numerics of a run: what every kind has."""

    T: float = option(10.0, "horizon in the system's time", **POSITIVE)
    n_records: int = option(101, "recorded times on [0, T], t = 0 included",
                            check=lambda x: x >= 2, expect=">= 2")
    snapshot_times: list = option([0.0], "times >= 0 at which all particles are saved (times "
                                  "beyond T are dropped with a note; each is rounded up to a "
                                  "record time when the step does not allow it exactly, with a "
                                  "note)",
                                  check=lambda x: all(not isinstance(v, list) and v >= 0
                                                      for v in x),
                                  expect="a flat list of times >= 0")
    replicas: int = option(1, "independent replicas R (vmapped)", **POSITIVE)
    seed: int = option(0, "integer seed in [0, 2^32 − 1] (JAX keys hold 32 bits in float32 mode)",
                       check=lambda x: 0 <= x < 2 ** 32, expect="an integer in [0, 2^32 − 1]")
    shared_init: bool = option(False, "all replicas start from the same particles")
    chunk_records: int = option(0, "records per compiled chunk (0: about a tenth of the run)",
                                **NONNEGATIVE)
    dtype: str = option("float32", "float dtype", **one_of("float32", "float64"))


@dataclass(frozen=True)
class Config:
    """A whole run: the ``[system]`` of one kind and the ``[run]``.

    Attributes:
        system: the kind's config dataclass (``system.kind`` names it).
        run: the :class:`RunConfig`.
    """

    system: Any
    run: RunConfig = field(default_factory=RunConfig)

    @property
    def kind(self) -> str:
        return self.system.kind


TABLES = ("system", "run")
#: Sections of the layout before ``[system]`` (besides one named after each kind, such as the
#: earlier ``[toy]``); :func:`convert` maps them.
OLD_SHARED_SECTIONS = ("model", "latent", "target", "init", "dynamics")


def old_sections() -> tuple[str, ...]:
    """Every section name of the layout before ``[system]``."""
    return OLD_SHARED_SECTIONS + registry.names()


def _finite_numbers(x, depth: int = 2) -> bool:
    """A finite number, or a list (nested at most ``depth`` deep) of such."""
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return math.isfinite(x)
    if isinstance(x, list) and depth > 0:
        return all(_finite_numbers(v, depth - 1) for v in x)
    return False


def _coerce(key: str, value: Any, typ: type, allow_inf: bool = False) -> Any:
    """Check ``value`` against the field type ``typ``; ints are accepted where floats are, and +inf
    only where ``allow_inf`` (a field whose default is +inf: "no constraint")."""
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
        if not math.isfinite(value) and not (allow_inf and value == math.inf):
            raise ConfigError(f"{key}: expected a finite number{' or inf' if allow_inf else ''}, "
                              f"got {value!r}")
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    elif typ is list:
        # A list of numbers, or of lists of numbers (one vector per component when K > 1).
        if not isinstance(value, list) or not _finite_numbers(value):
            raise ConfigError(f"{key}: expected a list of finite numbers (or of lists of finite "
                              f"numbers), got {value!r}")
    return value


def _table(name: str, cls: type, raw: Any) -> Any:
    """Validate the table ``raw`` (named ``name``) into ``cls``, recursing into sub-configs."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key; expected one of "
                          f"{', '.join(fields)}")
    values = {}
    for k, v in raw.items():
        key = f"{name}.{k}"
        if dataclasses.is_dataclass(hints[k]):
            values[k] = _table(key, hints[k], v)
            continue
        if isinstance(v, dict):
            raise ConfigError(f"{key}: expected a value, got a table")
        v = _coerce(key, v, hints[k], allow_inf=fields[k].default == math.inf)
        check = fields[k].metadata.get("check")
        if check is not None and not check(v):
            raise ConfigError(f"{key}: expected {fields[k].metadata['expect']}, got {v!r}")
        values[k] = v
    out = cls(**values)
    if hasattr(out, "check"):
        out.check()
    return out


def kind_of(raw: dict) -> registry.Kind:
    """The registered kind a raw config's ``[system] kind`` names.

    Raises:
        ConfigError: when ``[system]`` or its ``kind`` is missing or unknown.
    """
    system = raw.get("system")
    if not isinstance(system, dict) or "kind" not in system:
        raise ConfigError(f"system.kind: missing; expected one of {', '.join(registry.names())}")
    try:
        return registry.get(system["kind"])
    except (KeyError, TypeError):
        raise ConfigError(f"system.kind: expected one of {', '.join(registry.names())}, got "
                          f"{system['kind']!r}") from None


def _old_layout(raw: dict) -> list[str]:
    return [k for k in old_sections() if k in raw]


def from_dict(raw: dict) -> Config:
    """Build and validate a :class:`Config` from nested dicts (as parsed from TOML).

    Raises:
        ConfigError: naming the first bad key.
    """
    old = _old_layout(raw)
    if old:
        raise ConfigError(f"{old[0]}: a section of the layout before [system]; `meanfield config "
                          "FILE --convert` prints the file in the [system] layout")
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; expected one of {', '.join(TABLES)}")
    kind = kind_of(raw)
    return Config(system=_table("system", kind.config, raw["system"]),
                  run=_table("run", RunConfig, raw.get("run", {})))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"table.key=value"`` (any depth: ``system.dynamics.lr=2``) -> (path, value); the value is
    read as TOML, else as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected table.key=value")
    path, value = text.split("=", 1)
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    parts = path.strip().split(".")
    if len(parts) < 2 or parts[0] not in TABLES or not all(parts):
        hint = (f"; {parts[0]!r} is a section of the layout before [system]; `meanfield "
                "config` lists the keys") if parts[0] in old_sections() else ""
        raise ConfigError(f"--set {path}: expected table.key with table one of "
                          f"{', '.join(TABLES)}{hint}")
    return parts, parsed


def set_path(raw: dict, path: list[str], value: Any) -> None:
    """Set ``raw[p0][p1]…`` to ``value``, creating tables (a value on the way is an error)."""
    node = raw
    for i, p in enumerate(path[:-1]):
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(path[:i + 1])}: is a value, not a table")
        node = nxt
    node[path[-1]] = value


def get_path(d: dict, path: list[str]) -> Any:
    """``d[p0][p1]…`` (KeyError when absent)."""
    for p in path:
        if not isinstance(d, dict):
            raise KeyError(p)
        d = d[p]
    return d


def _copy(raw: Any) -> Any:
    return {k: _copy(v) for k, v in raw.items()} if isinstance(raw, dict) else raw


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """A copy of ``raw`` with every ``table.key=value`` of ``overrides`` set."""
    raw = _copy(raw)
    for text in overrides:
        path, value = parse_override(text)
        set_path(raw, path, value)
    return raw


def read_toml(path: str | Path) -> dict:
    """The parsed TOML file ``path``.

    Raises:
        ConfigError: naming the file when it is missing, a folder, unreadable or not TOML.
    """
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read ({type(e).__name__})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def load(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read a TOML config and apply ``--set`` overrides. Without ``path``, the default config of
    the first registered kind (or of the kind ``--set system.kind=…`` names).

    Raises:
        ConfigError: naming the bad key or the unreadable file.
    """
    raw: dict = {"system": {"kind": registry.names()[0]}} if path is None else read_toml(path)
    try:
        return from_dict(apply_overrides(raw, list(overrides)))
    except ConfigError as e:
        if path is not None and _old_layout(raw):
            raise ConfigError(f"{path}: {e}") from None
        raise


def to_dict(cfg: Config) -> dict:
    """The fully resolved config as nested dicts (round-trips through :func:`from_dict`)."""
    return {"system": dataclasses.asdict(cfg.system), "run": dataclasses.asdict(cfg.run)}


def dumps(cfg: Config) -> str:
    """The fully resolved config as TOML text."""
    return tomli_w.dumps(to_dict(cfg))


def convert(raw: dict) -> dict:
    """A config of the layout before ``[system]`` (``[model]``, ``[dynamics]``, …) in the
    ``[system]`` layout: the kind ``[model] kind`` names (default: the first registered) builds its
    ``[system]``; sections it does not use are dropped, ``[run]`` keeps its own keys, and other
    tables (``[sweep]``, a study's) pass through.

    Raises:
        ConfigError: when the old kind is unknown or cannot be converted.
    """
    raw = _copy(raw)
    name = raw.get("model", {}).get("kind", registry.names()[0])
    try:
        kind = registry.get(name)
    except (KeyError, TypeError):
        raise ConfigError(f"model.kind: expected one of {', '.join(registry.names())}, got "
                          f"{name!r}") from None
    if kind.from_old_layout is None:
        raise ConfigError(f"model.kind: a {name} config has no earlier layout to convert from")
    run_keys = {f.name for f in dataclasses.fields(RunConfig)}
    run = {k: v for k, v in raw.get("run", {}).items() if k in run_keys}
    rest = {k: v for k, v in raw.items() if k not in old_sections() and k != "run"}
    return {"system": kind.from_old_layout(raw), "run": run,
            **_convert_keys(rest, lambda key: _convert_key(kind, key, run_keys))}


def _convert_key(kind: registry.Kind, key: str, run_keys: set[str]) -> str:
    """The new dotted path of an old ``section.key`` (a sweep axis), found by converting a config
    that holds only that key; other keys are returned unchanged."""
    section, _, name = key.partition(".")
    if not name or section not in old_sections() + ("run",):
        return key
    if section == "run" and name in run_keys:
        return key
    marker = "\0converted key"
    system = kind.from_old_layout({section: {name: marker}})

    def find(d, path):
        for k, v in d.items():
            if v == marker:
                return path + [k]
            if isinstance(v, dict) and (hit := find(v, path + [k])):
                return hit
        return None

    path = find(system, ["system"])
    return ".".join(path) if path else key


def _convert_keys(tables: Any, convert_key: Callable[[str], str]) -> Any:
    """``tables`` with every dotted key of a nested table converted (sweep axes, grids)."""
    if isinstance(tables, dict):
        return {convert_key(k) if "." in k else k: _convert_keys(v, convert_key)
                for k, v in tables.items()}
    if isinstance(tables, list):
        return [_convert_keys(v, convert_key) for v in tables]
    return tables


def _describe_table(prefix: str, cls: type, lines: list[str]) -> None:
    hints = typing.get_type_hints(cls)
    subs = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            subs.append(f)
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        lines.append(f"  {f.name} = {default!r}  # {f.metadata['doc']}")
    for f in subs:
        lines.append(f"[{prefix}.{f.name}]  # {f.metadata['doc']}")
        _describe_table(f"{prefix}.{f.name}", hints[f.name], lines)


def describe() -> str:
    """Every key of every kind with its default and documentation (``meanfield config``)."""
    lines = []
    for name in registry.names():
        cls = registry.get(name).config
        lines.append(f"[system]  # kind = {name!r}: {(cls.__doc__ or '').splitlines()[0]}")
        _describe_table("system", cls, lines)
        lines.append("")
    lines.append("[run]  # every kind")
    _describe_table("run", RunConfig, lines)
    return "\n".join(lines)


__all__ = ["Config", "ConfigError", "RunConfig", "apply_overrides", "convert", "describe",
           "dumps", "from_dict", "load", "option", "section", "to_dict"]
