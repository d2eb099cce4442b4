"""Read and write datasets as HDF5, dSprites-style NPZ, or an MNIST-compatible IDX folder.

Every writer takes ``splits = {"train": arrays, "test": arrays}`` (arrays: ``images`` (N, 28, 28) uint8, ``labels``
(N,) int64, ``factors`` (N, K) int64) and the JSON-able ``header`` from :func:`basicprop.generate.header`, and
writes atomically: a temp file (or folder) in the target directory, renamed into place at the end, so a failure
leaves nothing behind. Output is deterministic: no dates, names or paths inside, so the same data gives the same
bytes.

Formats
-------
``.h5``  groups ``train/`` and ``test/``, each with ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,),
         ``factors`` int64 (N, K); root attributes ``format`` ("basicprop"), ``format_version``, ``version``,
         ``kind``, ``kind_params`` (JSON: every generator parameter), ``factor_names``, ``factor_sizes``,
         ``factor_values`` (JSON), ``label``, ``seed``. No timestamps (``track_times=False``), no compression.
``.npz`` dSprites-style keys for the train split: ``imgs``, ``latents_classes`` (factor indices),
         ``latents_values`` (float64 physical values; shape names -> their index), ``labels``; the test split under
         the same keys prefixed ``test_``; plus ``latents_names``, ``latents_sizes`` and ``metadata`` (the header as
         a JSON string). No pickles: ``np.load(path)`` reads it with ``allow_pickle=False``.
IDX folder  (any path without extension) ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
         ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` byte-compatible with MNIST's, the factors
         beside them as IDX int32 matrices ``train-factors-idx2-int.gz`` / ``t10k-factors-idx2-int.gz``, and
         ``basicprop.json`` (the header). torchvision's ``datasets.MNIST`` reads the unpacked images and labels
         from ``<root>/MNIST/raw/``; :func:`torchvision_root` (or ``gunzip``) lays them out.

Reading files from strangers
----------------------------
Readers validate before they allocate. What a file declares (shapes, dtypes, the counts of images, labels and
factors, the header's factor count and sizes) is checked against itself, the header, the file's size and the
memory available before any array is read, so a refused file costs about its header: a 10 kB .h5 declaring
2.5 M images, a header declaring 10^9 images or a 1 MB .gz inflating to 1 GB end in one ``ValueError``. IDX files
inflate as a bounded stream (never past the declared payload plus one byte); .npz members are read only after
their .npy headers agree with the zip's sizes, and never as pickles; .h5 datasets must be plain contiguous data
(no compression, external files or links), and the HDF5 library, which can crash on corrupted input, reads only
the structure, in a forked child (:mod:`basicprop.isolate`). FIFOs, sockets and devices are refused unopened.
"""
from __future__ import annotations

import contextlib
import gzip
import io as _io
import json
import math
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from basicprop import files
from basicprop.files import atomic_dir, atomic_path
from basicprop.isolate import isolated
from basicprop.kinds import SIZE, get_kind
from basicprop.resources import check_memory

FORMATS = ("h5", "npz", "idx")
EXTENSIONS = {".h5": "h5", ".hdf5": "h5", ".npz": "npz", "": "idx"}
IDX_PREFIX = {"train": "train", "test": "t10k"}
IDX_META = "basicprop.json"
GZIP_LEVEL = 6
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same data gives the same bytes
STALE_AFTER_S = 12 * 3600  # a writer's temp file untouched this long was left by a killed process
MAX_HEADER_BYTES = 1 << 20  # the JSON header of any format: far more than any kind needs
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data more than this: a zip directory claiming more lies
CHUNK = 1 << 20  # bytes read (and inflated) at a time

Splits = Mapping[str, Mapping[str, np.ndarray]]


# ----------------------------------------------------------------------------------------------- paths, atomicity
def format_of(path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` if given, else from the extension (no extension: an IDX folder)."""
    if fmt is not None:
        key = str(fmt).lower().lstrip(".")
        key = {"hdf5": "h5", "mnist": "idx"}.get(key, key)
        if key not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {list(FORMATS)}")
        return key
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ValueError(
            f"unknown extension {suffix!r} of {str(path)!r}; use .h5, .npz, a name without extension (an IDX "
            "folder), or --format"
        )
    return EXTENSIONS[suffix]


def resolve_output(out, fmt: str | None = None, force: bool = False) -> tuple[Path, str]:
    """Check an output path before any work: format known, directory writable, no clobbering without ``force``."""
    path = Path(out).expanduser()
    fmt = format_of(path, fmt)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
    if path.exists() or path.is_symlink():
        if not force:
            raise ValueError(f"{str(path)!r} already exists; pass --force (force=True) to overwrite it")
        if path.is_dir() and not (path / IDX_META).is_file():
            raise ValueError(f"refusing to overwrite directory {str(path)!r}: not an IDX folder written by basicprop")
        if path.is_dir() != (fmt == "idx"):
            what = "a directory" if path.is_dir() else "a file"
            raise ValueError(f"refusing to overwrite {what} {str(path)!r} with {fmt} output")
    return path, fmt


def write(out, splits: Splits, header: Mapping, fmt: str | None = None, force: bool = False) -> Path:
    """Write both splits and the header to ``out`` in ``fmt`` (default: from the extension); returns the path."""
    path, fmt = resolve_output(out, fmt, force)
    remove_stale_temps(path)
    if fmt == "idx":
        with atomic_dir(path) as tmp:
            write_idx_dir(tmp, splits, header)
    else:
        with atomic_path(path) as tmp:
            (write_h5 if fmt == "h5" else write_npz)(tmp, splits, header)
    return path


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temp files and folders of target ``path`` that a killed writer left (untouched for
    :data:`STALE_AFTER_S`: a live writer's temp is younger); returns what was removed."""
    return files.remove_temps(path.parent, path.name, older_than=STALE_AFTER_S)


def read(path, split: str = "train") -> tuple[dict[str, np.ndarray], dict]:
    """One split and the header of a file or IDX folder written by :func:`write`; ValueError if foreign/corrupt.

    Every reader checks what a file declares (shapes, dtypes, counts of images, labels and factors, the bytes
    they need) against each other, the header and the file's size before it reads any data, so a hostile or
    corrupted file is refused at the cost of its header; FIFOs and devices are refused without being opened.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"{str(path)!r} does not exist")
    reader = {"idx": read_idx_dir, "h5": read_h5, "npz": read_npz}[detect_format(path)]
    arrays, head = reader(path, split)
    check_arrays(arrays, head, f"{path} [{split}]")
    return arrays, head


def regular_file(path) -> os.stat_result:
    """``os.stat`` of ``path``, a regular file (symlinks followed); ValueError otherwise, without opening it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{str(path)!r} does not exist") from None
    except OSError as e:
        raise ValueError(f"cannot read {str(path)!r}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"cannot read {str(path)!r}: not a regular file (a FIFO, socket or device is never read)")
    return st


def detect_format(path) -> str:
    """``"idx"`` for a folder, else ``"h5"`` or ``"npz"`` from the file's magic bytes (then its extension)."""
    path = Path(path)
    if path.is_dir():
        return "idx"
    regular_file(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    suffix = path.suffix.lower()
    if magic == b"\x89HDF\r\n\x1a\n" or (suffix in (".h5", ".hdf5") and not magic.startswith(b"PK")):
        return "h5"
    if magic.startswith(b"PK") or suffix == ".npz":
        return "npz"
    raise ValueError(f"cannot read {str(path)!r}: neither HDF5 nor .npz, nor an IDX folder")


def check_header(head, where: str) -> dict:
    """A header read back from a file: the keys a reader needs, and a kind that can be rebuilt."""
    if not isinstance(head, dict) or head.get("format") != "basicprop":
        raise ValueError(f"{where} is not a basicprop dataset (no basicprop header)")
    missing = [k for k in ("kind", "kind_params", "factor_names", "factor_sizes", "seed") if k not in head]
    if missing:
        raise ValueError(f"{where}: header lacks {', '.join(missing)}")
    try:
        kind = get_kind(head["kind"], **(head["kind_params"] or {}))
        sizes_match = list(kind.factor_sizes) == list(head["factor_sizes"])
        names_match = list(kind.factor_names) == list(head["factor_names"])
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{where}: bad header: {_first_line(e)}") from None
    if not sizes_match or not names_match:
        raise ValueError(f"{where}: factor names or sizes {head['factor_sizes']} do not match kind '{kind.name}'")
    counts = head.get("sizes", {})
    if not isinstance(counts, dict) or not all(_is_count(v) for v in counts.values()):
        raise ValueError(f"{where}: bad header: 'sizes' must map splits to numbers of images")
    return head


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_declared(declared: Mapping[str, tuple], head: Mapping, split: str, where: str) -> None:
    """Check the ``(shape, dtype)`` a file declares for one split's arrays before any data is read.

    images uint8 (N, 28, 28), labels integers (N,), factors integers (N, K) with K the header's number of factors
    and N the header's count for the split (when it records one); the memory to read them must be available.
    Each reader also holds the declared bytes against what the file holds (its size, a zip member's size, the
    bounded inflation of a .gz).
    """
    shapes = {name: tuple(int(d) for d in (shape or ())) for name, (shape, _) in declared.items()}
    dtypes = {name: np.dtype(dtype) for name, (_, dtype) in declared.items()}
    images, k = shapes["images"], len(head["factor_sizes"])
    if len(images) != 3 or images[1:] != (SIZE, SIZE) or dtypes["images"] != np.uint8:
        raise ValueError(f"{where}: images must be uint8 (N, {SIZE}, {SIZE}); the file declares "
                         f"{dtypes['images']} {images}")
    n = images[0]
    for name, want in (("labels", (n,)), ("factors", (n, k))):
        if dtypes[name].kind not in "iu" or dtypes[name].itemsize > 8:
            raise ValueError(f"{where}: {name} must be integers; the file declares {dtypes[name]}")
        if shapes[name] != want:
            raise ValueError(f"{where}: {name} of shape {shapes[name]} do not match {n} images with {k} factors")
    recorded = head.get("sizes", {}).get(split)
    if recorded is not None and recorded != n:
        raise ValueError(f"{where}: the header records {recorded} '{split}' images, the arrays declare {n}")
    check_memory(2 * n * (SIZE * SIZE + 8 + 8 * k), f"reading {n:,} images from {where}")


def check_arrays(arrays: Mapping[str, np.ndarray], head: Mapping, where: str) -> None:
    """Shapes, dtypes, factor ranges and labels consistent with the header; ValueError naming the problem."""
    images, labels, factors = arrays["images"], arrays["labels"], arrays["factors"]
    sizes = tuple(int(s) for s in head["factor_sizes"])
    n = len(images)
    if images.dtype != np.uint8 or images.shape != (n, SIZE, SIZE):
        raise ValueError(f"{where}: images must be uint8 (N, {SIZE}, {SIZE}), got {images.dtype} {images.shape}")
    if labels.shape != (n,) or factors.shape != (n, len(sizes)):
        raise ValueError(f"{where}: labels {labels.shape} / factors {factors.shape} do not match {n} images")
    if n == 0:
        return
    if np.any(factors.min(axis=0) < 0) or np.any(factors.max(axis=0) >= np.array(sizes)):
        raise ValueError(f"{where}: factor indices outside the factor sizes {list(sizes)}")
    if not np.array_equal(labels, np.ravel_multi_index(tuple(factors.T), sizes)):
        raise ValueError(f"{where}: labels do not match the factors (corrupted file?)")


def _split_arrays(images, labels, factors) -> dict[str, np.ndarray]:
    labels, factors = np.asarray(labels), np.asarray(factors)
    for name, a in (("labels", labels), ("factors", factors)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be integers, got {a.dtype}")
    return {"images": np.asarray(images), "labels": labels.astype(np.int64, copy=False),
            "factors": factors.astype(np.int64, copy=False)}


# ------------------------------------------------------------------------------------------------------- HDF5
_H5_JSON = ("kind_params", "factor_values", "sizes")


def write_h5(path, splits: Splits, header: Mapping) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for key, value in header.items():
            if key in _H5_JSON:
                f.attrs[key] = json.dumps(value, sort_keys=True)
            elif key == "factor_names":
                f.attrs[key] = np.array(value, dtype=h5py.string_dtype())
            elif key == "factor_sizes":
                f.attrs[key] = np.array(value, dtype=np.int64)
            else:
                f.attrs[key] = value
        for split, arrays in splits.items():
            group = f.create_group(split)
            for name in ("images", "labels", "factors"):
                group.create_dataset(name, data=arrays[name], track_times=False)


def read_h5(path, split: str) -> tuple[dict[str, np.ndarray], dict]:
    """One split of an .h5 file. The HDF5 library, which can crash on a corrupted file, reads only the structure,
    in a forked child (:func:`basicprop.isolate.isolated`); the arrays are then read here at the offsets it reports."""
    size = regular_file(path).st_size
    probe = isolated(_h5_probe, str(path), split)
    if "error" in probe:
        raise ValueError(f"cannot read {str(path)!r}: not a valid basicprop HDF5 file ({probe['error']})")
    head = check_header(probe["head"], str(path))
    where = f"{path} [{split}]"
    layout = probe["datasets"]
    check_declared({k: (d["shape"], d["dtype"]) for k, d in layout.items()}, head, split, where)
    arrays = {k: _read_at(path, d, size, f"{where} {k}") for k, d in layout.items()}
    return _split_arrays(arrays["images"], arrays["labels"], arrays["factors"]), head


def _h5_probe(path: str, split: str) -> dict:
    """(In the child) the root attributes as a header, and each dataset of ``split`` as shape, dtype and byte
    offset: plain contiguous data in this file (no compression, external file, link or unallocated space)."""
    import h5py

    with h5py.File(path, "r") as f:
        for name in f.attrs:
            if f.attrs.get_id(name).get_storage_size() > MAX_HEADER_BYTES:
                return {"error": f"attribute {name!r} is larger than any basicprop header"}
        head = {k: _attr(v) for k, v in f.attrs.items()}
        for key in _H5_JSON:
            if key in head:
                head[key] = json.loads(head[key])
        group = f.get(split) if isinstance(f.get(split, getlink=True), h5py.HardLink) else None
        if not isinstance(group, h5py.Group):
            return {"error": f"no '{split}' group"}
        datasets = {}
        for name in ("images", "labels", "factors"):
            ds = group.get(name) if isinstance(group.get(name, getlink=True), h5py.HardLink) else None
            if not isinstance(ds, h5py.Dataset):
                return {"error": f"no dataset '{split}/{name}'"}
            plist = ds.id.get_create_plist()
            if plist.get_layout() != h5py.h5d.CONTIGUOUS or plist.get_nfilters() or plist.get_external_count():
                return {"error": f"'{split}/{name}' is chunked, compressed or external (basicprop writes plain data)"}
            if ds.dtype.kind not in "biuf" or ds.dtype.shape or ds.shape is None:
                return {"error": f"'{split}/{name}' has an unsupported type {ds.dtype} or no shape"}
            datasets[name] = {"shape": list(ds.shape), "dtype": ds.dtype.str, "offset": ds.id.get_offset()}
    return {"head": head, "datasets": datasets}


def _read_at(path, dataset: Mapping, size: int, where: str) -> np.ndarray:
    """The array a probe located at ``dataset["offset"]``, read straight from the file, within its size."""
    shape, dtype, offset = tuple(dataset["shape"]), np.dtype(dataset["dtype"]), dataset["offset"]
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes and (offset is None or offset < 0 or offset + nbytes > size):
        raise ValueError(f"{where}: declares {shape} ({nbytes:,} bytes) but the file stores no such data "
                         "(truncated or corrupted)")
    out = np.empty(shape, dtype=dtype)
    with open(path, "rb") as f:
        f.seek(offset or 0)
        if f.readinto(memoryview(out.reshape(-1).view(np.uint8))) != nbytes:
            raise ValueError(f"{where}: the file is truncated")
    return out


def _attr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# -------------------------------------------------------------------------------------------------------- NPZ
def _latent_values(header: Mapping, factors: np.ndarray) -> np.ndarray:
    """(N, K) float64 physical factor values (non-numeric values, e.g. shape names, become their index)."""
    columns = []
    for k, values in enumerate(header["factor_values"]):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        table = np.array(values if numeric else range(len(values)), dtype=np.float64)
        columns.append(table[factors[:, k]])
    return np.stack(columns, axis=1) if columns else np.zeros((len(factors), 0))


def write_npz(path, splits: Splits, header: Mapping) -> None:
    entries = {"latents_names": np.array(header["factor_names"], dtype=str),
               "latents_sizes": np.array(header["factor_sizes"], dtype=np.int64),
               "metadata": np.array(json.dumps(dict(header), sort_keys=True))}
    for split, arrays in splits.items():
        prefix = "" if split == "train" else f"{split}_"
        entries[prefix + "imgs"] = arrays["images"]
        entries[prefix + "latents_classes"] = arrays["factors"]
        entries[prefix + "latents_values"] = _latent_values(header, arrays["factors"])
        entries[prefix + "labels"] = arrays["labels"]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for key, array in entries.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)


def read_npz(path, split: str) -> tuple[dict[str, np.ndarray], dict]:
    size = regular_file(path).st_size
    prefix = "" if split == "train" else f"{split}_"
    if not zipfile.is_zipfile(path):
        raise ValueError(f"cannot read {str(path)!r}: not a valid .npz file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as z:
            if "metadata.npy" not in z.namelist():
                raise ValueError(f"{path} is not a basicprop dataset (no 'metadata' entry)")
            _npy_declared(z, "metadata", size, str(path), limit=MAX_HEADER_BYTES)
            head = check_header(json.loads(str(_npy_read(z, "metadata").reshape(-1)[0])), str(path))
            keys = {"images": prefix + "imgs", "labels": prefix + "labels", "factors": prefix + "latents_classes"}
            missing = [k for k in keys.values() if k + ".npy" not in z.namelist()]
            if missing:
                raise ValueError(f"{path}: no '{split}' split (missing {', '.join(missing)})")
            where = f"{path} [{split}]"
            check_declared({k: _npy_declared(z, m, size, where) for k, m in keys.items()}, head, split, where)
            arrays = _split_arrays(*(_npy_read(z, keys[k]) for k in ("images", "labels", "factors")))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, json.JSONDecodeError, IndexError) as e:
        raise ValueError(f"cannot read {str(path)!r}: not a valid .npz file ({_first_line(e)})") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"cannot read {str(path)!r}: {_first_line(e)}") from None
    return arrays, head


def _npy_declared(z: zipfile.ZipFile, name: str, size: int, where: str, limit: int | None = None) -> tuple:
    """``(shape, dtype)`` from a member's .npy header, checked against the sizes the zip records and the file's
    size; nothing beyond the header is read."""
    info = z.getinfo(name + ".npy")
    stored = info.compress_type == zipfile.ZIP_STORED
    if not stored and info.compress_type != zipfile.ZIP_DEFLATED:
        raise ValueError(f"{where}: {name} uses a compression other than deflate")
    ratio = 1 if stored else MAX_DEFLATE_RATIO
    if info.compress_size > size or info.file_size > ratio * info.compress_size + 4096:
        raise ValueError(f"{where}: the zip directory's sizes of {name} do not fit the file (corrupted?)")
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{where}: {name} has an unsupported .npy version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
        header_len = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{where}: {name} holds Python objects, which are never loaded")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_len + nbytes != info.file_size or (limit is not None and nbytes > limit):
        raise ValueError(f"{where}: {name} declares {dtype} {shape} ({nbytes:,} bytes) but holds "
                         f"{info.file_size - header_len:,} bytes")
    return shape, dtype


def _npy_read(z: zipfile.ZipFile, name: str) -> np.ndarray:
    """A member whose header :func:`_npy_declared` checked (its size is bounded by the file's)."""
    with z.open(name + ".npy") as f:
        return np.lib.format.read_array(f, allow_pickle=False)


# -------------------------------------------------------------------------------------------------------- IDX
# IDX: magic = 0x00 0x00 <type code> <number of dimensions>, then each dimension as big-endian int32, then data.
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x0C: np.dtype(">i4")}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 or int32 array (uint8 -> type 0x08 like MNIST; other ints -> 0x0C int32)."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        code, data = 0x08, array
    else:
        if array.size and (array.min() < -(2**31) or array.max() >= 2**31):
            raise ValueError("values do not fit in IDX int32")
        code, data = 0x0C, array.astype(">i4")
    head = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    return head + np.ascontiguousarray(data).tobytes()


def _idx_header(f: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header length)`` from the start of an IDX stream; nothing beyond the header is read."""
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise ValueError(f"{where} is not an IDX file (bad magic number)")
    ndim = magic[3]
    dims = f.read(4 * ndim)
    if len(dims) != 4 * ndim:
        raise ValueError(f"{where}: IDX file is truncated or has trailing bytes")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    return shape, _IDX_TYPES[magic[2]], 4 + 4 * ndim


def _idx_payload(f: BinaryIO, shape: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
    """Exactly the declared payload, read (and inflated) :data:`CHUNK` bytes at a time; one byte more is refused,
    so a stream never inflates beyond what its header declares."""
    out = np.empty(shape, dtype=dtype)
    view = memoryview(out.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        got = f.readinto(view[done:done + CHUNK])
        if not got:
            raise ValueError(f"{where}: IDX file is truncated or has trailing bytes")
        done += got
    if f.read(1):
        raise ValueError(f"{where}: IDX file is truncated or has trailing bytes")
    return out.astype(dtype.newbyteorder("="), copy=False)


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """Decode IDX bytes; ValueError naming ``where`` if they are not valid IDX."""
    f = _io.BytesIO(raw)
    shape, dtype, start = _idx_header(f, where)
    if len(raw) != start + math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{where}: IDX file is truncated or has trailing bytes")
    return _idx_payload(f, shape, dtype, where)


def _gzip_bytes(data: bytes) -> bytes:
    buffer = _io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=GZIP_LEVEL, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def idx_names(split: str) -> dict[str, str]:
    """The file names of one split in an IDX folder (MNIST's for images and labels)."""
    p = IDX_PREFIX[split]
    return {"images": f"{p}-images-idx3-ubyte.gz", "labels": f"{p}-labels-idx1-ubyte.gz",
            "factors": f"{p}-factors-idx2-int.gz"}


def write_idx_dir(folder: Path, splits: Splits, header: Mapping) -> None:
    folder = Path(folder)
    for split, arrays in splits.items():
        labels = np.asarray(arrays["labels"])
        if labels.size and (labels.min() < 0 or labels.max() > 255):
            raise ValueError("labels above 255 do not fit MNIST's IDX ubyte label file; write .h5 or .npz instead")
        names = idx_names(split)
        (folder / names["images"]).write_bytes(_gzip_bytes(idx_bytes(arrays["images"])))
        (folder / names["labels"]).write_bytes(_gzip_bytes(idx_bytes(labels.astype(np.uint8))))
        (folder / names["factors"]).write_bytes(_gzip_bytes(idx_bytes(arrays["factors"].astype(np.int32))))
    (folder / IDX_META).write_text(json.dumps(dict(header), indent=2, sort_keys=True) + "\n")


def read_idx_dir(folder: Path, split: str) -> tuple[dict[str, np.ndarray], dict]:
    folder = Path(folder)
    meta = folder / IDX_META
    if not meta.exists():
        raise ValueError(
            f"{str(folder)!r} is not an IDX folder written by basicprop (no {IDX_META}); for real MNIST use the "
            "dataset name 'mnist' with --data-dir"
        )
    if regular_file(meta).st_size > MAX_HEADER_BYTES:
        raise ValueError(f"{meta}: larger than any basicprop header (corrupted?)")
    try:
        head = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {meta}: {_first_line(e)}") from None
    check_header(head, str(folder))
    paths = {key: _idx_path(folder, name) for key, name in idx_names(split).items()}
    with contextlib.ExitStack() as stack:
        try:
            streams = {k: stack.enter_context(gzip.open(p) if p.suffix == ".gz" else open(p, "rb"))
                       for k, p in paths.items()}
            declared = {k: _idx_header(streams[k], str(paths[k])) for k in paths}
            check_declared({k: d[:2] for k, d in declared.items()}, head, split, f"{folder} [{split}]")
            for key, (shape, dtype, start) in declared.items():
                unpacked_size = start + math.prod(shape) * dtype.itemsize
                if paths[key].suffix != ".gz" and paths[key].stat().st_size != unpacked_size:
                    raise ValueError(f"{paths[key]}: IDX file is truncated or has trailing bytes")
            arrays = {k: _idx_payload(streams[k], *declared[k][:2], str(paths[k])) for k in paths}
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"cannot read {str(folder)!r}: corrupted gzip ({_first_line(e)})") from None
    return _split_arrays(arrays["images"], arrays["labels"], arrays["factors"]), head


def _idx_path(folder: Path, name: str) -> Path:
    """``folder/name`` (a .gz), else its unpacked copy; a regular file."""
    path = folder / name
    if not path.exists() and (folder / name[:-3]).exists():
        path = folder / name[:-3]
    if not path.exists():
        raise ValueError(f"{str(folder)!r} lacks {name}")
    regular_file(path)
    return path


def torchvision_root(idx_dir, root) -> Path:
    """Unpack the images and labels of an IDX folder into ``<root>/MNIST/raw/`` for torchvision; returns root.

    Then ``torchvision.datasets.MNIST(root, train=True, download=False)`` reads the basicprop data.
    """
    idx_dir, root = Path(idx_dir), Path(root)
    raw = root / "MNIST" / "raw"
    for split in IDX_PREFIX:
        names = idx_names(split)
        for key in ("images", "labels"):
            source = idx_dir / names[key]
            regular_file(source)
            with atomic_path(raw / names[key][:-3]) as tmp:
                with gzip.open(source, "rb") as f, open(tmp, "wb") as out:
                    shutil.copyfileobj(f, out, CHUNK)
    return root
