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
"""
from __future__ import annotations

import contextlib
import gzip
import io as _io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from basicprop.kinds import SIZE, get_kind

FORMATS = ("h5", "npz", "idx")
EXTENSIONS = {".h5": "h5", ".hdf5": "h5", ".npz": "npz", "": "idx"}
IDX_PREFIX = {"train": "train", "test": "t10k"}
IDX_META = "basicprop.json"
GZIP_LEVEL = 6
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same data gives the same bytes

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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it to ``path``, on failure remove it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` (an old folder is removed after)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "data")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write(out, splits: Splits, header: Mapping, fmt: str | None = None, force: bool = False) -> Path:
    """Write both splits and the header to ``out`` in ``fmt`` (default: from the extension); returns the path."""
    path, fmt = resolve_output(out, fmt, force)
    if fmt == "idx":
        with atomic_dir(path) as tmp:
            write_idx_dir(tmp, splits, header)
    else:
        with atomic_file(path) as tmp:
            (write_h5 if fmt == "h5" else write_npz)(tmp, splits, header)
    return path


def read(path, split: str = "train") -> tuple[dict[str, np.ndarray], dict]:
    """One split and the header of a file or IDX folder written by :func:`write`; ValueError if foreign/corrupt."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"{str(path)!r} does not exist")
    reader = {"idx": read_idx_dir, "h5": read_h5, "npz": read_npz}[detect_format(path)]
    arrays, head = reader(path, split)
    check_arrays(arrays, head, f"{path} [{split}]")
    return arrays, head


def detect_format(path) -> str:
    """``"idx"`` for a folder, else ``"h5"`` or ``"npz"`` from the file's magic bytes (then its extension)."""
    path = Path(path)
    if path.is_dir():
        return "idx"
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
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: bad header: {e}") from None
    if list(kind.factor_sizes) != list(head["factor_sizes"]):
        raise ValueError(f"{where}: factor sizes {head['factor_sizes']} do not match kind '{kind.name}'")
    return head


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
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"cannot read {str(path)!r}: not a valid HDF5 file ({_first_line(e)})") from None
    with f:
        try:
            head = {k: _attr(v) for k, v in f.attrs.items()}
            for key in _H5_JSON:
                if key in head:
                    head[key] = json.loads(head[key])
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: unreadable attributes ({_first_line(e)})") from None
        check_header(head, str(path))
        if split not in f or not all(k in f[split] for k in ("images", "labels", "factors")):
            raise ValueError(f"{path}: no complete '{split}' group (images, labels, factors)")
        try:
            arrays = _split_arrays(f[split]["images"][()], f[split]["labels"][()], f[split]["factors"][()])
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{path}: cannot read the '{split}' arrays ({_first_line(e)})") from None
    return arrays, head


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
    prefix = "" if split == "train" else f"{split}_"
    if not zipfile.is_zipfile(path):
        raise ValueError(f"cannot read {str(path)!r}: not a valid .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "metadata" not in z.files:
                raise ValueError(f"{path} is not a basicprop dataset (no 'metadata' entry)")
            head = json.loads(str(z["metadata"].reshape(-1)[0]))
            check_header(head, str(path))
            keys = [prefix + k for k in ("imgs", "labels", "latents_classes")]
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(f"{path}: no '{split}' split (missing {', '.join(missing)})")
            arrays = _split_arrays(*(z[k] for k in keys))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {str(path)!r}: not a valid .npz file ({_first_line(e)})") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"cannot read {str(path)!r}: {_first_line(e)}") from None
    return arrays, head


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


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """Decode IDX bytes; ValueError naming ``where`` if they are not valid IDX."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{where} is not an IDX file (bad magic number)")
    ndim, dtype = raw[3], _IDX_TYPES[raw[2]]
    start = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:start], dtype=">i4")) if len(raw) >= start else None
    if shape is None or len(raw) != start + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{where}: IDX file is truncated or has trailing bytes")
    return np.frombuffer(raw, dtype=dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


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


def _read_idx_file(path: Path) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"cannot read {str(path)!r}: corrupted gzip ({_first_line(e)})") from None
    return parse_idx(raw, str(path))


def read_idx_dir(folder: Path, split: str) -> tuple[dict[str, np.ndarray], dict]:
    folder = Path(folder)
    meta = folder / IDX_META
    if not meta.is_file():
        raise ValueError(
            f"{str(folder)!r} is not an IDX folder written by basicprop (no {IDX_META}); for real MNIST use the "
            "dataset name 'mnist' with --data-dir"
        )
    try:
        head = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {meta}: {_first_line(e)}") from None
    check_header(head, str(folder))
    arrays = {}
    for key, name in idx_names(split).items():
        path = folder / name
        if not path.is_file() and (folder / name[:-3]).is_file():
            path = folder / name[:-3]  # unpacked copy
        if not path.is_file():
            raise ValueError(f"{str(folder)!r} lacks {name}")
        arrays[key] = _read_idx_file(path)
    return _split_arrays(arrays["images"], arrays["labels"], arrays["factors"]), head


def torchvision_root(idx_dir, root) -> Path:
    """Unpack the images and labels of an IDX folder into ``<root>/MNIST/raw/`` for torchvision; returns root.

    Then ``torchvision.datasets.MNIST(root, train=True, download=False)`` reads the basicprop data.
    """
    idx_dir, root = Path(idx_dir), Path(root)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in IDX_PREFIX:
        names = idx_names(split)
        for key in ("images", "labels"):
            source = idx_dir / names[key]
            with atomic_file(raw / names[key][:-3]) as tmp:
                with gzip.open(source, "rb") as f, open(tmp, "wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
    return root
