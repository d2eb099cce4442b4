"""The settings of ``python -m eval disentangle`` in one place: :class:`DisentangleConfig` (every default; the CLI
takes its options from it), :class:`ClassifierConfig` (how factor classifiers are trained) and :func:`validate`
(every cross-option check). No heavy imports, so the command line starts fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MEASURE_CHOICES = ("classifier", "analytic")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")      # and cuda:N


@dataclass(frozen=True)
class ClassifierConfig:
    """How factor classifiers are trained (every field enters the cache key)."""
    n_train: int = 20_000          # BasicProp: rendered training images per factor
    n_test: int = 5_000            # BasicProp: rendered test images
    epochs: int = 2                # BasicProp
    widths: tuple[int, int] = (8, 16)   # BasicProp factors are easy: the small net reaches 100 %
    mnist_epochs: int = 5          # 99.17 % test accuracy (the (32, 64) net after 3 epochs: 99.0 %)
    mnist_widths: tuple[int, int] = (16, 32)
    batch_size: int = 128
    lr: float = 2e-3               # peak of a one-cycle schedule (15 % warm-up, cosine decay to ~0)
    seed: int = 0


@dataclass(frozen=True)
class DisentangleConfig:
    """Every setting of :func:`disentangle` and of ``python -m eval disentangle`` (the CLI takes its defaults here)."""
    ckpt: str = ""
    dataset: str | None = None          # encoder direction: override the checkpoint's dataset (name or file)
    data_dir: str | None = None         # MNIST directory (else $BASICPROP_MNIST_DIR)
    n_samples: int = 10_000             # real images for the encoder, generated images for the generator direction
    seed: int = 0
    q_draws: int = 0                    # encoder direction: each categorical code trained through a nuisance or a
                                        # warp (code_invariance, cat_augment) read through this many random views,
                                        # Q's probabilities averaged; 0: the images as drawn
    device: str = "auto"                # auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps
    measure: str = "classifier"         # "analytic": line/rectangles only, no classifier training
    num_bins: int = 20                  # histogram bins for continuous codes and measurements
    sap: bool = True
    dci: bool = True                    # encoder direction only
    dci_max_train: int | None = 2_000   # cap on DCI's training split so that 10,000 samples fit ~30 s on 2 cores
    probes: bool = True                 # encoder direction only
    mlp: bool = True
    traversal_bases: int = 32
    traversal_steps: int = 10           # values of a continuous code in the sweep
    grid_bases: int = 2                 # rows per code in the traversal picture
    grid_columns: int = 10              # at most this many sweep values per row in the picture
    baseline: bool = True               # score the untrained network too (same architecture, seed and samples)
    quality: bool = True                # sample quality in the factor classifiers' features (trains them if needed)
    quality_samples: int = 5_000        # real and generated images for sample quality, at most n_samples of each
    allow_other_factors: bool = False   # score on real data whose factors differ from the training data's
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


def check_device(name: str) -> None:
    kind, colon, index = name.partition(":")
    if kind not in DEVICE_CHOICES or (colon and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"unknown --device {name!r}; choose from {', '.join(DEVICE_CHOICES)} or cuda:N")


def validate(config: DisentangleConfig) -> None:
    """All cross-option checks in one place, with readable messages."""
    if config.n_samples < 100:
        raise ValueError(f"--n-samples must be at least 100, got {config.n_samples}")
    if config.q_draws < 0:
        raise ValueError(f"--q-draws must be 0 or more, got {config.q_draws}")
    if config.measure not in MEASURE_CHOICES:
        raise ValueError(f"unknown --measure {config.measure!r}; choose from {list(MEASURE_CHOICES)}")
    if config.traversal_bases < 1 or config.traversal_steps < 2:
        raise ValueError("traversal needs at least 1 base and 2 steps")
    if not 2 <= config.num_bins <= config.n_samples:
        raise ValueError(f"--num-bins must be between 2 and --n-samples ({config.n_samples}), got {config.num_bins}")
    if config.dci_max_train is not None and config.dci_max_train < 2:
        raise ValueError(f"--dci-max-train must be at least 2, got {config.dci_max_train}")
    if config.quality and config.quality_samples < 10:
        raise ValueError(f"--quality-samples must be at least 10, got {config.quality_samples}")
    if config.grid_bases < 0 or config.grid_columns < 1:
        raise ValueError("the traversal picture needs grid_bases >= 0 and grid_columns >= 1")
    check_device(config.device)
