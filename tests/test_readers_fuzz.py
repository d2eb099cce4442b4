"""Property-based fuzzing of the .h5, .npz and IDX readers: whatever the bytes, either valid arrays or one
``ValueError`` (what the command line prints as one ``error:`` line), and never more than 200 MB of memory.

Each reader meets valid small files with bytes flipped, overwritten, inserted or cut, and files built to declare
absurd or inconsistent shapes, dtypes and counts; each example reads one split. ``BASICPROP_FUZZ_EXAMPLES=5000``
runs that many random examples per test instead of the fixed, derandomised default (6 tests x 50 = 300).
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import os
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from basicprop import io as bio
from basicprop.generate import make_dataset

EXAMPLES = int(os.environ.get("BASICPROP_FUZZ_EXAMPLES") or 0)
FUZZ = settings(max_examples=EXAMPLES or 50, derandomize=not EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MEMORY_BOUND = 200 << 20
SMALL = {"n_train": 8, "n_test": 4}
DIMS = st.sampled_from([0, 1, 2, 3, 4, 8, 27, 28, 29, 255, 2**16, 2**31 - 1, 2**32 - 1, 10**9])
SHAPES = st.lists(DIMS, min_size=0, max_size=4).map(tuple)
SPLITS = st.sampled_from(["train", "test"])


@functools.lru_cache(maxsize=1)
def valid() -> dict:
    """Bytes of small valid datasets: ``h5``, ``npz`` and ``idx`` (file name -> bytes). Not a fixture, so that a
    failing example prints only what hypothesis drew."""
    with tempfile.TemporaryDirectory() as d:
        idx = make_dataset("line", Path(d) / "idx", **SMALL)
        return {"h5": make_dataset("line", Path(d) / "x.h5", **SMALL).read_bytes(),
                "npz": make_dataset("line", Path(d) / "x.npz", **SMALL).read_bytes(),
                "idx": {p.name: p.read_bytes() for p in idx.iterdir()}}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module", autouse=True)
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def read_split(path: Path, split: str) -> None:
    """Only valid arrays or a ValueError may come out, within the memory bound."""
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        arrays, head = bio.read(path, split)
    except ValueError as e:
        assert str(e)
        return
    finally:
        assert tracemalloc.get_traced_memory()[1] - start < MEMORY_BOUND
    n = len(arrays["images"])
    assert arrays["images"].shape == (n, 28, 28) and arrays["factors"].shape == (n, len(head["factor_sizes"]))


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` with 1-4 edits: a bit flipped, bytes overwritten or inserted, or the tail cut off."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "cut"]))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            buf[i:i + len(chunk)] = chunk
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            del buf[i:]
    return bytes(buf)


# ------------------------------------------------------------------------------------------------ bytes mutated
@pytest.mark.parametrize("fmt", ["h5", "npz"])
@FUZZ
@given(split=SPLITS, data=st.data())
def test_file_bytes_mutated(work, fmt, split, data):
    path = work / f"m.{fmt}"
    path.write_bytes(data.draw(mutated(valid()[fmt])))
    read_split(path, split)


@FUZZ
@given(split=SPLITS, data=st.data(), packed=st.booleans())
def test_idx_bytes_mutated(work, split, data, packed):
    """One file of the folder mutated: its gzip bytes (packed) or its IDX content, then gzipped again."""
    folder = work / "idx"
    folder.mkdir(exist_ok=True)
    for name, content in valid()["idx"].items():
        (folder / name).write_bytes(content)
    name = data.draw(st.sampled_from(sorted(valid()["idx"])))
    content = valid()["idx"][name]
    if packed or not name.endswith(".gz"):
        content = data.draw(mutated(content))
    else:
        content = gzip.compress(data.draw(mutated(gzip.decompress(content))), mtime=0)
    (folder / name).write_bytes(content)
    read_split(folder, split)


# ------------------------------------------------------------------------------------------- declared structure
ARRAYS = ("images", "labels", "factors")
DTYPES = st.sampled_from(["|u1", "|i1", "<i8", ">i8", "<u8", "<i4", ">i4", "<f4", "<f8", "|b1", "<U3", "|S2"])


def header_variant(draw, head: dict) -> dict:
    """The header, perhaps with counts, factor sizes or kind changed."""
    head = json.loads(json.dumps(head))
    change = draw(st.sampled_from(["none", "sizes", "factor_sizes", "kind", "kind_params"]))
    if change == "sizes":
        head["sizes"] = {"train": draw(DIMS), "test": draw(st.sampled_from([4, -1, "4", None]))}
    elif change == "factor_sizes":
        head["factor_sizes"] = draw(st.sampled_from([[], [10, 10], [1e9], "10", None]))
    elif change == "kind":
        head["kind"] = draw(st.sampled_from(["rectangles", "circles", "", 7, None, ["line"]]))
    elif change == "kind_params":
        head["kind_params"] = draw(st.sampled_from([{"fg_noise": [0, 10**12]}, {"x": 1}, [], "on", 3]))
    return head


def declared_arrays(draw, n_valid: int) -> dict:
    """For each array: (shape, dtype, bytes of data), usually consistent, sometimes absurd or short."""
    out = {}
    for name, shape in (("images", (n_valid, 28, 28)), ("labels", (n_valid,)), ("factors", (n_valid, 1))):
        dtype = "|u1" if name == "images" else "<i8"
        if draw(st.booleans()):
            shape = draw(SHAPES)
        if draw(st.integers(0, 3)) == 0:
            dtype = draw(DTYPES)
        nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        fill = nbytes if nbytes <= 1 << 16 else 0
        out[name] = (shape, dtype, draw(st.sampled_from([fill, fill // 2, fill + 3, 17])))
    return out


@FUZZ
@given(split=SPLITS, data=st.data())
def test_h5_declared(work, split, data):
    path = work / "d.h5"
    with h5py.File(io.BytesIO(valid()["h5"]), "r") as good:
        head = {k: v for k, v in good.attrs.items()}
    arrays = declared_arrays(data.draw, SMALL["n_train"])
    try:
        with h5py.File(path, "w") as f:
            for key, value in head.items():
                f.attrs[key] = value
            f.attrs["sizes"] = json.dumps(header_variant(data.draw, {"sizes": json.loads(head["sizes"])})["sizes"])
            for split in ("train", "test"):
                for name, (shape, dtype, nbytes) in arrays.items():
                    whole = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
                    if nbytes == whole and whole <= 1 << 16 and data.draw(st.booleans()):
                        f[f"{split}/{name}"] = np.zeros(shape, dtype=dtype)
                    else:  # declared only: HDF5 allocates nothing
                        f.create_dataset(f"{split}/{name}", shape=shape, dtype=dtype)
    except (TypeError, ValueError, OSError):  # a declaration HDF5 itself cannot write
        reject()
    read_split(path, split)


def npy(shape, dtype: str, nbytes: int) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * nbytes


@FUZZ
@given(split=SPLITS, data=st.data(), deflate=st.booleans())
def test_npz_declared(work, split, data, deflate):
    path = work / "d.npz"
    arrays = declared_arrays(data.draw, SMALL["n_train"])
    members = {"imgs.npy": "images", "labels.npy": "labels", "latents_classes.npy": "factors"}
    compression = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(io.BytesIO(valid()["npz"])) as z, zipfile.ZipFile(path, "w", compression) as out:
        for info in z.infolist():
            content = z.read(info)
            if info.filename == "metadata.npy":
                head = header_variant(data.draw, json.loads(str(np.load(io.BytesIO(content)).reshape(-1)[0])))
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.array(json.dumps(head)))
                content = buffer.getvalue()
            elif info.filename in members:
                content = npy(*arrays[members[info.filename]])
            out.writestr(info.filename, content)
    read_split(path, split)


@FUZZ
@given(split=SPLITS, data=st.data())
def test_idx_declared(work, split, data):
    """IDX files with any type code, number of dimensions and dimensions, and payloads too short or too long."""
    folder = work / "idx_declared"
    folder.mkdir(exist_ok=True)
    for name, content in valid()["idx"].items():
        (folder / name).write_bytes(content)
    head = header_variant(data.draw, json.loads(valid()["idx"]["basicprop.json"]))
    (folder / "basicprop.json").write_text(json.dumps(head))
    arrays = declared_arrays(data.draw, SMALL["n_train"])
    codes = {"images": 0x08, "labels": 0x08, "factors": 0x0C}
    for key, name in bio.idx_names("train").items():
        shape, _, nbytes = arrays[key]
        code = codes[key] if data.draw(st.integers(0, 3)) else data.draw(st.sampled_from([0x09, 0x0B, 0x0D, 0xFF]))
        raw = bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + b"\1" * nbytes
        (folder / name).write_bytes(gzip.compress(raw, mtime=0))
    read_split(folder, split)
