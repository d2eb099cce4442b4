"""The one place the project writes files: atomically, with the umask's permissions, and under a folder lock.

Every file is written to a hidden temp file beside its target (``.NAME.PID-XXXXXXXX.tmp``) and renamed into place, so a
reader, a crash or ``kill -9`` sees the old file or the new one, never half of one. A failure (a full disk, an
exception, Ctrl-C) removes the temp file and leaves the previous target untouched. Files get ``0o666 & ~umask`` and
folders ``0o777 & ~umask``, as ``open()`` and ``mkdir()`` would give them.

:func:`folder_lock` makes a folder one process's at a time (``fcntl.flock`` on ``FOLDER/.lock``): the kernel releases
the lock when its holder dies, so a lock left by a killed process is never mistaken for a live one, and the second
process is told who holds it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

TEMP_SUFFIX = ".tmp"
LOCK_NAME = ".lock"
ENV_CACHE = "BASICPROP_CACHE"


class FolderLocked(RuntimeError):
    """Another live process holds the folder's lock; the message names it."""


def cache_dir(*parts: str) -> Path:
    """``$BASICPROP_CACHE`` (default ``~/.cache/basicprop``), joined with ``parts``; not created."""
    root = Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "basicprop").expanduser()
    return root.joinpath(*parts)


def umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_beside(path: Path) -> Path:
    """A fresh temp name beside ``path`` (this process's id and 32 random bits): nothing else creates it, so an
    interrupt at any instant leaves at most a file of this name, which the writer's cleanup removes by name."""
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``path``; when the block ends normally rename it to ``path``, otherwise remove it.

    ``durable=True`` also flushes the file and its folder to disk before returning (checkpoints: a power cut after
    the rename must not leave an empty file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)            # named before it exists, so the cleanup below always knows it
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` (an old folder is removed after)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        os.mkdir(tmp, 0o700)
        yield tmp
        os.chmod(tmp, 0o777 & ~umask())
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "data")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    """numpy scalars and arrays -> Python; NaN and infinity -> None (JSON has neither); mapping keys -> str."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars; basicprop.files does not import numpy
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON (no NaN or infinity: they are not JSON) plus a newline, atomically."""
    return write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def remove_temps(folder: str | os.PathLike, name: str | None = None, *, older_than: float | None = None) -> list[Path]:
    """Remove this module's temp files (and temp folders) in ``folder``, only those of target ``name`` if given, and
    only those untouched for ``older_than`` seconds if given.

    Without ``older_than``, call it only while holding the folder's lock (or knowing no other writer is active): a
    live writer's temp file looks the same as one left behind by ``kill -9``. Returns what was removed.
    """
    folder = Path(folder)
    prefix = f".{name}." if name else "."
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        if not (entry.name.startswith(prefix) and entry.name.endswith((TEMP_SUFFIX, ".old"))):
            continue
        with contextlib.suppress(OSError):
            if older_than is not None and now - entry.lstat().st_mtime < older_than:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _holder(lock_file: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(lock_file.read_text())
        return f"process {int(info['pid'])} on {info['host']}"
    return "another process"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder") -> Iterator[Path]:
    """Hold ``FOLDER/.lock`` exclusively for the block; raise :class:`FolderLocked` naming the holder if taken.

    The lock is an ``flock`` on an open file, so it dies with its process: no stale lock survives ``kill -9``. The
    file keeps the holder's pid and host for the message; it is left in place when released.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = folder / LOCK_NAME
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise FolderLocked(f"{what} {str(folder)!r} is in use by {_holder(lock_file)}") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        yield lock_file
    finally:
        os.close(fd)  # closing the descriptor releases the flock
