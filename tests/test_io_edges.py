"""basicprop.io at its edges: header checks with known answers, formats told apart by extension alone, the IDX
int32 range, unpacked IDX folders, .npy members of version 2.0, the gzip header, and error lines that name the file."""
from __future__ import annotations

import gzip
import io as pyio
import os
import zipfile

import numpy as np
import pytest

from basicprop import io
from basicprop.generate import make_dataset, render_dataset

KIND = "line"


def _header():
    return dict(render_dataset(KIND, n_train=4, n_test=2, seed=0)[1])


def test_check_header_accepts_a_written_header_and_refuses_each_broken_part():
    head = _header()
    assert io.check_header(head, "f") is head
    bad = {
        "not a dict": [head],
        "another format": {**head, "format": "other"},
        "sizes off, names right": {**head, "factor_sizes": [s + 1 for s in head["factor_sizes"]]},
        "names off, sizes right": {**head, "factor_names": [n + "_" for n in head["factor_names"]]},
        "counts not a dict": {**head, "sizes": [4, 2]},
        "a negative count": {**head, "sizes": {"train": -1, "test": 2}},
        "a bool count": {**head, "sizes": {"train": True, "test": 2}},
    }
    for h in bad.values():
        with pytest.raises(ValueError, match="^where.txt"):
            io.check_header(h, "where.txt")


@pytest.mark.parametrize("name, fmt", [("a.hdf5", "h5"), ("a.H5", "h5"), ("a.npz", "npz")])
def test_formats_are_told_apart_by_extension_when_the_magic_says_nothing(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(b"\0" * 16)                         # neither HDF5 nor zip magic
    assert io.detect_format(path) == fmt
    (tmp_path / "a.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="a.bin.*neither HDF5"):
        io.detect_format(tmp_path / "a.bin")


def test_idx_int32_range_is_enforced_at_both_ends():
    assert io.idx_bytes(np.array([2**31 - 1, -(2**31)], dtype=np.int64))[-8:] == bytes.fromhex("7fffffff80000000")
    for value in (2**31, -(2**31) - 1):
        with pytest.raises(ValueError, match="int32"):
            io.idx_bytes(np.array([0, value], dtype=np.int64))


def test_an_idx_folder_with_unpacked_files_reads_like_the_gz_one(tmp_path):
    folder = make_dataset(KIND, tmp_path / "idx", n_train=5, n_test=3, seed=2)
    packed = io.read(folder, "train")
    for gz in sorted(folder.glob("*.gz")):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    unpacked = io.read(folder, "train")
    for key in packed[0]:
        np.testing.assert_array_equal(packed[0][key], unpacked[0][key])
    assert packed[1] == unpacked[1]


def test_idx_files_carry_the_plain_gzip_header_of_level_6(tmp_path):
    folder = make_dataset(KIND, tmp_path / "idx", n_train=5, n_test=3, seed=2)
    for gz in folder.glob("*.gz"):
        raw = gz.read_bytes()
        # magic, deflate, no flags (no file name), mtime 0, XFL 0 (neither level 9 nor 1), OS 255 (unknown)
        assert raw[:10] == bytes.fromhex("1f8b08000000000000ff"), gz.name
        assert raw == _gzip_level_6(gzip.decompress(raw))


def _gzip_level_6(data: bytes) -> bytes:
    buffer = pyio.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=6, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def test_npz_members_of_npy_version_2_are_read(tmp_path):
    path = make_dataset(KIND, tmp_path / "a.npz", n_train=5, n_test=3, seed=1)
    want = io.read(path, "test")
    v2 = tmp_path / "v2.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(v2, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            array = np.lib.format.read_array(pyio.BytesIO(src.read(name)), allow_pickle=False)
            out = pyio.BytesIO()
            np.lib.format.write_array(out, array, version=(2, 0), allow_pickle=False)
            dst.writestr(name, out.getvalue())
    got = io.read(v2, "test")
    for key in want[0]:
        np.testing.assert_array_equal(want[0][key], got[0][key])


def test_every_error_line_names_the_file(tmp_path):
    existing = make_dataset(KIND, tmp_path / "a.h5", n_train=5, n_test=3, seed=1)
    with pytest.raises(ValueError, match="a.h5.*already exists"):
        io.resolve_output(existing)
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="pipe.h5.*not a regular file"):
        io.regular_file(fifo)
    for name in ("a.h5", "a.npz"):
        path = existing if name == "a.h5" else make_dataset(KIND, tmp_path / name, n_train=5, n_test=3, seed=1)
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size - 40])
        with pytest.raises(ValueError, match=f"cut_{name}"):
            io.read(cut, "train")
    folder = make_dataset(KIND, tmp_path / "idx", n_train=5, n_test=3, seed=1)
    for gz in folder.glob("*.gz"):
        raw = gz.read_bytes()
        gz.write_bytes(raw[:-8] + bytes(b ^ 0xFF for b in raw[-8:-4]) + raw[-4:])   # a wrong CRC
    with pytest.raises(ValueError, match="idx.*corrupted gzip"):
        io.read(folder, "train")


def test_declared_shape_errors_start_with_the_file(tmp_path):
    import h5py

    path = make_dataset(KIND, tmp_path / "a.h5", n_train=5, n_test=3, seed=1)
    with h5py.File(path, "r+") as f:
        del f["train/images"]
        f["train/images"] = np.zeros((5, 28, 27), dtype=np.uint8)
    with pytest.raises(ValueError, match=rf"^{path} \[train\]: images must be uint8"):
        io.read(path, "train")


def _with_metadata(path, out, metadata: np.ndarray):
    """A copy of the .npz ``path`` whose metadata member holds ``metadata``."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "metadata.npy":
                buffer = pyio.BytesIO()
                np.lib.format.write_array(buffer, metadata, allow_pickle=False)
                data = buffer.getvalue()
            dst.writestr(name, data)
    return out


def test_npz_header_errors_name_the_file_once(tmp_path):
    path = make_dataset(KIND, tmp_path / "a.npz", n_train=5, n_test=3, seed=1)
    foreign = _with_metadata(path, tmp_path / "foreign.npz", np.array('{"format": "other"}'))
    with pytest.raises(ValueError) as e:
        io.read(foreign, "train")
    assert str(e.value) == f"{foreign} is not a basicprop dataset (no basicprop header)"
    big = _with_metadata(path, tmp_path / "big.npz", np.array("x" * io.MAX_HEADER_BYTES))
    with pytest.raises(ValueError) as e:
        io.read(big, "train")
    assert str(e.value).startswith(f"{big}") and "None" not in str(e.value)


def test_an_interrupted_run_names_its_checkpoint_and_step(tmp_path):
    from gan_models.trainer import TrainingInterrupted

    e = TrainingInterrupted(tmp_path / "ckpt.pt", 7)
    assert e.path == tmp_path / "ckpt.pt" and e.step == 7
    assert str(e) == f"interrupted: saved {tmp_path / 'ckpt.pt'} at step 7; continue with --resume"
