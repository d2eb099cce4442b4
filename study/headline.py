"""The numbers a study table shows, per factor, read from a flat ``disentangle`` report.

    headline(report) -> {"position": {"enc_acc": 1.0, "gen_acc": 0.99, "enc_mig": 0.69, "gen_mig": 0.98}, ...,
                         "_": {"label_fidelity": ..., "fd": 12.3, "precision": 0.91, "recall": 0.88}}

``enc_acc`` / ``gen_acc``: the best one-to-one (Hungarian) accuracy of any categorical code for the factor, in the
encoder direction (Q on real images) and the generator direction (sampled codes vs factors measured on generated
images); ``enc_mig`` / ``gen_mig``: the factor's MIG term. Missing numbers (a factor measured in one direction only,
a continuous measurement that has no accuracy) are left out, never invented. ``gen_rho``: C-InfoGAN's best
|Spearman rho| of any continuous code with the factor measured on generated images (``cinfogan.rho.<code>.<factor>``,
e.g. MNIST slant and width: do the codes mean rotation and width?). ``fd`` / ``precision`` / ``recall``:
sample quality of the generated images (:mod:`eval.sample_quality`, in the factor classifiers' features), entries
of :data:`GLOBAL`.
"""
from __future__ import annotations

import math

from eval.clustering import CLUSTER_ACCURACY
from eval.keys import QUALITY
from eval.mig import MIG_PER_FACTOR
from eval.sample_quality import FD, PRECISION, RECALL
from eval.score import FACTOR_NAMES

GLOBAL = "_"        # entries that belong to no factor
QUALITY_METRICS = (FD, PRECISION, RECALL)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _direction(report: dict, prefix: str, name: str, out: dict) -> None:
    factors = report.get(f"{prefix}.{FACTOR_NAMES}") or []
    acc = report.get(f"{prefix}.{CLUSTER_ACCURACY}") or []
    mig = report.get(f"{prefix}.{MIG_PER_FACTOR}") or []
    for j, factor in enumerate(factors):
        column = [row[j] for row in acc if j < len(row) and _finite(row[j])]
        if column:
            out.setdefault(factor, {})[f"{name}_acc"] = max(column)
        if j < len(mig) and _finite(mig[j]):
            out.setdefault(factor, {})[f"{name}_mig"] = mig[j]


RHO_PREFIX = "cinfogan.rho."


def rho_metrics(flat: dict) -> dict:
    """{factor: {"gen_rho": max over continuous codes of |rho|}} from a flat report (or a summary's ``scores``)."""
    out: dict = {}
    for key, value in flat.items():
        if key.startswith(RHO_PREFIX) and _finite(value):
            factor = key[len(RHO_PREFIX):].split(".", 1)[1]
            best = out.setdefault(factor, {})
            best["gen_rho"] = max(best.get("gen_rho", 0.0), abs(value))
    return out


def headline(report: dict) -> dict:
    """{factor: {metric: value}} (metrics: enc_acc, gen_acc, enc_mig, gen_mig) plus {"_": {"label_fidelity", "fd",
    "precision", "recall"}} (each where the report has it); gen_rho beside them for C-InfoGAN."""
    out: dict = {}
    _direction(report, "enc", "enc", out)
    _direction(report, "gen", "gen", out)
    for factor, values in rho_metrics(report).items():
        out.setdefault(factor, {}).update(values)
    fidelity = report.get("cinfogan.label_fidelity")
    if _finite(fidelity):
        out.setdefault(GLOBAL, {})["label_fidelity"] = fidelity
    for metric in QUALITY_METRICS:
        if _finite(report.get(QUALITY + metric)):
            out.setdefault(GLOBAL, {})[metric] = report[QUALITY + metric]
    return out
