"""Whole datasets from a kind: balanced factor combinations, seeded splits, and ``make_dataset`` (the ``make`` command).

Seeding: ``numpy.random.SeedSequence(seed).spawn(2)`` gives the train and test generators, so the test split does
not depend on ``n_train`` (and vice versa), and ``load_dataset("basicprop-<kind>", split, seed=s)`` returns the
same arrays as a file written by ``make_dataset(kind, ..., seed=s)`` with the default sizes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from basicprop.kinds import Kind, get_kind

N_TRAIN = 60_000  # default sizes: like MNIST
N_TEST = 10_000
SPLITS = ("train", "test")
FORMAT_VERSION = 1


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


def render_split(kind: Kind, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One split: ``{"images": (n, 28, 28) uint8, "labels": (n,) int64, "factors": (n, K) int64}``."""
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
    rngs = split_rngs(seed)
    splits = {split: render_split(kind, sizes[split], rngs[split]) for split in SPLITS}
    return splits, header(kind, seed, sizes)


def make_dataset(kind: Kind | str, out, *, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0,
                 fmt: str | None = None, force: bool = False, kind_params: Mapping | None = None) -> Path:
    """Render a dataset and write it to ``out`` (``.h5``, ``.npz`` or an IDX folder); returns the path written.

    kind: a kind name (``kind_params``, e.g. ``{"bg_noise": (0, 60)}``, are passed to :func:`get_kind`) or a Kind.
    fmt: ``"h5"``, ``"npz"`` or ``"idx"``; by default taken from the extension (no extension: an IDX folder).
    An existing ``out`` is refused unless ``force``. The file appears atomically (temp file + rename), so a
    failure leaves nothing behind. Same arguments and seed -> byte-identical output.
    """
    from basicprop import io

    kind = get_kind(kind, **(kind_params or {}))
    target, fmt = io.resolve_output(out, fmt, force)  # check before the work: bad paths fail fast
    splits, head = render_dataset(kind, n_train, n_test, seed)
    return io.write(target, splits, head, fmt=fmt, force=force)
