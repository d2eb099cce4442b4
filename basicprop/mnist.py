"""Real MNIST through torchvision's own ``datasets.MNIST``, from a local directory (never downloads).

The directory (``data_dir`` argument, else ``$BASICPROP_MNIST_DIR``) holds the four original gzipped IDX files
(``train-images-idx3-ubyte.gz`` ...), checked against torchvision's md5s. torchvision reads only *unpacked* files
from ``<root>/MNIST/raw/``, so they are unpacked once into ``$BASICPROP_CACHE/mnist/MNIST/raw/`` (default
``~/.cache/basicprop``), atomically and under the cache folder's lock. The cache is never trusted on its size: each
unpacked file must have the sha1 that unpacking the original .gz gives (once per process while the file is
unchanged); a file that differs is unpacked again. A directory that already has ``MNIST/raw/`` with the unpacked
files is used as it is if they pass the same check, and refused otherwise. torch is imported only here.
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from basicprop.files import FolderLocked, atomic_path, cache_dir, folder_lock, remove_temps

ENV_DIR = "BASICPROP_MNIST_DIR"
# name, md5 of the .gz (as in torchvision.datasets.MNIST.resources), sha1 of the unpacked file
FILES = (
    ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "c3557c10f29b266e19b3eeee1553c85e0ef4a8ea"),
    ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", "adbf52269f5d842899f287c269e2883e40b4f6e2"),
    ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", "65e11ec1fd220343092a5070b58418b5c2644e26"),
    ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", "a6d52cc628797e845885543326e9f10abb8a6f89"),
)
SPLIT_FILES = {"train": FILES[:2], "test": FILES[2:]}
LOCK_WAIT_S = 300  # how long to wait for another process unpacking into the same cache


def mnist_dir(data_dir=None) -> Path:
    """The MNIST directory: ``data_dir``, else ``$BASICPROP_MNIST_DIR``; ValueError if neither is set or usable."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_DIR)
        if not data_dir:
            raise ValueError(f"no MNIST directory: pass --data-dir / data_dir or set {ENV_DIR}")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise ValueError(f"MNIST directory {str(path)!r} does not exist")
    return path


@functools.lru_cache(maxsize=32)
def _digest(path: str, algorithm: str, stamp: tuple) -> str:
    """The file's digest, computed once per process while its (size, mtime, inode) ``stamp`` is unchanged."""
    with open(path, "rb") as f:
        if hasattr(hashlib, "file_digest"):  # Python >= 3.11: no copy per block
            return hashlib.file_digest(f, algorithm).hexdigest()
        digest = hashlib.new(algorithm)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()


def _matches(path: Path, algorithm: str, expected: str) -> bool:
    """``path`` is a regular file whose digest is ``expected``."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    stamp = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    return path.is_file() and _digest(str(path.resolve()), algorithm, stamp) == expected


def torchvision_root(data_dir=None, split: str | None = None) -> Path:
    """A root that ``torchvision.datasets.MNIST(root, download=False)`` reads; the .gz files are checked and
    unpacked once, and the unpacked files of ``split`` (default: both) verified on every call."""
    src = mnist_dir(data_dir)
    needed = FILES if split is None else SPLIT_FILES[split]
    given = src / "MNIST" / "raw"
    if all((given / name).exists() for name, _, _ in FILES):  # torchvision wants all four
        bad = [name for name, _, sha1 in needed if not _matches(given / name, "sha1", sha1)]
        if bad:
            raise ValueError(f"{given}: {', '.join(bad)} differ from the original MNIST (checksum)")
        return src
    missing = [name + ".gz" for name, _, _ in needed if not (src / (name + ".gz")).is_file()]
    if missing:
        raise ValueError(f"MNIST directory {str(src)!r} lacks {', '.join(missing)}")
    for name, md5, _ in needed:
        _check_source(src / (name + ".gz"), md5)
    root = cache_dir("mnist")
    raw = root / "MNIST" / "raw"
    # the split's files must match their checksums; torchvision only needs the others to exist
    todo = [f for f in FILES if not (_matches(raw / f[0], "sha1", f[2]) if f in needed else (raw / f[0]).is_file())]
    if todo:
        with _cache_lock(raw):
            remove_temps(raw)
            for name, md5, sha1 in todo:
                if not _matches(raw / name, "sha1", sha1):  # another process may have unpacked it meanwhile
                    _check_source(src / (name + ".gz"), md5)
                    _unpack(src / (name + ".gz"), raw / name, sha1)
    return root


def _check_source(gz: Path, md5: str) -> None:
    if not _matches(gz, "md5", md5):
        raise ValueError(f"{gz} is missing, corrupted or not the original MNIST file (md5 differs from "
                         "torchvision's)")


def _unpack(gz: Path, target: Path, sha1: str) -> None:
    with atomic_path(target) as tmp:
        with gzip.open(gz, "rb") as f, open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
    if not _matches(target, "sha1", sha1):  # the .gz passed its md5, so this is a fault of the disk
        raise ValueError(f"unpacking {gz} into {target} gave a different file (disk full or failing?)")


@contextlib.contextmanager
def _cache_lock(folder: Path):
    """The cache folder's lock, waiting up to :data:`LOCK_WAIT_S` while another process unpacks."""
    deadline = time.monotonic() + LOCK_WAIT_S
    with contextlib.ExitStack() as stack:
        while True:
            try:
                stack.enter_context(folder_lock(folder, "MNIST cache"))
                break
            except FolderLocked as e:
                if time.monotonic() > deadline:
                    raise ValueError(f"{e}; waited {LOCK_WAIT_S} s") from None
                time.sleep(0.2)
        yield


@functools.lru_cache(maxsize=4)
def _load(root: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    from torchvision.datasets import MNIST

    ds = MNIST(root, train=train, download=False)
    images = ds.data.numpy().astype(np.uint8, copy=False)
    labels = ds.targets.numpy().astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` of one split, read by torchvision; read-only, cached."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; choose from ['train', 'test']")
    root = torchvision_root(data_dir, split)
    return _load(str(root.resolve()), split == "train")
