"""Whole datasets from a kind: balanced factor combinations, seeded splits, and ``make_dataset`` (the ``make`` command).

Seeding: ``numpy.random.SeedSequence(seed).spawn(2)`` gives the train and test generators, so the test split does
not depend on ``n_train`` (and vice versa), and ``load_dataset("basicprop-<kind>", split, seed=s)`` returns the
same arrays as a file written by ``make_dataset(kind, ..., seed=s)`` with the default sizes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from basicprop.kinds import SIZE, Kind, get_kind
from basicprop.resources import check_disk, check_memory

N_TRAIN = 60_000  # default sizes: like MNIST
N_TEST = 10_000
SPLITS = ("train", "test")
# The dataset format: 2 draws the noise from the bit stream, 16 bits per noisy pixel (basicprop.noise); 1 drew 16
# bits per pixel through a lookup table. The same seed gives other noise in the two versions.
FORMAT_VERSION = 2
# Memory per image beyond the arrays kept (images, int64 labels and factors): rendering's transient noise, plus what
# each writer copies (npz: float64 latent values; idx: the IDX bytes and their gzip). Upper bounds of measured peaks.
_EXTRA_BYTES = {None: SIZE * SIZE, "h5": SIZE * SIZE, "npz": SIZE * SIZE, "idx": 3 * SIZE * SIZE}


def check_size(n, what: str, minimum: int = 1) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def split_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for the train and test splits of ``seed``."""
    children = np.random.SeedSequence(check_seed(seed)).spawn(len(SPLITS))
    return {split: np.random.default_rng(child) for split, child in zip(SPLITS, children)}


def balanced_factors(kind: Kind, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, K) int64 factor indices, balanced over combinations, in random order.

    Every one of the C combinations appears ``n // C`` times; the ``n % C`` left over are distinct combinations
    drawn without replacement. (60,000 rectangles: each of the 100 combinations exactly 600 times.)
    """
    n = check_size(n, "number of samples", minimum=0)
    c = kind.num_classes
    labels = np.concatenate([np.repeat(np.arange(c), n // c), rng.permutation(c)[: n % c]])
    return kind.factors_from_labels(rng.permutation(labels))


def array_bytes(kind: Kind, n: int) -> int:
    """Bytes of one split's arrays: ``n`` uint8 images, int64 labels and int64 factors."""
    return n * (SIZE * SIZE + 8 + 8 * len(kind.factor_sizes))


def check_fits(kind: Kind, sizes: Mapping[str, int], fmt: str | None = None, out=None) -> None:
    """Refuse (ValueError with the estimate) sizes whose rendering, writing in ``fmt`` and output at ``out``
    cannot fit in the memory available or on the disk of ``out``."""
    n = sum(sizes.values())
    what = f"{n:,} images of kind '{kind.name}'"
    hint = "lower the number of images (--n-train, --n-test)"
    k = len(kind.factor_sizes)
    memory = array_bytes(kind, n) + n * (_EXTRA_BYTES[fmt] + (8 * k if fmt == "npz" else 0))
    check_memory(memory, f"rendering {what}", hint)
    if out is not None and fmt in ("h5", "npz"):  # uncompressed: the file is the arrays (npz: + latent values)
        check_disk(out.parent, array_bytes(kind, n) + (8 * k * n if fmt == "npz" else 0), f"writing {what}", hint)


def render_split(kind: Kind, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One split: ``{"images": (n, 28, 28) uint8, "labels": (n,) int64, "factors": (n, K) int64}``."""
    check_fits(kind, {"split": check_size(n, "number of samples", minimum=0)})
    factors = balanced_factors(kind, n, rng)
    return {"images": kind.render(factors, rng), "labels": kind.labels(factors), "factors": factors}


def header(kind: Kind, seed: int, sizes: Mapping[str, int]) -> dict:
    """The metadata every file format stores (JSON-able; deterministic: no dates, no paths)."""
    from basicprop import __version__

    return {
        "format": "basicprop",
        "format_version": FORMAT_VERSION,
        "version": __version__,
        "kind": kind.name,
        "kind_params": kind.params,
        "factor_names": list(kind.factor_names),
        "factor_sizes": list(kind.factor_sizes),
        "factor_values": [list(v) for v in kind.factor_values],
        "label": "row-major index of the factor combination (numpy.ravel_multi_index)",
        "seed": int(seed),
        "sizes": {split: int(n) for split, n in sizes.items()},
    }


def render_dataset(kind: Kind | str, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0,
                   kind_params: Mapping | None = None) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Both splits in memory: ``({"train": arrays, "test": arrays}, header)``."""
    kind = get_kind(kind, **(kind_params or {}))
    sizes = {"train": check_size(n_train, "n_train"), "test": check_size(n_test, "n_test")}
    check_fits(kind, sizes)
    rngs = split_rngs(seed)
    splits = {split: render_split(kind, sizes[split], rngs[split]) for split in SPLITS}
    return splits, header(kind, seed, sizes)


def make_dataset(kind: Kind | str, out, *, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0,
                 fmt: str | None = None, force: bool = False, kind_params: Mapping | None = None) -> Path:
    """Render a dataset and write it to ``out`` (``.h5``, ``.npz`` or an IDX folder); returns the path written.

    kind: a kind name (``kind_params``, e.g. ``{"bg_noise": (0, 60)}``, are passed to :func:`get_kind`) or a Kind.
    fmt: ``"h5"``, ``"npz"`` or ``"idx"``; by default taken from the extension (no extension: an IDX folder).
    An existing ``out`` is refused unless ``force``; sizes that cannot fit in memory or on the disk are refused
    with the estimate before any work. The file appears atomically (temp file + rename), so a failure, Ctrl-C or
    SIGTERM leaves nothing behind. Same arguments and seed -> byte-identical output.
    """
    from basicprop import io

    kind = get_kind(kind, **(kind_params or {}))
    target, fmt = io.resolve_output(out, fmt, force)  # check before the work: bad paths fail fast
    check_fits(kind, {"train": check_size(n_train, "n_train"), "test": check_size(n_test, "n_test")}, fmt, target)
    splits, head = render_dataset(kind, n_train, n_test, seed)
    return io.write(target, splits, head, fmt=fmt, force=force)
