"""Measure the factors of (generated) images: trained factor classifiers and analytic measurements.

**Factor classifiers** (one small CNN per factor, trained by the toolkit on real labelled data):

* BasicProp kinds: for every factor of the kind, a CNN trained on ``ClassifierConfig.n_train`` images rendered
  through the factor API (``kind.sample_factors`` + ``kind.render`` with the checkpoint's kind parameters, so the
  same noise), tested on ``n_test`` freshly rendered ones.
* MNIST: one CNN for the digit, trained on the MNIST training set and tested on the MNIST test set
  (``≥ 99 %`` expected).

The net is :class:`SmallCNN` (two 3×3 conv + max-pool stages, FC 128), trained with Adam and a one-cycle
learning rate (peak 2e-3): widths (8, 16), 2 epochs on 20,000 rendered images for a BasicProp factor (measured:
100 % on line and rectangles); widths (16, 32), 5 epochs for the MNIST digit (measured: 99.18 % test accuracy).

Trained classifiers are cached on disk, with their test accuracy, under ``$BASICPROP_CACHE/eval/classifiers``
(default ``~/.cache/basicprop``); the file name carries a hash of everything that determines the weights
(kind, kind parameters, factor, training settings), so a changed setting trains a new one. Nothing is
downloaded.

**Analytic measurements** (no training; thresholded pixels, ink threshold ``INK_THRESHOLD`` = 100 of 255, between
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

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

INK_THRESHOLD = 100
CLASSIFIER_VERSION = 2
LINE_CENTRE0, LINE_STEP, LINE_POSITIONS = 4.5, 2.0, 10
RECT_COLUMNS = {"left_height": (3, 13), "right_height": (15, 25)}
RECT_HEIGHT0, RECT_STEP, RECT_HEIGHTS = 3, 2, 10


# --------------------------------------------------------------------------------------------------- images
def to_uint8(images) -> np.ndarray:
    """(n, 1, 28, 28) / (n, 28, 28) float in [0, 1] tensor or array, or uint8 -> (n, 28, 28) uint8 numpy."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
        if images.dtype != torch.uint8:
            images = (images.float().clamp(0, 1) * 255).round().to(torch.uint8)
        images = images.numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected images of shape (n, 28, 28), got {images.shape}")
    if images.dtype != np.uint8:
        images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    return images


# -------------------------------------------------------------------------------------- analytic measures
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


# ------------------------------------------------------------------------------------------- classifiers
class SmallCNN(nn.Module):
    """conv(w1, 3×3)-ReLU-pool, conv(w2, 3×3)-ReLU-pool, FC hidden-ReLU, FC classes. Input (n, 1, 28, 28) in [0, 1]."""

    def __init__(self, n_classes: int, widths: tuple[int, int] = (16, 32), hidden: int = 128):
        super().__init__()
        w1, w2 = widths
        self.conv1 = nn.Conv2d(1, w1, 3, padding=1)
        self.conv2 = nn.Conv2d(w1, w2, 3, padding=1)
        self.fc1 = nn.Linear(w2 * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


@dataclass(frozen=True)
class ClassifierConfig:
    """How factor classifiers are trained (every field enters the cache key)."""
    n_train: int = 20_000          # BasicProp: rendered training images per factor
    n_test: int = 5_000            # BasicProp: rendered test images
    epochs: int = 2                # BasicProp
    widths: tuple[int, int] = (8, 16)   # BasicProp factors are easy: the small net reaches 100 %
    mnist_epochs: int = 5          # measured: 99.2 % test accuracy (the (32, 64) net after 3 epochs: 99.0 %)
    mnist_widths: tuple[int, int] = (16, 32)
    batch_size: int = 128
    lr: float = 2e-3               # peak of a one-cycle schedule (15 % warm-up, cosine decay to ~0)
    seed: int = 0


@dataclass
class FactorClassifier:
    """A trained CNN for one discrete factor; ``predict`` maps images to factor indices."""
    factor: str
    n_classes: int
    net: SmallCNN
    test_accuracy: float
    info: dict = field(default_factory=dict)
    device: torch.device = torch.device("cpu")
    batch_size: int = 1000

    @torch.no_grad()
    def predict(self, images) -> np.ndarray:
        """(n, 28, 28) uint8 -> (n,) int64."""
        x = images_to_tensor(to_uint8(images))
        out = [self.net(x[i:i + self.batch_size].to(self.device)).argmax(1).cpu()
               for i in range(0, len(x), self.batch_size)]
        return torch.cat(out).numpy().astype(np.int64) if out else np.zeros(0, np.int64)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float().div_(255.0)


def cache_dir() -> Path:
    root = os.environ.get("BASICPROP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "basicprop")
    return Path(root) / "eval" / "classifiers"


def cache_key(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def train_classifier(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     n_classes: int, *, widths, epochs: int, batch_size: int, lr: float, seed: int,
                     device: torch.device, log: Callable[[str], None] = lambda s: None) -> tuple[SmallCNN, float]:
    """Adam on cross-entropy with a one-cycle learning rate; returns (net in eval mode, test accuracy).

    Seeded; randomness stays local (the global torch RNG is left as it was)."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallCNN(n_classes, tuple(widths)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x = images_to_tensor(x_train)
    y = torch.from_numpy(y_train.astype(np.int64))
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        log(f"  epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f}")
    net.eval()
    clf = FactorClassifier("", n_classes, net, 0.0, device=device)
    acc = float(np.mean(clf.predict(x_test) == y_test))
    return net, acc


def _load_cached(path: Path, device: torch.device):
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        info = json.loads(state["info"])
        net = SmallCNN(int(info["n_classes"]), tuple(info["widths"]))
        net.load_state_dict(state["weights"])
    except Exception:  # a corrupted or stale cache entry: retrain and overwrite
        return None
    return net.to(device).eval(), info


def _save_cached(path: Path, net: SmallCNN, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"weights": {k: v.cpu() for k, v in net.state_dict().items()}, "info": json.dumps(info)}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    with open(path.with_suffix(".json"), "w") as fh:
        json.dump(info, fh, indent=1)


def _cached_or_train(spec: dict, make_data: Callable, n_classes: int, widths, epochs: int,
                     config: ClassifierConfig, device: torch.device, log) -> FactorClassifier:
    spec = {**spec, "version": CLASSIFIER_VERSION, "n_classes": n_classes, "widths": list(widths), "epochs": epochs,
            "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed}
    path = cache_dir() / f"{spec['source']}-{spec['factor']}-{cache_key(spec)}.pt"
    hit = _load_cached(path, device)
    if hit is not None:
        net, info = hit
        return FactorClassifier(spec["factor"], n_classes, net, float(info["test_accuracy"]), info, device)
    log(f"training the '{spec['factor']}' classifier for {spec['source']} (one-off, cached in {path.parent})")
    x_train, y_train, x_test, y_test = make_data()
    net, acc = train_classifier(x_train, y_train, x_test, y_test, n_classes, widths=widths, epochs=epochs,
                                batch_size=config.batch_size, lr=config.lr, seed=config.seed, device=device, log=log)
    info = {**spec, "test_accuracy": acc, "n_train_images": int(len(x_train)), "n_test_images": int(len(x_test))}
    _save_cached(path, net, info)
    log(f"  '{spec['factor']}' classifier test accuracy {acc:.4f}")
    return FactorClassifier(spec["factor"], n_classes, net, acc, info, device)


def kind_classifiers(kind, *, config: ClassifierConfig = ClassifierConfig(), device="cpu",
                     log: Callable[[str], None] = lambda s: None) -> list[FactorClassifier]:
    """One classifier per factor of a BasicProp ``kind``, trained on images rendered through the factor API."""
    device = torch.device(device)
    out = []
    cache: dict = {}

    def data():
        if not cache:
            rng = np.random.default_rng([config.seed, 1])
            f_train = kind.sample_factors(config.n_train, rng)
            f_test = kind.sample_factors(config.n_test, rng)
            cache.update(x_train=kind.render(f_train, rng), f_train=f_train,
                         x_test=kind.render(f_test, rng), f_test=f_test)
        return cache

    for j, (name, size) in enumerate(zip(kind.factor_names, kind.factor_sizes)):
        def make(j=j):
            d = data()
            return d["x_train"], d["f_train"][:, j], d["x_test"], d["f_test"][:, j]
        spec = {"source": kind.name, "kind_params": kind.params, "factor": name, "n_train": config.n_train,
                "n_test": config.n_test}
        out.append(_cached_or_train(spec, make, int(size), config.widths, config.epochs, config, device, log))
    return out


def mnist_classifier(*, data_dir=None, config: ClassifierConfig = ClassifierConfig(), device="cpu",
                     log: Callable[[str], None] = lambda s: None) -> FactorClassifier:
    """The MNIST digit CNN, trained on the MNIST training set and tested on the test set (cached)."""
    from basicprop.datasets import load_dataset

    def make():
        train = load_dataset("mnist", split="train", data_dir=data_dir)
        test = load_dataset("mnist", split="test", data_dir=data_dir)
        return train.images, train.labels, test.images, test.labels

    spec = {"source": "mnist", "factor": "digit"}
    return _cached_or_train(spec, make, 10, config.mnist_widths, config.mnist_epochs, config, torch.device(device),
                            log)


# ---------------------------------------------------------------------------------------------- measurer
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
        images = to_uint8(images)
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
                   data_dir=None, device="cpu", log: Callable[[str], None] = lambda s: None) -> Measurer:
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
    if kind_name == "mnist":
        clfs = [mnist_classifier(data_dir=data_dir, config=config, device=device, log=log)]
    else:
        from basicprop import get_kind
        if kind_name is None:
            raise ValueError("the checkpoint's dataset metadata names no kind; cannot train factor classifiers")
        kind = get_kind(kind_name, **(meta.get("kind_params") or {}))
        clfs = kind_classifiers(kind, config=config, device=device, log=log)
    ordinal = ordinal_factors(meta)
    factors = [Measurement(c.factor, "classifier", False, c.predict, c.n_classes, c.test_accuracy,
                           ordinal=ordinal.get(c.factor, False)) for c in clfs]
    checks = []
    for m in discrete_analytic:
        m.name, m.twin_of = f"{m.name}@pixels", m.name
        checks.append(m)
    return Measurer(factors + continuous, checks)


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
