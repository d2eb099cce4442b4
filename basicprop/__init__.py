"""BasicProp: 28x28 synthetic images whose every pixel comes from known, discrete generating factors.

    from basicprop import get_kind, make_dataset
    kind = get_kind("rectangles", bg_noise=(0, 60))
    images = kind.render(kind.sample_factors(16, rng), rng)
    make_dataset("rectangles", "rect.h5", n_train=60000, n_test=10000, seed=0)

See :mod:`basicprop.kinds` for the kinds and their factors, :mod:`basicprop.datasets` for ``load_dataset``,
:mod:`basicprop.torchdata` for a torch ``Dataset`` and :mod:`basicprop.ground_truth` for disentanglement_lib's
ground-truth interface.
"""
from __future__ import annotations

__version__ = "0.1.0"

from basicprop.kinds import KIND_NAMES, KINDS, Kind, get_kind  # noqa: E402
from basicprop.generate import make_dataset, render_dataset  # noqa: E402
from basicprop.preview import write_preview  # noqa: E402
from basicprop.summary import summarize  # noqa: E402
from basicprop.ground_truth import GroundTruthData  # noqa: E402

__all__ = ["GroundTruthData", "KINDS", "KIND_NAMES", "Kind", "__version__", "get_kind", "make_dataset",
           "render_dataset", "summarize", "write_preview"]
