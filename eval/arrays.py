"""Read the codes and factors arrays ``python -m eval score`` is given, checking before allocating.

``.npy`` and ``.npz`` headers declare a shape and a dtype: they are checked against the bytes the file (or the zip
member) really holds and against the memory available before any data is read, so a small file that declares
10⁹ rows is refused with one line instead of a MemoryError. Pickled (object) arrays are never loaded.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from basicprop import resources


def _check_header(fh: BinaryIO, data_bytes: int, where: str) -> None:
    """Read an ``.npy`` header from ``fh`` and refuse what ``data_bytes`` (the bytes after it) cannot hold."""
    start = fh.tell()
    try:
        version = np.lib.format.read_magic(fh)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read[version](fh)
    except ValueError as exc:
        raise ValueError(f"{where} is not a valid .npy array: {exc}") from None
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects, not numbers")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = data_bytes - (fh.tell() - start)
    if need != have:
        raise ValueError(f"{where} declares shape {shape} of {dtype} ({need:,} bytes) but holds {have:,} bytes")
    resources.check_memory(need, where)


def _load_npz(path: Path) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if m.filename.endswith(".npy")]
            if len(members) != 1:
                names = ", ".join(m.filename[:-4] for m in members)
                raise ValueError(f"{path} holds {len(members)} arrays ({names}); expected one")
            with zf.open(members[0]) as fh:
                _check_header(fh, members[0].file_size, f"{path}:{members[0].filename}")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a valid .npz file: {exc}") from None
    with np.load(path, allow_pickle=False) as z:
        return z[z.files[0]]


def load_array(path: str, what: str) -> np.ndarray:
    """An array from ``.npy``, ``.npz`` (one array), ``.csv`` or ``.txt``; user errors raise ``ValueError``."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} file not found: {path}")
    try:
        if p.suffix == ".npz":
            return _load_npz(p)
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
        with open(p, "rb") as fh:
            _check_header(fh, p.stat().st_size, str(p))
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"cannot read {what} from {path}: {exc}") from None
