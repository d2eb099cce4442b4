"""Writers and readers: round-trips, determinism, torchvision reading the IDX folder, bad files, atomicity."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from basicprop import io
from basicprop.datasets import DATASET_NAMES, load_dataset
from basicprop.generate import FORMAT_VERSION, make_dataset, render_dataset

SMALL = {"n_train": 300, "n_test": 120}


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.md5(b"".join(p.name.encode() + p.read_bytes() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("ext", [".h5", ".npz", ""])
def test_round_trip(tmp_path, ext):
    params = {"bg_noise": (0, 60)}
    out = make_dataset("rectangles", tmp_path / f"rect{ext}", seed=7, kind_params=params, **SMALL)
    splits, _ = render_dataset("rectangles", seed=7, kind_params=params, **SMALL)
    for split in ("train", "test"):
        ds = load_dataset(out, split)
        for key in ("images", "labels", "factors"):
            np.testing.assert_array_equal(getattr(ds, key), splits[split][key])
        assert ds.images.dtype == np.uint8 and ds.labels.dtype == np.int64 and ds.factors.dtype == np.int64
        assert ds.factor_names == ("left_height", "right_height") and ds.factor_sizes == (10, 10)
        assert ds.meta["kind"] == "rectangles" and ds.meta["seed"] == 7
        assert ds.kind().params == {"fg_noise": [150, 240], "bg_noise": [0, 60]}
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp files left


def test_file_matches_in_memory_dataset(tmp_path):
    out = make_dataset("line", tmp_path / "line.h5", seed=3, n_train=200, n_test=100)
    ds = load_dataset("basicprop-line", "test", seed=3, n=100)
    np.testing.assert_array_equal(load_dataset(out, "test").images, ds.images)
    assert ds.meta == {"dataset": "basicprop-line", "kind": "line", "kind_params": ds.kind().params, "seed": 3,
                       "split": "test"}


@pytest.mark.parametrize("ext", [".h5", ".npz", ""])
def test_same_seed_same_bytes(tmp_path, ext):
    a = make_dataset("shapes", tmp_path / f"a{ext}", seed=1, **SMALL)
    b = make_dataset("shapes", tmp_path / f"b{ext}", seed=1, **SMALL)
    c = make_dataset("shapes", tmp_path / f"c{ext}", seed=2, **SMALL)
    assert digest(a) == digest(b) != digest(c)


def test_h5_layout(tmp_path):
    out = make_dataset("rectangles", tmp_path / "r.h5", seed=0, **SMALL)
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "basicprop" and f.attrs["format_version"] == FORMAT_VERSION
        assert f.attrs["kind"] == "rectangles" and f.attrs["seed"] == 0 and f.attrs["version"]
        assert list(f.attrs["factor_names"].astype(str)) == ["left_height", "right_height"]
        assert list(f.attrs["factor_sizes"]) == [10, 10]
        assert json.loads(f.attrs["kind_params"]) == {"fg_noise": [150, 240], "bg_noise": None}
        assert f["train/images"].shape == (300, 28, 28) and f["train/images"].dtype == np.uint8
        assert f["test/factors"].shape == (120, 2)
        for name in ("train", "train/images", "test/labels"):  # no timestamps anywhere
            info = h5py.h5o.get_info(f[name].id)
            assert (info.ctime, info.mtime, info.atime, info.btime) == (0, 0, 0, 0)


def test_npz_dsprites_keys(tmp_path):
    out = make_dataset("translation", tmp_path / "t.npz", seed=0, **SMALL)
    with np.load(out, allow_pickle=False) as z:
        assert {"imgs", "latents_classes", "latents_values", "latents_names", "latents_sizes", "metadata",
                "labels", "test_imgs", "test_latents_classes"} <= set(z.files)
        assert list(z["latents_names"]) == ["size", "x", "y"] and list(z["latents_sizes"]) == [3, 8, 8]
        classes, values = z["latents_classes"], z["latents_values"]
        np.testing.assert_array_equal(values[:, 0], np.array([4, 6, 8])[classes[:, 0]])
        np.testing.assert_array_equal(values[:, 1], 3 + 2 * classes[:, 1])


def test_idx_folder_read_by_torchvision(tmp_path):
    from torchvision.datasets import MNIST

    out = make_dataset("rectangles", tmp_path / "rect", seed=0, **SMALL)
    assert sorted(p.name for p in out.iterdir()) == [
        "basicprop.json", "t10k-factors-idx2-int.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
        "train-factors-idx2-int.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    raw = gzip.decompress((out / "train-images-idx3-ubyte.gz").read_bytes())
    assert raw[:16] == bytes.fromhex("00000803" "0000012c" "0000001c" "0000001c") and len(raw) == 16 + 300 * 784
    assert gzip.decompress((out / "t10k-labels-idx1-ubyte.gz").read_bytes())[:8] == bytes.fromhex("00000801" "00000078")
    # the documented recipe: unpack the four ubyte files into <root>/MNIST/raw/
    root = io.torchvision_root(out, tmp_path / "tv")
    for train, split in ((True, "train"), (False, "test")):
        tv = MNIST(str(root), train=train, download=False)
        ds = load_dataset(out, split)
        np.testing.assert_array_equal(tv.data.numpy(), ds.images)
        np.testing.assert_array_equal(tv.targets.numpy(), ds.labels)
        assert ds.labels.max() > 9  # 100 classes, 10*left + right


def test_mnist_through_torchvision(mnist_dir):
    ds = load_dataset("mnist", "test", data_dir=mnist_dir)
    assert ds.images.shape == (10000, 28, 28) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.labels[:5], [7, 2, 1, 0, 4])
    np.testing.assert_array_equal(ds.factors[:, 0], ds.labels)
    assert ds.factor_names == ("digit",) and ds.factor_sizes == (10,) and ds.kind() is None
    assert ds.meta["kind"] == "mnist"
    ds.images[0] = 0  # a copy: the cache is untouched
    assert load_dataset("mnist", "test", data_dir=mnist_dir).images[0].any()


def test_mnist_bad_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("BASICPROP_MNIST_DIR", raising=False)
    with pytest.raises(ValueError, match="BASICPROP_MNIST_DIR"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="lacks"):
        load_dataset("mnist", data_dir=tmp_path)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(b"junk"))
    with pytest.raises(ValueError, match="md5"):
        load_dataset("mnist", data_dir=tmp_path)


def test_rendered_names_and_cache():
    assert {"basicprop-line", "basicprop-rectangles", "mnist"} <= set(DATASET_NAMES)
    a = load_dataset("basicprop-colorings", "train", n=500, seed=1)
    a.images[:] = 0
    b = load_dataset("basicprop-colorings", "train", n=500, seed=1)
    assert b.images.any() and b.factor_names == ("position", "intensity")
    with pytest.raises(ValueError, match="unknown dataset 'basicprop-lines'"):
        load_dataset("basicprop-lines")
    with pytest.raises(ValueError, match="split"):
        load_dataset("basicprop-line", "valid")


# ---------------------------------------------------------------------------------------------- bad input
def test_refuses_existing_unless_force(tmp_path):
    out = make_dataset("line", tmp_path / "l.h5", **SMALL)
    before = digest(out)
    with pytest.raises(ValueError, match="already exists"):
        make_dataset("line", out, seed=1, **SMALL)
    assert digest(out) == before
    make_dataset("line", out, seed=1, force=True, **SMALL)
    assert digest(out) != before
    idx = make_dataset("line", tmp_path / "idx", **SMALL)
    make_dataset("line", idx, seed=1, force=True, **SMALL)
    assert load_dataset(idx).meta["seed"] == 1
    (tmp_path / "notmine").mkdir()
    with pytest.raises(ValueError, match="refusing"):
        make_dataset("line", tmp_path / "notmine", force=True, **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "l.h5", "notmine"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args):
        raise OSError("disk full")

    for fmt in ("h5", "npz", "idx"):
        monkeypatch.setattr(io, {"h5": "write_h5", "npz": "write_npz", "idx": "write_idx_dir"}[fmt], boom)
        with pytest.raises(OSError, match="disk full"):
            make_dataset("line", tmp_path / f"x.{fmt}", fmt=fmt, **SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out, match", [("x.png", "unknown extension"), ("nodir/x.h5", "does not exist"),
                                        ("file.txt/x.h5", "not a directory")])
def test_bad_outputs(tmp_path, out, match):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match=match):
        make_dataset("line", tmp_path / out, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_sizes_that_cannot_fit_are_refused_with_the_estimate(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"rendering 1,000,000,000,000 images of kind 'line' needs about 1\.4 PiB"):
        load_dataset("basicprop-line", n=10**12)
    from basicprop import resources

    monkeypatch.setattr(resources.shutil, "disk_usage", lambda path: SimpleNamespace(free=100_000))
    # 300 + 120 images of 784 + 8 + 8 bytes = 336,000 bytes of arrays
    with pytest.raises(ValueError, match=r"writing 420 images of kind 'line' needs about 328\.1 KiB of disk, more "
                                         r"than the 97\.7 KiB free"):
        make_dataset("line", tmp_path / "x.h5", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_bad_sizes(tmp_path):
    for kwargs in ({"n_train": 0}, {"n_test": -5}, {"n_train": 1.5}, {"seed": -1}):
        with pytest.raises(ValueError):
            make_dataset("line", tmp_path / "x.h5", **{**SMALL, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_corrupted_and_foreign_inputs(tmp_path):
    good_h5 = make_dataset("line", tmp_path / "good.h5", **SMALL)
    cases = {}
    cases["trunc.h5"] = good_h5.read_bytes()[:5000]
    cases["junk.npz"] = b"not a zip"
    cases["junk.h5"] = b"\x89HDF junk"
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.zeros(3)
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    (tmp_path / "foreign_dir").mkdir()
    idx = make_dataset("line", tmp_path / "idx", **SMALL)
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    bad_labels = make_dataset("line", tmp_path / "badlab.npz", **SMALL)
    with np.load(bad_labels) as z:
        arrays = dict(z)
    arrays["labels"] = arrays["labels"][::-1].copy()
    np.savez(tmp_path / "badlab.npz", **arrays)
    for name in ("trunc.h5", "junk.npz", "junk.h5", "foreign.h5", "foreign.npz", "foreign_dir", "idx", "badlab.npz"):
        with pytest.raises(ValueError) as info:
            load_dataset(tmp_path / name)
        assert "\n" not in str(info.value) and str(info.value), name


def test_parse_idx_rejects_bad_bytes():
    with pytest.raises(ValueError, match="magic"):
        io.parse_idx(b"\x01\x02\x03", "x")
    good = io.idx_bytes(np.zeros((2, 3), np.uint8))
    assert io.parse_idx(good, "x").shape == (2, 3)
    with pytest.raises(ValueError, match="truncated"):
        io.parse_idx(good[:-1], "x")
