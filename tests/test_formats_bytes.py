"""Every file basicprop writes, checked byte for byte against encodings computed here with ``struct`` and ``zlib``,
not read back by the code that wrote it (a payload in the wrong byte order, written and read consistently, fails).

IDX (MNIST's format): magic ``00 00 <type> <ndim>``, each dimension a big-endian int32, then the payload; type
0x08 unsigned bytes, 0x0C big-endian int32. HDF5: datasets' types, shapes and root attributes, and the raw payload
at each dataset's offset. NPZ: a stored zip of .npy members (magic, version 1.0, a 64-byte aligned header).
"""
from __future__ import annotations

import ast
import json
import struct
import zipfile
import zlib

import h5py
import numpy as np
import pytest

from basicprop import io
from basicprop.generate import FORMAT_VERSION, make_dataset, render_dataset

N = {"train": 6, "test": 3}
KIND = "shapes"  # two factors, one of them named values (stored by index in latents_values)
SEED = 5


@pytest.fixture(scope="module")
def data():
    """The arrays and header that every file below must encode."""
    return render_dataset(KIND, n_train=N["train"], n_test=N["test"], seed=SEED)


def write(tmp_path, name):
    return make_dataset(KIND, tmp_path / name, n_train=N["train"], n_test=N["test"], seed=SEED)


def be32(values) -> bytes:
    return b"".join(struct.pack(">i", int(v)) for v in values)


def le64(values) -> bytes:
    return b"".join(struct.pack("<q", int(v)) for v in values)


def idx_expected(arrays) -> dict[str, bytes]:
    images, labels, factors = arrays["images"], arrays["labels"], arrays["factors"]
    n, k = factors.shape
    return {"images": bytes([0, 0, 0x08, 3]) + be32([n, 28, 28]) + bytes(images.ravel().tolist()),
            "labels": bytes([0, 0, 0x08, 1]) + be32([n]) + bytes(labels.tolist()),
            "factors": bytes([0, 0, 0x0C, 2]) + be32([n, k]) + be32(factors.ravel())}


def gunzip_checked(gz: bytes) -> bytes:
    """RFC 1952 by hand: fixed header (no name, mtime 0: same data, same bytes), deflate, CRC32 and size."""
    assert gz[:4] == b"\x1f\x8b\x08\x00" and gz[4:8] == b"\0\0\0\0" and gz[9] == 0xFF
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    payload = inflater.decompress(gz[10:])
    assert inflater.unused_data == struct.pack("<II", zlib.crc32(payload), len(payload))
    return payload


def test_idx_folder_bytes(tmp_path, data):
    splits, head = data
    out = write(tmp_path, "idx")
    names = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "train-factors-idx2-int.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "t10k-factors-idx2-int.gz")}
    assert sorted(p.name for p in out.iterdir()) == sorted(["basicprop.json", *names["train"], *names["test"]])
    for split, files in names.items():
        expected = idx_expected(splits[split])
        for key, name in zip(("images", "labels", "factors"), files):
            assert gunzip_checked((out / name).read_bytes()) == expected[key], name
    assert (out / "basicprop.json").read_text() == json.dumps(head, indent=2, sort_keys=True) + "\n"


def test_torchvision_layout_bytes(tmp_path, data):
    splits, _ = data
    root = io.torchvision_root(write(tmp_path, "idx"), tmp_path / "tv")
    raw = root / "MNIST" / "raw"
    for split, prefix in (("train", "train"), ("test", "t10k")):
        expected = idx_expected(splits[split])
        assert (raw / f"{prefix}-images-idx3-ubyte").read_bytes() == expected["images"]
        assert (raw / f"{prefix}-labels-idx1-ubyte").read_bytes() == expected["labels"]
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])


def test_h5_bytes(tmp_path, data):
    splits, head = data
    out = write(tmp_path, "x.h5")
    raw = out.read_bytes()
    assert raw[:8] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(out, "r") as f:
        assert sorted(f) == ["test", "train"]
        for split, arrays in splits.items():
            n = N[split]
            assert sorted(f[split]) == ["factors", "images", "labels"]
            expected = {"images": ("|u1", (n, 28, 28), bytes(arrays["images"].ravel().tolist())),
                        "labels": ("<i8", (n,), le64(arrays["labels"])),
                        "factors": ("<i8", (n, 2), le64(arrays["factors"].ravel()))}
            for name, (dtype, shape, payload) in expected.items():
                ds = f[split][name]
                assert (ds.dtype.str, ds.shape, ds.compression, ds.chunks) == (dtype, shape, None, None)
                offset = ds.id.get_offset()
                assert raw[offset:offset + len(payload)] == payload, (split, name)
        attrs = dict(f.attrs)
    assert sorted(attrs) == sorted(head)
    assert attrs["format"] == "basicprop" and attrs["format_version"] == FORMAT_VERSION and attrs["kind"] == KIND
    assert attrs["seed"] == SEED and attrs["label"] == head["label"] and attrs["version"] == head["version"]
    assert [s.decode() if isinstance(s, bytes) else s for s in attrs["factor_names"]] == ["shape", "size"]
    assert attrs["factor_sizes"].dtype == np.int64 and attrs["factor_sizes"].tolist() == [4, 5]
    for key in ("kind_params", "factor_values", "sizes"):
        assert attrs[key] == json.dumps(head[key], sort_keys=True), key


def npy_parts(member: bytes) -> tuple[dict, bytes]:
    """Split an .npy (version 1.0) into its header dict and payload, checking magic, length and alignment."""
    assert member[:8] == b"\x93NUMPY\x01\x00"
    (header_len,) = struct.unpack("<H", member[8:10])
    header = member[10:10 + header_len].decode("latin1")
    assert (10 + header_len) % 64 == 0 and header.endswith("\n")
    return ast.literal_eval(header.strip()), member[10 + header_len:]


def utf32(strings, width: int) -> bytes:
    return b"".join(s.ljust(width, "\0").encode("utf-32-le") for s in strings)


def test_npz_bytes(tmp_path, data):
    splits, head = data
    out = write(tmp_path, "x.npz")
    names, sizes = head["factor_names"], head["factor_sizes"]
    width = max(len(s) for s in names)
    meta = json.dumps(head, sort_keys=True)
    expected = {"latents_names": ((len(names),), f"<U{width}", utf32(names, width)),
                "latents_sizes": ((len(sizes),), "<i8", le64(sizes)),
                "metadata": ((), f"<U{len(meta)}", meta.encode("utf-32-le"))}
    shape_index = {v: i for i, v in enumerate(head["factor_values"][0])}  # named values -> their index
    for split, arrays in splits.items():
        prefix, n = ("" if split == "train" else "test_"), N[split]
        factors = arrays["factors"]
        values = [(shape_index[head["factor_values"][0][a]], head["factor_values"][1][b]) for a, b in factors]
        expected.update({
            prefix + "imgs": ((n, 28, 28), "|u1", bytes(arrays["images"].ravel().tolist())),
            prefix + "latents_classes": ((n, 2), "<i8", le64(factors.ravel())),
            prefix + "latents_values": ((n, 2), "<f8", b"".join(struct.pack("<dd", *v) for v in values)),
            prefix + "labels": ((n,), "<i8", le64(arrays["labels"]))})
    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == [k + ".npy" for k in expected]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED and info.date_time == (1980, 1, 1, 0, 0, 0)
            header, payload = npy_parts(z.read(info))
            shape, descr, want = expected[info.filename[:-4]]
            assert header == {"descr": descr, "fortran_order": False, "shape": shape}, info.filename
            assert payload == want, info.filename
