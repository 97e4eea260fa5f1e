"""The registry of system kinds: the one place that maps ``[system] kind`` to its code.

A *kind* declares, in its own folder under ``meanfield/systems/``, everything the generic layers
need: the config dataclass of its ``[system]`` table, the builder of its particle system, its
figures, the fields of ``[system]`` a sweep may vmap (they keep array shapes and the step count),
the observables a sweep's figures show, and how its step counter reads as time. The generic layers
(config loading, run, results, figures, sweeps, the CLI) look kinds up here and never name one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


def _model_time(system_config: Any) -> str:
    return "t = k·dt, the model's own time step"


@dataclass(frozen=True)
class Kind:
    """One system kind.

    Attributes:
        name: the value of ``[system] kind``.
        config: frozen dataclass of the ``[system]`` table (fields built with
            :func:`meanfield.io.config.option`; a ``kind`` field equal to ``name``; an optional
            ``check()`` method for constraints between fields, raising ``ConfigError``).
        build: ``(system_config, run_config) -> ParticleSystem``.
        figures: ``(figure_dir, config, t, observables, snapshot_t, snapshots) -> None``, the
            kind's own figures (``observables.png`` is drawn for every kind), or None.
        vmapped: dotted paths inside ``[system]`` that keep shapes and the step count; the built
            system must then be a pytree with those values as leaves.
        headline: observables a sweep draws against its axes.
        time_reading: ``system_config -> str``, how a step reads as time (``summary.json``).
        summary: ``(system, t, observables) -> dict``, the kind's own ``summary.json`` entries
            (host arrays: ``t [n]``, observables ``[R, n, ...]``), or None.
        from_old_layout: ``raw -> dict``, the ``[system]`` table of a config written in the
            layout before ``[system]`` (``[model]``, ``[dynamics]``, …), or None.
    """

    name: str
    config: type
    build: Callable[[Any, Any], Any]
    figures: Callable[..., None] | None = None
    vmapped: tuple[str, ...] = ()
    headline: tuple[str, ...] = ()
    time_reading: Callable[[Any], str] = _model_time
    summary: Callable[[Any, Any, dict], dict] | None = None
    from_old_layout: Callable[[dict], dict] | None = None


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add ``kind`` to the registry (once per name)."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"a system kind {kind.name!r} is registered already")
    _KINDS[kind.name] = kind
    return kind


def names() -> tuple[str, ...]:
    """The registered kinds, in registration order."""
    return tuple(_KINDS)


def get(name: str) -> Kind:
    """The kind registered as ``name``.

    Raises:
        KeyError: naming the registered kinds.
    """
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"no system kind {name!r}; expected one of {', '.join(_KINDS)}") from None
