"""Factor classifiers: one small CNN per discrete factor, trained on real labelled data and cached on disk.

* BasicProp kinds: for every factor of the kind, a CNN trained on ``ClassifierConfig.n_train`` images rendered
  through the factor API (``kind.sample_factors`` + ``kind.render`` with the checkpoint's kind parameters, so the
  same noise), tested on ``n_test`` freshly rendered ones.
* MNIST: one CNN for the digit, trained on the MNIST training set and tested on the MNIST test set.

The net is :class:`SmallCNN` (two 3×3 conv + max-pool stages, FC 128), trained with Adam and a one-cycle
learning rate (peak 2e-3): widths (8, 16), 2 epochs on 20,000 rendered images for a BasicProp factor (100 % test
accuracy on line and rectangles); widths (16, 32), 5 epochs for the MNIST digit (99.17 % test accuracy).

Trained classifiers are cached with their test accuracy in ``basicprop.files.cache_dir("eval", "classifiers")``
(``$BASICPROP_CACHE/eval/classifiers``, default ``~/.cache/basicprop``); the file name carries a hash of
everything that determines the weights (kind, kind parameters, factor, training settings), so a changed setting
trains a new one. Cache files are written atomically with the umask's permissions. Nothing is downloaded.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from basicprop import files
from basicprop.generate import FORMAT_VERSION
from basicprop.images import to_uint8
from eval.config import ClassifierConfig

CLASSIFIER_VERSION = 2
CACHE_LOCK_WAIT_S = 60.0   # how long a second process waits for the cache folder while another one writes to it


def _silent(message: str) -> None:
    pass


class SmallCNN(nn.Module):
    """conv(w1, 3×3)-ReLU-pool, conv(w2, 3×3)-ReLU-pool, FC hidden-ReLU, FC classes; input (n, 1, 28, 28), [0, 1].

    Build it with :func:`new_net` (weights drawn from a given generator) or load weights into
    ``torch.nn.utils.skip_init(SmallCNN, ...)``: neither touches torch's global RNG."""

    def __init__(self, n_classes: int, widths: tuple[int, int] = (16, 32), hidden: int = 128, device=None):
        super().__init__()
        w1, w2 = widths
        self.conv1 = nn.Conv2d(1, w1, 3, padding=1, device=device)
        self.conv2 = nn.Conv2d(w1, w2, 3, padding=1, device=device)
        self.fc1 = nn.Linear(w2 * 7 * 7, hidden, device=device)
        self.fc2 = nn.Linear(hidden, n_classes, device=device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: (n, hidden) activations after the ReLU, which the last layer reads."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


@torch.no_grad()
def new_net(n_classes: int, widths, generator: torch.Generator) -> SmallCNN:
    """A :class:`SmallCNN` with torch's default initialisation of every layer (Kaiming-uniform weights, uniform
    biases), drawn from ``generator`` in layer order: the weights ``torch.manual_seed(s)`` then ``SmallCNN(...)``
    would give, without touching the global RNG."""
    net = nn.utils.skip_init(SmallCNN, n_classes, tuple(widths))
    for layer in net.children():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        fan_in = layer.weight[0].numel()
        nn.init.uniform_(layer.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
    return net


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

    @torch.no_grad()
    def features(self, images) -> np.ndarray:
        """(n, 28, 28) uint8 -> (n, hidden) float32: the net's penultimate-layer activations."""
        x = images_to_tensor(to_uint8(images))
        out = [self.net.features(x[i:i + self.batch_size].to(self.device)).cpu()
               for i in range(0, len(x), self.batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.net.fc1.out_features), np.float32)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, 28, 28) uint8 -> (n, 1, 28, 28) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float().div_(255.0)


def cache_folder() -> Path:
    return files.cache_dir("eval", "classifiers")


def cache_key(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def train_classifier(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     n_classes: int, *, widths, epochs: int, batch_size: int, lr: float, seed: int,
                     device: torch.device, log: Callable[[str], None] = _silent) -> tuple[SmallCNN, float]:
    """Adam on cross-entropy with a one-cycle learning rate; returns (net in eval mode, test accuracy).

    Seeded; randomness comes from one local generator (initial weights, then batch order)."""
    g = torch.Generator().manual_seed(seed)
    net = new_net(n_classes, widths, torch.Generator().manual_seed(seed)).to(device)
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
        net = nn.utils.skip_init(SmallCNN, int(info["n_classes"]), tuple(info["widths"]))
        net.load_state_dict(state["weights"])
    except Exception:  # a corrupted or stale cache entry: retrain and overwrite
        return None
    return net.to(device).eval(), info


def _wait_for_lock(stack: contextlib.ExitStack, folder: Path) -> None:
    """Take ``folder``'s lock, waiting while another process writes a classifier there."""
    deadline = time.monotonic() + CACHE_LOCK_WAIT_S
    while True:
        try:
            stack.enter_context(files.folder_lock(folder, "classifier cache"))
            return
        except files.FolderLocked as exc:
            if time.monotonic() > deadline:
                raise ValueError(f"{exc}; try again when it has finished") from None
            time.sleep(0.1)


def save_cached(path: Path, net: SmallCNN, info: dict) -> None:
    """Write the weights (``.pt``) and a readable copy of ``info`` (``.json``) atomically, under the folder's lock;
    temp files left by a killed process are removed first."""
    with contextlib.ExitStack() as stack:
        _wait_for_lock(stack, path.parent)
        files.remove_temps(path.parent)
        with files.atomic_path(path) as tmp:
            torch.save({"weights": {k: v.cpu() for k, v in net.state_dict().items()}, "info": json.dumps(info)}, tmp)
        files.write_json(path.with_suffix(".json"), info)


def _cached_or_train(spec: dict, make_data: Callable, n_classes: int, widths, epochs: int,
                     config: ClassifierConfig, device: torch.device, log) -> FactorClassifier:
    spec = {**spec, "version": CLASSIFIER_VERSION, "n_classes": n_classes, "widths": list(widths), "epochs": epochs,
            "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed}
    path = cache_folder() / f"{spec['source']}-{spec['factor']}-{cache_key(spec)}.pt"
    hit = _load_cached(path, device)
    if hit is not None:
        net, info = hit
        return FactorClassifier(spec["factor"], n_classes, net, float(info["test_accuracy"]), info, device)
    log(f"training the '{spec['factor']}' classifier for {spec['source']} (one-off, cached in {path.parent})")
    x_train, y_train, x_test, y_test = make_data()
    net, acc = train_classifier(x_train, y_train, x_test, y_test, n_classes, widths=widths, epochs=epochs,
                                batch_size=config.batch_size, lr=config.lr, seed=config.seed, device=device, log=log)
    info = {**spec, "test_accuracy": acc, "n_train_images": int(len(x_train)), "n_test_images": int(len(x_test))}
    save_cached(path, net, info)
    log(f"  '{spec['factor']}' classifier test accuracy {acc:.4f}")
    return FactorClassifier(spec["factor"], n_classes, net, acc, info, device)


def kind_classifiers(kind, *, config: ClassifierConfig = ClassifierConfig(), device="cpu",
                     log: Callable[[str], None] = _silent) -> list[FactorClassifier]:
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
                "n_test": config.n_test, "format_version": FORMAT_VERSION}   # the rendered bytes it trains on
        out.append(_cached_or_train(spec, make, int(size), config.widths, config.epochs, config, device, log))
    return out


def mnist_classifier(*, data_dir=None, config: ClassifierConfig = ClassifierConfig(), device="cpu",
                     log: Callable[[str], None] = _silent) -> FactorClassifier:
    """The MNIST digit CNN, trained on the MNIST training set and tested on the test set (cached)."""
    from basicprop.datasets import load_dataset

    def make():
        train = load_dataset("mnist", split="train", data_dir=data_dir)
        test = load_dataset("mnist", split="test", data_dir=data_dir)
        return train.images, train.labels, test.images, test.labels

    spec = {"source": "mnist", "factor": "digit"}
    return _cached_or_train(spec, make, 10, config.mnist_widths, config.mnist_epochs, config, torch.device(device),
                            log)
