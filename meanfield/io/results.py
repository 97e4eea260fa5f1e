"""The results layout every run and study writes, and reads back.

``DIR/config.toml`` (fully resolved), ``DIR/metrics.npz`` (``t``, one array per observable named after
it with shape ``[R, n_rec, ...]``, ``snapshot_t`` and ``snapshot_<name>`` with shape ``[R, S, ...]``),
``DIR/summary.json`` and ``DIR/figures/*.png``.

Nothing is ever half-written: a run builds ``DIR.partial/`` (where its checkpoint also lives) and
renames it to ``DIR`` only when everything is in place; single files are written to a temporary name
and renamed.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

SNAPSHOT_PREFIX = "snapshot_"


@contextmanager
def _uninterrupted():
    """Hold SIGINT and SIGTERM until a file write is complete.

    A stop that lands inside ``np.savez`` would leave its zip writer half-closed and turn into an
    unrelated error; held here, it is delivered right after the write, at a safe point.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _readable(fd: int) -> None:
    # mkstemp creates files only the owner may read; results are meant to be shared like any
    # file the user writes, so they get the usual permissions of the user's umask.
    os.fchmod(fd, 0o666 & ~_umask())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _uninterrupted():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        _readable(fd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _uninterrupted():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
        _readable(fd)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def dumps_json(obj: Any) -> str:
    return json.dumps(jsonable(obj), indent=2, sort_keys=True) + "\n"


class RunFiles(NamedTuple):
    """A run read back from its folder."""

    path: Path
    config_text: str
    metrics: dict[str, np.ndarray]
    summary: dict

    @property
    def t(self) -> np.ndarray:
        return self.metrics["t"]

    @property
    def snapshot_t(self) -> np.ndarray:
        return self.metrics["snapshot_t"]

    def snapshot(self, name: str) -> np.ndarray:
        return self.metrics[SNAPSHOT_PREFIX + name]


def metrics_arrays(t, observables, snapshot_t, snapshots) -> dict[str, np.ndarray]:
    """The arrays of ``metrics.npz``, with snapshot arrays prefixed by ``snapshot_``."""
    out = {"t": np.asarray(t), "snapshot_t": np.asarray(snapshot_t)}
    for k, v in observables.items():
        out[k] = np.asarray(v)
    for k, v in snapshots.items():
        out[SNAPSHOT_PREFIX + k] = np.asarray(v)
    return out


def partial_dir(out: Path) -> Path:
    return Path(str(out) + ".partial")


class ResultError(ValueError):
    """A results file is missing pieces or cannot be read; the message names the file."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ResultError(f"{path}: unreadable ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ResultError(f"{path}: expected a JSON object")
    return data


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 — zip, pickle and format errors alike mean corrupted
        raise ResultError(f"{path}: unreadable ({type(e).__name__})") from None


def read_run(path: str | Path) -> RunFiles:
    """Read a finished run's folder.

    Raises:
        FileNotFoundError: when ``path`` is not a finished run.
        ResultError: when one of its files cannot be read.
    """
    path = Path(path)
    if not (path / "summary.json").is_file():
        raise FileNotFoundError(f"{path}: not a finished run (no summary.json)")
    summary = _read_json(path / "summary.json")
    metrics = _read_npz(path / "metrics.npz")
    if "t" not in metrics or "snapshot_t" not in metrics:
        raise ResultError(f"{path / 'metrics.npz'}: lacks the arrays t and snapshot_t")
    try:
        config_text = (path / "config.toml").read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ResultError(f"{path / 'config.toml'}: unreadable ({type(e).__name__})") from None
    return RunFiles(path, config_text, metrics, summary)


def save_checkpoint(path: Path, leaves: list[np.ndarray], observables: dict[str, np.ndarray],
                    records_done: int, config_text: str, run_seconds: float = 0.0) -> None:
    """Everything needed to continue a run exactly: the scan carry's leaves and the history
    (and the seconds of stepping so far, so a resumed run reports its true speed)."""
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays.update({f"obs_{k}": v for k, v in observables.items()})
    arrays["records_done"] = np.asarray(records_done)
    arrays["run_seconds"] = np.asarray(run_seconds, float)
    arrays["config_text"] = np.asarray(config_text)
    atomic_save_npz(path, arrays)


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: corrupted, or of another config; names the file."""


def load_checkpoint(path: Path, config_text: str) -> dict | None:
    """The checkpoint at ``path``, or None if there is none.

    Raises:
        CheckpointError: when it cannot be read or belongs to a different resolved config.
    """
    if not Path(path).exists():
        return None
    try:
        z = _read_npz(Path(path))
        saved = str(z["config_text"])
        n = sum(1 for k in z if k.startswith("leaf_"))
        out = {"carry_leaves": [z[f"leaf_{i}"] for i in range(n)],
               "observables": {k[4:]: z[k] for k in z if k.startswith("obs_")},
               "records_done": int(z["records_done"]),
               "run_seconds": float(z.get("run_seconds", 0.0))}
    except (ResultError, KeyError, ValueError, TypeError):
        raise CheckpointError(f"{path}: corrupted checkpoint") from None
    if saved != config_text:
        raise CheckpointError(f"{path}: an interrupted run of a different config")
    return out
