"""Output folders that meanfield owns: a marker, a lock, and checks made before any computation.

A folder that a run, sweep, study or benchmark writes is *owned*: meanfield created it and put a
marker file ``.meanfield`` in it naming the kind of result (``run``, ``sweep``, ``study``,
``bench``). The rules, which every command follows through this module:

- A folder that exists and holds no marker is never written into, replaced or deleted; the command
  stops before computing, naming the folder. An empty folder is the one exception (nothing in it can
  be lost).
- ``--force`` replaces only an owned folder of the same kind.
- The current folder, any folder that contains it, and the filesystem root are refused; so are an
  existing file, and a location whose nearest existing parent is not a writable folder.
- While a command writes a folder it holds an exclusive lock on ``.lock`` inside it (``fcntl.flock``:
  released by the kernel when the process dies, so a killed run never leaves a stale lock); a second
  command into the same folder stops at once, naming the process that holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from meanfield.io import results

MARKER = ".meanfield"
LOCK = ".lock"
KINDS = ("run", "sweep", "study", "bench")


class FolderError(ValueError):
    """An output folder that meanfield may not use; the message names it."""


class FolderBusy(FolderError):
    """Another process is writing the folder."""


def marker_kind(folder: Path) -> str | None:
    """The kind named by ``folder/.meanfield``, or None when the folder is not owned."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in KINDS else None


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as a meanfield folder of ``kind`` (for folders made inside an owned one)."""
    results.atomic_write_text(folder / MARKER, json.dumps(
        {"kind": kind, "written_by": "meanfield",
         "note": "this folder was created by meanfield; --force may replace it"}) + "\n")


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_target(out: str | Path, kind: str) -> Path:
    """Check, before any computation, that ``out`` may become or be replaced by a ``kind`` folder.

    Args:
        out: the folder the command will write.
        kind: one of :data:`KINDS`.

    Returns:
        ``out`` as a :class:`Path`.

    Raises:
        FolderError: naming the folder and the reason.
    """
    out = Path(out)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or here.is_relative_to(target) or target == Path(target.anchor):
        raise FolderError(f"{out}: refusing to use the current folder, one that contains it, or "
                          "the root as an output folder; name a new folder")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise FolderError(f"{out}: exists and is not a folder; choose another output folder")
        owner = marker_kind(out)
        if owner is None and any(out.iterdir()):
            raise FolderError(f"{out}: exists and was not created by meanfield; meanfield never "
                              "writes into or deletes such a folder: choose another output folder")
        if owner is not None and owner != kind:
            raise FolderError(f"{out}: holds a meanfield {owner}, not a {kind}; choose another "
                              "output folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise FolderError(f"{out}: not writable")
    parent = _nearest_existing(target.parent)
    if not parent.is_dir():
        raise FolderError(f"{out}: cannot be created: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FolderError(f"{out}: cannot be created: {parent} is not writable")
    return out


def _lock(folder: Path):
    """Take the folder's lock without waiting; returns the open file (keep it to keep the lock)."""
    path = folder / LOCK
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise FolderBusy(f"{folder}: in use by {holder}; wait for it to finish or choose another "
                         "output folder") from None
    f.seek(0)
    f.truncate()
    f.write(f"process {os.getpid()} on {socket.gethostname()} "
            f"({' '.join(Path(sys.argv[0]).name.split()[:1] + sys.argv[1:])[:200]})")
    f.flush()
    return f


def _release(handle, folder: Path | None = None) -> None:
    if folder is not None:
        (folder / LOCK).unlink(missing_ok=True)
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


@contextmanager
def owned(folder: str | Path, kind: str) -> Iterator[Path]:
    """Create (or reuse) the owned folder ``folder`` of ``kind`` and hold its lock.

    The folder must have passed :func:`check_target`; it is created with its marker if absent.
    The lock is released (and its file removed) on exit, whatever happens.

    Raises:
        FolderError: when the folder exists without this kind's marker (and is not empty).
        FolderBusy: when another process holds the lock.
    """
    folder = Path(folder)
    owner = marker_kind(folder) if folder.is_dir() else None
    if folder.is_dir() and owner is None and any(folder.iterdir()):
        raise FolderError(f"{folder}: exists and was not created by meanfield")
    if owner is not None and owner != kind:
        raise FolderError(f"{folder}: holds a meanfield {owner}, not a {kind}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if owner is None:
            write_marker(folder, kind)
    except OSError as e:
        raise FolderError(f"{folder}: cannot be created ({e.strerror or e})") from None
    handle = _lock(folder)
    try:
        yield folder
    finally:
        _release(handle, folder if folder.exists() else None)


def clear(folder: Path, kind: str) -> None:
    """Delete the contents of an owned folder of ``kind`` (``--force``), keeping marker and lock.

    Raises:
        FolderError: when the folder is not an owned folder of ``kind``.
    """
    if marker_kind(folder) != kind:
        raise FolderError(f"{folder}: not a meanfield {kind}; refusing to delete it")
    for child in folder.iterdir():
        if child.name in (MARKER, LOCK):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def replace(staged: Path, out: Path, kind: str) -> None:
    """Move the complete owned folder ``staged`` into place as ``out``.

    An existing ``out`` is deleted only if it is an owned folder of ``kind`` (or empty).

    Raises:
        FolderError: when ``out`` exists and is not ours to replace.
    """
    if out.exists() or out.is_symlink():
        if out.is_dir() and not out.is_symlink() and marker_kind(out) == kind:
            shutil.rmtree(out)
        elif out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
            out.rmdir()
        else:
            raise FolderError(f"{out}: exists and is not a meanfield {kind}; the finished result "
                              f"stays in {staged}")
    os.replace(staged, out)


def finalize(partial: Path, out: Path, kind: str = "run") -> None:
    """Move a complete ``DIR.partial`` into place as ``DIR``.

    An older ``DIR`` is replaced only if it is a meanfield folder of the same kind
    (:func:`replace`).
    """
    (partial / "checkpoint.npz").unlink(missing_ok=True)
    (partial / LOCK).unlink(missing_ok=True)
    replace(partial, out, kind)
