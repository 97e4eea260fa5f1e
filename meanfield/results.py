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
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

SNAPSHOT_PREFIX = "snapshot_"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def dumps_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n"


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


def finalize(partial: Path, out: Path) -> None:
    """Move a complete ``DIR.partial`` into place as ``DIR`` (replacing an older ``DIR``)."""
    (partial / "checkpoint.npz").unlink(missing_ok=True)
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)


def read_run(path: str | Path) -> RunFiles:
    """Read a finished run's folder.

    Raises:
        FileNotFoundError: when ``path`` is not a finished run.
    """
    path = Path(path)
    if not (path / "summary.json").exists():
        raise FileNotFoundError(f"{path}: not a finished run (no summary.json)")
    with np.load(path / "metrics.npz") as z:
        metrics = {k: z[k] for k in z.files}
    return RunFiles(path, (path / "config.toml").read_text(), metrics,
                    json.loads((path / "summary.json").read_text()))


def save_checkpoint(path: Path, leaves: list[np.ndarray], observables: dict[str, np.ndarray],
                    records_done: int, config_text: str) -> None:
    """Everything needed to continue a run exactly: the scan carry's leaves and the history."""
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays.update({f"obs_{k}": v for k, v in observables.items()})
    arrays["records_done"] = np.asarray(records_done)
    arrays["config_text"] = np.asarray(config_text)
    atomic_save_npz(path, arrays)


def load_checkpoint(path: Path, config_text: str) -> dict | None:
    """The checkpoint at ``path`` if it exists and belongs to the same resolved config."""
    if not Path(path).exists():
        return None
    with np.load(path) as z:
        if str(z["config_text"]) != config_text:
            return None
        n = sum(1 for k in z.files if k.startswith("leaf_"))
        return {"carry_leaves": [z[f"leaf_{i}"] for i in range(n)],
                "observables": {k[4:]: z[k] for k in z.files if k.startswith("obs_")},
                "records_done": int(z["records_done"])}
