"""Encoder direction: Q reads real images with known factors; its codes are scored against those factors.

Real images: the test split of the checkpoint's dataset (or ``DisentangleConfig.dataset``), ``n_samples`` of them
at most. Codes ``cat0..`` (argmax of Q's logits) and ``cont0..`` (Q's means) against the ground-truth factors:
every metric of :func:`eval.score.score`, plus the Spearman correlation of continuous codes with ordered factors.
For MNIST the digit is the known factor and slant and width, measured on the real images from moments, join as
binned continuous factors (MI, MIG, Spearman only). For C-InfoGAN the condition factor is an input of G, not a
code, and is left out (when the dataset has other factors).

With ``q_draws`` N > 0, a categorical code that Q was trained to read through a nuisance (``code_invariance``) or a
random warp (``cat_augment``) is read the same way: its probabilities are averaged over N random views of each image
(:func:`read_q`).
"""
from __future__ import annotations

import numpy as np
import torch

from eval.codes import add_spearman, q_codes
from eval.discretize import histogram_discretize
from eval.keys import DATASET, ENCODER, EXCLUDED_FACTOR
from eval.measure import ordinal_factors, slant_width
from eval.score import ScoreConfig, score


def load_real(model, dataset: str | None, data_dir: str | None, n_samples: int, rng: np.random.Generator):
    """The real images: the test split of the checkpoint's dataset (or ``dataset``) -> (dataset, images, factors),
    ``images (n, 28, 28)`` uint8 and ``factors (n, K)`` int, ``n = min(n_samples, len(dataset))``."""
    from basicprop.datasets import load_dataset
    meta = model.dataset_meta
    name = dataset or meta.get("dataset")
    if not name:
        raise ValueError("the checkpoint names no dataset; pass --dataset")
    kwargs = {}
    if dataset is None and str(name).startswith("basicprop-") and meta.get("kind_params") is not None:
        kwargs = {"kind_params": meta["kind_params"], "seed": int(meta.get("seed") or 0)}
    ds = load_dataset(name, split="test", data_dir=data_dir, **kwargs)
    n = min(n_samples, len(ds))
    idx = np.sort(rng.permutation(len(ds))[:n])
    return ds, ds.images[idx], ds.factors[idx]


def reference_scales(raw: np.ndarray, names, binned) -> dict[str, float]:
    """10th-to-90th percentile spread on the real images of each continuous measurement (e.g. MNIST slant)."""
    return {name: float(np.subtract(*np.percentile(raw[:, j], [90, 10])))
            for j, name in enumerate(names) if binned[j]}


def check_factors(model, ds, allow_other: bool = False) -> None:
    """Refuse real images whose factors (names and sizes) differ from those of the checkpoint's training data:
    its codes would be scored against factors it never saw. ``allow_other`` lets it through."""
    meta = model.dataset_meta
    trained = (list(meta.get("factor_names") or []), [int(s) for s in meta.get("factor_sizes") or []])
    scored = (list(ds.factor_names), [int(s) for s in ds.factor_sizes])
    if allow_other or not trained[0] or trained == scored:
        return
    def text(names, sizes):
        return ", ".join(f"{n} ({s})" for n, s in zip(names, sizes))
    raise ValueError(f"{ds.name} has factors {text(*scored)} but the checkpoint was trained on "
                     f"{meta.get('dataset')} with factors {text(*trained)}; pass --allow-other-factors to score "
                     "it anyway")


def read_q(model, images, q_draws: int = 0, seed: int = 0):
    """Q's outputs on ``images``; with ``q_draws`` N > 0 each categorical code is read the way Q was trained to read
    it: through N random views (drawn from ``seed``), its logits replaced by the log of the mean probabilities. The
    views: the code's nuisance of the checkpoint's ``code_invariance`` (a code marked "none" is read as drawn), or
    with ``cat_augment`` the random warp Q read every categorical code through. Without N, or a checkpoint trained
    with neither: ``model.encode``."""
    from gan_models.augment import NO_INVARIANCE, invariance_view, random_affine
    from gan_models.checkpoint import to_float_images

    q = model.encode(images)
    config = getattr(model, "config", None) or {}
    nuisances = list(config.get("code_invariance") or ())
    warp = float(config.get("cat_augment") or 0.0)
    if not q_draws or not (nuisances or warp > 0):
        return q
    x = to_float_images(images, model.device)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    cat = list(q.cat_logits)
    if warp > 0:                # one warp per draw feeds every code, as in training
        draws = [model.encode(random_affine(x, warp, generator)).cat_logits for _ in range(q_draws)]
        cat = [_mean_probabilities([d[i] for d in draws]) for i in range(len(cat))]
    for i, name in enumerate(nuisances):
        if name != NO_INVARIANCE:
            cat[i] = _mean_probabilities([model.encode(invariance_view(x, name, generator)).cat_logits[i]
                                          for _ in range(q_draws)])
    return q._replace(cat_logits=cat)


def _mean_probabilities(logits: list) -> torch.Tensor:
    """The log of the mean softmax of several readings of one code."""
    return (sum(z.softmax(1) for z in logits) / len(logits)).log()


def encoder_direction(model, real, *, num_bins: int, score_config: ScoreConfig,
                      rng: np.random.Generator, q_draws: int = 0, seed: int = 0) -> tuple[dict, dict[str, float]]:
    """Score Q on the real images ``real = (dataset, images, factors)`` of :func:`load_real` -> (report entries
    ``enc.*``, :func:`reference_scales` for the traversal test). ``q_draws``, ``seed``: see :func:`read_q`."""
    spec, meta = model.spec, model.dataset_meta
    ds, images, factors = real
    codes, code_names, discrete = q_codes(read_q(model, images, q_draws, seed), spec)
    names = list(ds.factor_names)
    entries: dict = {}
    cond = meta.get("condition_factor") if spec.cond else None
    if cond in names and len(names) > 1:  # C-InfoGAN: y is given to G, not coded; score the rest
        keep = [j for j, n in enumerate(names) if n != cond]
        factors, names = factors[:, keep], [names[j] for j in keep]
        entries[ENCODER + EXCLUDED_FACTOR] = cond
    binned, raw = [False] * factors.shape[1], factors.astype(np.float64)
    ds_ordinal = ordinal_factors(ds.meta) if ds.meta.get("kind") else {}
    ordinal = [ds_ordinal.get(n, False) for n in names]
    if ds.meta.get("kind") == "mnist":
        sw = slant_width(images)
        raw = np.concatenate([raw, sw], axis=1)
        factors = np.concatenate([factors, np.stack([histogram_discretize(sw[:, j], num_bins) for j in range(2)],
                                                    axis=1)], axis=1)
        names += ["slant", "width"]
        binned += [True, True]
        ordinal += [True, True]
    result = score(codes, factors, rng=rng, discrete=discrete, config=score_config, code_names=code_names,
                   factor_names=names, binned=binned)
    add_spearman(result, codes, discrete, raw, ordinal)
    entries[ENCODER + DATASET] = ds.name
    entries.update({ENCODER + k: v for k, v in result.items()})
    return entries, reference_scales(raw, names, binned)
