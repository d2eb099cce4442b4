"""The unpacked MNIST cache: verified by checksum (never trusted on size), repaired, written with the umask's mode."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from basicprop import mnist

LABELS = "t10k-labels-idx1-ubyte"


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BASICPROP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mnist" / "MNIST" / "raw"


def _all_sevens(path):
    """Overwrite a labels file in place with one of the same size whose every label is 7."""
    data = path.read_bytes()
    path.write_bytes(data[:8] + b"\x07" * (len(data) - 8))
    mnist._digest.cache_clear()  # as a later process would see it


def test_tampered_cache_is_unpacked_again(mnist_dir, own_cache):
    root = mnist.torchvision_root(mnist_dir, "test")
    labels = own_cache / LABELS
    original = labels.read_bytes()
    _all_sevens(labels)
    assert labels.stat().st_size == len(original)
    assert mnist.torchvision_root(mnist_dir, "test") == root
    assert labels.read_bytes() == original
    mnist._load.cache_clear()
    _, y = mnist.load_mnist("test", mnist_dir)
    np.testing.assert_array_equal(y[:5], [7, 2, 1, 0, 4])
    assert np.bincount(y, minlength=10).min() > 800
    assert not [p.name for p in own_cache.iterdir() if p.name.endswith(".tmp")]


def test_tampered_unpacked_directory_is_refused(mnist_dir, own_cache, tmp_path):
    mnist.torchvision_root(mnist_dir)
    given = tmp_path / "given" / "MNIST" / "raw"
    given.mkdir(parents=True)
    for name, _, _ in mnist.FILES:
        (given / name).symlink_to(own_cache / name)
    assert mnist.torchvision_root(tmp_path / "given", "test") == tmp_path / "given"
    (given / LABELS).unlink()
    (given / LABELS).write_bytes((own_cache / LABELS).read_bytes())
    _all_sevens(given / LABELS)
    with pytest.raises(ValueError, match=f"{LABELS} differ from the original MNIST"):
        mnist.torchvision_root(tmp_path / "given", "test")
    assert mnist.torchvision_root(tmp_path / "given", "train") == tmp_path / "given"  # other split untouched


def test_cache_files_follow_the_umask(mnist_dir, own_cache):
    old = os.umask(0o027)
    try:
        mnist.torchvision_root(mnist_dir, "test")
    finally:
        os.umask(old)
    for name, _, _ in mnist.FILES:
        assert stat.S_IMODE((own_cache / name).stat().st_mode) == 0o640, name


def test_stale_temps_removed_and_foreign_file_replaced(mnist_dir, own_cache):
    own_cache.mkdir(parents=True)
    (own_cache / f".{LABELS}.abcd1234.tmp").write_bytes(b"left by a killed unpacker")
    os.mkfifo(own_cache / LABELS)  # never opened: not a regular file
    mnist.torchvision_root(mnist_dir, "test")
    assert (own_cache / LABELS).is_file()
    assert sorted(p.name for p in own_cache.iterdir()) == sorted([".lock"] + [n for n, _, _ in mnist.FILES])
