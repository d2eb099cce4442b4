"""Traversal test: sweep one code alone over base latents and measure how every factor moves.

For ``bases`` base latents, each code is swept alone (every value of a categorical code, ``steps`` values of a
continuous one on [-1, 1], the label of C-InfoGAN) and every image is measured. ``TRAVERSAL_CHANGE[code][factor]``
is, for a discrete measured factor, the fraction of adjacent sweep steps at which it changes (averaged over bases)
and, for a continuous one (slant, width), the absolute mean over bases of the Spearman correlation between sweep
position and the measurement, times the sweep's mean range relative to the measurement's 10th-90th percentile
spread on real images (capped at 1): both 0 when the factor does not move, 1 when it follows the code at every
step. One code should move one factor: ``TRAVERSAL_GAP`` is, per code, the largest minus the second-largest entry
of its row. The first bases' sweeps are also returned as a captioned picture (:class:`TraversalGrid`).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from basicprop.images import to_uint8
from eval.keys import (TRAVERSAL, TRAVERSAL_BEST_FACTOR, TRAVERSAL_CHANGE, TRAVERSAL_CODES, TRAVERSAL_FACTORS,
                       TRAVERSAL_GAP, TRAVERSAL_MEAN_GAP)
from eval.measure import Measurer


class TraversalGrid(NamedTuple):
    """The picture of the sweeps: ``images (R, S, 28, 28)`` float in [0, 1] (blank where a row is shorter); one
    label per row, ``"<code> (base b)"``; per image the swept code's value (``col_values``: ``"cat0=3"``,
    ``"cont0=-0.33"``; ``""`` where blank) and the measured factors (``captions``: ``"lh=9 rh=9"``); ``legend``
    spells out the captions' short names (``"lh = left_height, rh = right_height"``; ``""`` when none is short)."""
    images: np.ndarray
    row_labels: list[str]
    captions: list[list[str]]
    col_values: list[list[str]]
    legend: str


def sweep_values(spec, part: str, index: int, steps: int) -> torch.Tensor:
    if part == "y":
        return torch.arange(spec.cond)
    if part == "cat":
        return torch.arange(spec.cat[index])
    return torch.linspace(-1.0, 1.0, steps)


def sweep_latent(base, part: str, index: int, values: torch.Tensor):
    """Each of the B base latents repeated for every sweep value (base-major), the swept code set."""
    s = len(values)
    rep = lambda t: None if t is None else t.repeat_interleave(s, dim=0)  # noqa: E731
    lat = base._replace(z=rep(base.z), cat=rep(base.cat), cont=rep(base.cont), y=rep(base.y))
    tiled = values.to(base.z.device).repeat(len(base.z))
    if part == "y":
        return lat._replace(y=tiled.long())
    if part == "cat":
        cat = lat.cat.clone()
        cat[:, index] = tiled.long()
        return lat._replace(cat=cat)
    cont = lat.cont.clone()
    cont[:, index] = tiled.to(cont.dtype)
    return lat._replace(cont=cont)


def sweep_spearman(values: np.ndarray) -> float:
    """values (B, S) measured along sweeps -> the Spearman ρ of value and step, averaged over the B sweeps (a
    sweep whose value never moves counts 0): ±1 when the value follows the code monotonically in every sweep."""
    steps = np.arange(values.shape[1])
    return float(np.mean([spearmanr(steps, row).statistic if np.ptp(row) > 0 else 0.0 for row in values]))


def change_rate(values: np.ndarray, continuous: bool, scale: float | None = None) -> float:
    """values (B, S) measured along sweeps -> 0 (never moves) .. 1 (moves at every step / monotone and large).

    Discrete: fraction of adjacent steps at which the value changes. Continuous: |mean over bases of the
    Spearman correlation of value and step|, times min(1, mean range along the sweep / ``scale``) when a
    reference ``scale`` (spread of the measurement on real images) is given, so a consistent but invisible
    drift does not count as moving the factor.
    """
    if not continuous:
        return float(np.mean(values[:, 1:] != values[:, :-1]))
    effect = abs(sweep_spearman(values))
    if scale is not None and scale > 0:
        effect *= min(1.0, float(np.mean(np.ptp(values, axis=1))) / scale)
    return effect


def _short_names(names: Sequence[str]) -> list[str]:
    short = ["".join(w[0] for w in n.split("_") if w) or n for n in names]
    return short if len(set(short)) == len(short) else list(names)


def sweep_labels(name: str, part: str, values) -> list[str]:
    """The text of each sweep value: ``"cat0=3"`` (categorical code, label ``y``), ``"cont0=-0.33"`` (continuous)."""
    if part == "cont":
        return [f"{name}={round(float(v), 2) + 0.0:.2f}" for v in values]     # + 0.0: never "-0.00"
    return [f"{name}={int(v)}" for v in values]


def legend(names: Sequence[str]) -> str:
    """What the captions' short names stand for: ``"lh = left_height, rh = right_height"``."""
    return ", ".join(f"{s} = {n}" for s, n in zip(_short_names(names), names) if s != n)


def _caption(values: dict[str, np.ndarray], measurer: Measurer, idx: int) -> str:
    parts = []
    for n, s, m in zip(measurer.names, _short_names(measurer.names), measurer.factors):
        v = values[n][idx]
        parts.append(f"{s}={round(float(v), 2) + 0.0:.2f}" if m.continuous else f"{s}={int(v)}")
    return " ".join(parts)


def summarize(change: np.ndarray, codes: list[str], factors: list[str]) -> dict:
    """(C, K) change matrix -> the report entries ``trav.*``."""
    ordered = np.sort(change, axis=1)[:, ::-1]
    gap = ordered[:, 0] - (ordered[:, 1] if change.shape[1] > 1 else 0.0)
    result = {TRAVERSAL_CODES: codes, TRAVERSAL_FACTORS: factors, TRAVERSAL_CHANGE: change.tolist(),
              TRAVERSAL_GAP: gap.tolist(), TRAVERSAL_BEST_FACTOR: np.argmax(change, axis=1).astype(int).tolist(),
              TRAVERSAL_MEAN_GAP: float(gap.mean()) if gap.size else float("nan")}
    return {TRAVERSAL + k: v for k, v in result.items()}


def _padded(rows: list[np.ndarray], *texts: list[list[str]]) -> tuple[np.ndarray, ...]:
    width = max(len(r) for r in rows) if rows else 0
    grid = np.zeros((len(rows), width, 28, 28), np.float32)
    for r, row in enumerate(rows):
        grid[r, :len(row)] = row
    return (grid, *([c + [""] * (width - len(c)) for c in t] for t in texts))


def traversal(model, measurer: Measurer, layout, *, bases: int, steps: int, grid_bases: int, grid_columns: int,
              generator: torch.Generator, scales: dict[str, float] | None = None) -> tuple[dict, TraversalGrid]:
    """Sweep each code of ``layout`` alone over ``bases`` base latents -> (report entries ``trav.*``, picture).

    ``scales``: reference spread of each continuous measurement (see :func:`change_rate`); the picture shows the
    first ``grid_bases`` bases, at most ``grid_columns`` sweep values each."""
    scales = scales or {}
    base = model.sample_latent(bases, generator)
    change = np.zeros((len(layout), len(measurer.names)))
    rows, labels, captions, col_values = [], [], [], []
    for c, (name, part, index) in enumerate(layout):
        values = sweep_values(model.spec, part, index, steps)
        s = len(values)
        images = to_uint8(model.generate(sweep_latent(base, part, index, values)))
        measured = measurer.measure(images, which="factors")
        for f, (fname, m) in enumerate(zip(measurer.names, measurer.factors)):
            change[c, f] = change_rate(np.asarray(measured[fname]).reshape(bases, s), m.continuous,
                                       scales.get(fname))
        cols = np.unique(np.linspace(0, s - 1, min(s, grid_columns)).round().astype(int))
        swept = sweep_labels(name, part, values[cols].tolist())
        for b in range(min(grid_bases, bases)):
            idx = b * s + cols
            rows.append(images[idx].astype(np.float32) / 255.0)
            labels.append(f"{name} (base {b})")
            captions.append([_caption(measured, measurer, i) for i in idx])
            col_values.append(swept)
    grid, captions, col_values = _padded(rows, captions, col_values)
    picture = TraversalGrid(grid, labels, captions, col_values, legend(measurer.names))
    return summarize(change, [n for n, _, _ in layout], measurer.names), picture
