"""Hostile dataset files are refused before the readers allocate: one ValueError each, under 200 MB of memory.

The peak resident memory of a fresh process is measured around each read (``ru_maxrss``), so memory taken in C
(HDF5, zlib) counts as well as numpy's.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from basicprop.generate import make_dataset

REPO = Path(__file__).resolve().parents[1]
SMALL = {"n_train": 100, "n_test": 20}
MEMORY_BOUND = 200 << 20
GIANT = 10**9


def h5_declaring(good: Path, path: Path, n: int) -> Path:
    """An .h5 whose datasets declare ``n`` images (never written: HDF5 allocates lazily, the file stays tiny)."""
    with h5py.File(good, "r") as g, h5py.File(path, "w") as f:
        for key, value in g.attrs.items():
            f.attrs[key] = value
        f.attrs["sizes"] = json.dumps({"train": n, "test": n})
        for split in ("train", "test"):
            group = f.create_group(split)
            group.create_dataset("images", shape=(n, 28, 28), dtype=np.uint8)
            group.create_dataset("labels", shape=(n,), dtype=np.int64)
            group.create_dataset("factors", shape=(n, 1), dtype=np.int64)
    return path


def npy_header(shape, descr: str) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npz_declaring(good: Path, path: Path, n: int) -> Path:
    """An .npz whose train members declare ``n`` images, the header agreeing, with a few bytes of data."""
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(path, "w") as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == "metadata.npy":
                head = json.loads(str(np.load(io.BytesIO(data)).reshape(-1)[0]))
                head["sizes"]["train"] = n
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.array(json.dumps(head)))
                data = buffer.getvalue()
            shapes = {"imgs.npy": ((n, 28, 28), "|u1"), "labels.npy": ((n,), "<i8"),
                      "latents_classes.npy": ((n, 1), "<i8")}
            if info.filename in shapes:
                data = npy_header(*shapes[info.filename]) + b"\0" * 4096
            out.writestr(info, data)
    return path


def idx_declaring(folder: Path, n: int) -> Path:
    """An IDX folder whose three train files and header declare ``n`` images, followed by 4 kB of zeros."""
    heads = {"train-images-idx3-ubyte.gz": bytes([0, 0, 8, 3]) + struct.pack(">iii", n, 28, 28),
             "train-labels-idx1-ubyte.gz": bytes([0, 0, 8, 1]) + struct.pack(">i", n),
             "train-factors-idx2-int.gz": bytes([0, 0, 0x0C, 2]) + struct.pack(">ii", n, 1)}
    for name, head in heads.items():
        (folder / name).write_bytes(gzip.compress(head + b"\0" * 4096))
    meta = json.loads((folder / "basicprop.json").read_text())
    meta["sizes"]["train"] = n
    (folder / "basicprop.json").write_text(json.dumps(meta))
    return folder


def gz_bomb(folder: Path) -> Path:
    """The train images of an IDX folder as a 1 MB .gz that inflates to 1 GiB (1024 gzip members of 1 MiB of
    zeros) behind a header declaring the folder's 100 images."""
    zeros = gzip.compress(b"\0" * (1 << 20), mtime=0)
    head = gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">iii", 100, 28, 28), mtime=0)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(head + zeros * 1024)
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the one-line refusal must contain)."""
    d = tmp_path_factory.mktemp("hostile")
    good_h5 = make_dataset("line", d / "good.h5", **SMALL)
    good_npz = make_dataset("line", d / "good.npz", **SMALL)
    fifo_idx = make_dataset("line", d / "fifo_idx", **SMALL)
    (fifo_idx / "train-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(fifo_idx / "train-labels-idx1-ubyte.gz")
    device_idx = make_dataset("line", d / "device_idx", **SMALL)
    (device_idx / "train-images-idx3-ubyte.gz").unlink()
    (device_idx / "train-images-idx3-ubyte.gz").symlink_to("/dev/zero")
    os.mkfifo(d / "fifo.h5")
    return {
        "h5 declaring 2.5 M images": (h5_declaring(good_h5, d / "big.h5", 2_500_000), "stores no such data"),
        "h5 declaring 1e9 images": (h5_declaring(good_h5, d / "giant.h5", GIANT), "needs about"),
        "npz declaring 1e9 images": (npz_declaring(good_npz, d / "giant.npz", GIANT), "declares uint8"),
        "idx declaring 1e9 images": (idx_declaring(make_dataset("line", d / "giant", **SMALL), GIANT), "needs about"),
        "idx gz bomb": (gz_bomb(make_dataset("line", d / "bomb", **SMALL)), "trailing bytes"),
        "fifo named x.h5": (d / "fifo.h5", "not a regular file"),
        "fifo in an idx folder": (fifo_idx, "not a regular file"),
        "device in an idx folder": (device_idx, "not a regular file"),
    }


MEASURE = r"""
import json, resource, sys
import h5py, numpy
from basicprop.datasets import load_dataset

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

base, results = peak(), []
for path in sys.argv[1:]:
    try:
        load_dataset(path, "train")
        outcome = "accepted"
    except ValueError as e:
        outcome = "ValueError: " + str(e)
    results.append([outcome, peak() - base])
print(json.dumps(results))
"""


def test_hostile_files_refused_cheaply(hostile):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    paths = [str(path) for path, _ in hostile.values()]
    r = subprocess.run([sys.executable, "-c", MEASURE, *paths], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    for (name, (_, phrase)), (outcome, grown) in zip(hostile.items(), json.loads(r.stdout)):
        assert outcome.startswith("ValueError: ") and phrase in outcome and "\n" not in outcome, (name, outcome)
        assert grown < MEMORY_BOUND, (name, grown)
