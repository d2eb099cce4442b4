"""Real MNIST through torchvision's own ``datasets.MNIST``, from a local directory (never downloads).

The directory (``data_dir`` argument, else ``$BASICPROP_MNIST_DIR``) holds the four original gzipped IDX files
(``train-images-idx3-ubyte.gz`` ...). torchvision reads only *unpacked* files from ``<root>/MNIST/raw/``, so they
are checked against torchvision's md5s and unpacked once into ``$BASICPROP_CACHE/mnist/MNIST/raw/`` (default
``~/.cache/basicprop``); each file is written to a temp name and renamed, so concurrent runs are safe. A directory
that already has ``MNIST/raw/`` with the unpacked files is used as it is. torch is imported only here.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

ENV_DIR = "BASICPROP_MNIST_DIR"
ENV_CACHE = "BASICPROP_CACHE"
# name, md5 of the .gz (as in torchvision.datasets.MNIST.resources), size unpacked
FILES = (
    ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 47_040_016),
    ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", 60_008),
    ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", 7_840_016),
    ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", 10_008),
)


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


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "basicprop").expanduser()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _has_raw(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / name).is_file() and (raw / name).stat().st_size == size for name, _, size in FILES)


def torchvision_root(data_dir=None) -> Path:
    """A root that ``torchvision.datasets.MNIST(root, download=False)`` reads; unpacks the .gz files once."""
    src = mnist_dir(data_dir)
    if _has_raw(src):
        return src
    missing = [name + ".gz" for name, _, _ in FILES if not (src / (name + ".gz")).is_file()]
    if missing:
        raise ValueError(f"MNIST directory {str(src)!r} lacks {', '.join(missing)}")
    _verify(src)
    root = cache_dir() / "mnist"
    if _has_raw(root):
        return root
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, md5, size in FILES:
        gz = src / (name + ".gz")
        target = raw / name
        if target.is_file() and target.stat().st_size == size:
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=raw)
        try:
            with os.fdopen(fd, "wb") as out, gzip.open(gz, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return root


@functools.lru_cache(maxsize=8)
def _verified(src: str, stamps: tuple) -> bool:
    for name, md5, _ in FILES:
        gz = Path(src) / (name + ".gz")
        if _md5(gz) != md5:
            raise ValueError(f"{gz} is corrupted or not the original MNIST file (md5 differs from torchvision's)")
    return True


def _verify(src: Path) -> None:
    """md5 of the four .gz files against torchvision's (once per process while they are unchanged)."""
    stamps = tuple((st.st_size, st.st_mtime_ns) for st in (os.stat(src / (n + ".gz")) for n, _, _ in FILES))
    _verified(str(src.resolve()), stamps)


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
    root = torchvision_root(data_dir)
    return _load(str(root.resolve()), split == "train")
