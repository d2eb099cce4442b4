"""Measure the factors of (generated) images: pixel measurements, and the :class:`Measurer` that combines them
with the factor classifiers of :mod:`eval.factor_classifiers`.

**Pixel measurements** (no training; thresholded pixels, ink threshold ``INK_THRESHOLD`` = 100 of 255, between
the background noise ``< 60`` and the foreground noise ``≥ 150``):

* ``line``: the bar's column centre (mean column index of the ink pixels) -> position index
  ``round((centre - 4.5) / 2)`` clipped to 0..9 (position i covers columns 3+2i..6+2i, centre 4.5+2i);
* ``rectangles``: each bar's height = number of rows in which at least half of the bar's 10 columns are ink
  -> index ``round((height - 3) / 2)`` clipped to 0..9;
* MNIST ``slant`` and ``width`` from the intensity-weighted second moments (x right, y down, in pixels):
  ``slant = -mu11 / mu02`` (horizontal shift per row going up; > 0 leans right, like ``/``) and
  ``width = sqrt(mu20 - mu11**2 / mu02)`` (horizontal standard deviation of the ink after removing the slant).

An image without ink gets index -1 (line/rectangles) or slant = width = 0 (MNIST).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from basicprop.images import to_uint8
from eval.factor_classifiers import ClassifierConfig, kind_classifiers, mnist_classifier

INK_THRESHOLD = 100
LINE_CENTRE0, LINE_STEP, LINE_POSITIONS = 4.5, 2.0, 10
RECT_COLUMNS = {"left_height": (3, 13), "right_height": (15, 25)}
RECT_HEIGHT0, RECT_STEP, RECT_HEIGHTS = 3, 2, 10
IMAGE_SHAPE = (28, 28)


def _silent(message: str) -> None:
    pass


def line_position(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n,) int64 position index 0..9 from the ink's mean column (-1: no ink)."""
    ink = (images > INK_THRESHOLD).sum(axis=1).astype(np.float64)  # (n, 28) ink pixels per column
    mass = ink.sum(axis=1)
    centre = (ink * np.arange(28)).sum(axis=1) / np.maximum(mass, 1)
    idx = np.clip(np.round((centre - LINE_CENTRE0) / LINE_STEP), 0, LINE_POSITIONS - 1).astype(np.int64)
    return np.where(mass > 0, idx, -1)


def bar_height(images: np.ndarray, columns: tuple[int, int]) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n,) rows in which at least half of ``columns`` (half-open) are ink."""
    lo, hi = columns
    on = (images[:, :, lo:hi] > INK_THRESHOLD).mean(axis=2) >= 0.5
    return on.sum(axis=1)


def rectangle_heights(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n, 2) int64 left/right height indices 0..9 (-1: no bar)."""
    out = []
    for cols in RECT_COLUMNS.values():
        h = bar_height(images, cols)
        idx = np.clip(np.round((h - RECT_HEIGHT0) / RECT_STEP), 0, RECT_HEIGHTS - 1).astype(np.int64)
        out.append(np.where(h > 0, idx, -1))
    return np.stack(out, axis=1)


def slant_width(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n, 2) float: MNIST slant and width from image moments (see module docstring)."""
    w = images.astype(np.float64)
    m00 = w.sum(axis=(1, 2))
    ys, xs = np.indices((28, 28), dtype=np.float64)
    safe = np.maximum(m00, 1e-9)
    xc = (w * xs).sum(axis=(1, 2)) / safe
    yc = (w * ys).sum(axis=(1, 2)) / safe
    dx = xs[None] - xc[:, None, None]
    dy = ys[None] - yc[:, None, None]
    mu20 = (w * dx * dx).sum(axis=(1, 2)) / safe
    mu02 = (w * dy * dy).sum(axis=(1, 2)) / safe
    mu11 = (w * dx * dy).sum(axis=(1, 2)) / safe
    ok = (m00 > 0) & (mu02 > 1e-9)
    shear = np.where(ok, mu11 / np.where(ok, mu02, 1.0), 0.0)
    width = np.sqrt(np.maximum(mu20 - shear * mu11, 0.0))
    return np.stack([np.where(ok, -shear, 0.0), np.where(ok, width, 0.0)], axis=1)


@dataclass
class Measurement:
    """One measured quantity of an image: a factor (discrete) or a continuous property."""
    name: str
    source: str                       # "classifier" or "analytic"
    continuous: bool
    fn: Callable[[np.ndarray], np.ndarray]   # (n, 28, 28) uint8 -> (n,)
    n_classes: int | None = None
    test_accuracy: float | None = None
    twin_of: str | None = None        # an analytic check of this classifier factor
    ordinal: bool = True              # values are ordered (positions, heights, slant), not names (digit, shape)


@dataclass
class Measurer:
    """Measures the factors of images of one dataset: ``measure(images) -> {name: (n,) values}``.

    ``factors``: the measurements that enter the metrics (classifier factors, then continuous ones);
    ``checks``: analytic twins of classifier factors, reported as agreement rates.
    """
    factors: list[Measurement]
    checks: list[Measurement]

    def measure(self, images, which: str = "all") -> dict[str, np.ndarray]:
        """images: (n, 28, 28) uint8 or (n, 1, 28, 28) float in [0, 1]; ``which="factors"`` skips the checks."""
        images = to_uint8(images)
        if images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"expected images of shape (n, 28, 28), got {images.shape}")
        ms = self.factors + (self.checks if which == "all" else [])
        return {m.name: m.fn(images) for m in ms}

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.factors]


def _col(fn, j):
    return lambda images: fn(images)[:, j]


def analytic_measurements(kind_name: str) -> list[Measurement]:
    """Analytic measurements available for a dataset kind ('line', 'rectangles', 'mnist'; else none)."""
    if kind_name == "line":
        return [Measurement("position", "analytic", False, line_position, LINE_POSITIONS)]
    if kind_name == "rectangles":
        return [Measurement(n, "analytic", False, _col(rectangle_heights, j), RECT_HEIGHTS)
                for j, n in enumerate(RECT_COLUMNS)]
    if kind_name == "mnist":
        return [Measurement("slant", "analytic", True, _col(slant_width, 0)),
                Measurement("width", "analytic", True, _col(slant_width, 1))]
    return []


def build_measurer(meta: dict, *, use_classifiers: bool = True, config: ClassifierConfig = ClassifierConfig(),
                   data_dir=None, device="cpu", log: Callable[[str], None] = _silent) -> Measurer:
    """The measurer for a checkpoint's ``dataset_meta`` (keys ``kind``, ``kind_params``).

    ``use_classifiers=False`` measures with the analytic measurements alone (``line``/``rectangles`` only):
    no training, used by quick tests and ``--measure analytic``.
    """
    kind_name = meta.get("kind")
    analytic = analytic_measurements(kind_name)
    continuous = [m for m in analytic if m.continuous]
    discrete_analytic = [m for m in analytic if not m.continuous]
    if not use_classifiers:
        if kind_name == "mnist" or not discrete_analytic:
            raise ValueError(f"no analytic measurement of every factor for kind '{kind_name}'; "
                             "use the factor classifiers (--measure classifier)")
        return Measurer(discrete_analytic + continuous, [])
    clfs = dataset_classifiers(meta, config=config, data_dir=data_dir, device=device, log=log)
    ordinal = ordinal_factors(meta)
    factors = [Measurement(c.factor, "classifier", False, c.predict, c.n_classes, c.test_accuracy,
                           ordinal=ordinal.get(c.factor, False)) for c in clfs]
    checks = []
    for m in discrete_analytic:
        m.name, m.twin_of = f"{m.name}@pixels", m.name
        checks.append(m)
    return Measurer(factors + continuous, checks)


def dataset_classifiers(meta: dict, *, config: ClassifierConfig = ClassifierConfig(), data_dir=None, device="cpu",
                        log: Callable[[str], None] = _silent) -> list:
    """The factor classifiers of a checkpoint's dataset (``dataset_meta``): the digit CNN for MNIST, one CNN per
    factor of a BasicProp kind; trained once and cached (:mod:`eval.factor_classifiers`)."""
    kind_name = meta.get("kind")
    if kind_name == "mnist":
        return [mnist_classifier(data_dir=data_dir, config=config, device=device, log=log)]
    from basicprop import get_kind
    if kind_name is None:
        raise ValueError("the checkpoint's dataset metadata names no kind; cannot train factor classifiers")
    kind = get_kind(kind_name, **(meta.get("kind_params") or {}))
    return kind_classifiers(kind, config=config, device=device, log=log)


def ordinal_factors(meta: dict) -> dict[str, bool]:
    """{factor name: whether its values are ordered}: BasicProp factors with numeric values are (positions,
    heights, intensities); the MNIST digit and the ``shapes`` kind's shape name are not."""
    kind_name = meta.get("kind")
    if kind_name in (None, "mnist"):
        return {}
    from basicprop import get_kind
    kind = get_kind(kind_name, **(meta.get("kind_params") or {}))
    return {name: all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)
            for name, values in zip(kind.factor_names, kind.factor_values)}
