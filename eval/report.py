"""Reports: a readable table, a flat JSON file (every number, the settings, the versions) and pictures.

JSON is flat: one level of keys such as ``"enc.mig"`` or ``"setting.n_samples"``; matrices are lists of rows
with their row/column names under neighbouring keys. NaN (undefined, e.g. DCI disentanglement with one
factor) is written as ``null``.
"""
from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from eval import clustering as _cl
from eval import dci as _dci
from eval import mig as _mig
from eval import mutual_info as _mi
from eval import probes as _pr
from eval import sap as _sap
from eval import score as _score


def jsonable(obj):
    """numpy scalars/arrays -> Python; NaN/inf -> None; dict keys -> str."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("basicprop", "numpy", "scipy", "scikit-learn", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def flatten(prefix: str, result: Mapping) -> dict:
    return {f"{prefix}{k}": v for k, v in result.items()}


def write_json(path: str | os.PathLike, report: Mapping) -> Path:
    """Write atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(jsonable(report), fh, indent=1, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _f(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def grid_text(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(result: Mapping, title: str = "") -> str:
    """A human table of a :func:`eval.score.score` result: one row per code, one per factor, a summary."""
    codes, factors = result[_score.CODE_NAMES], result[_score.FACTOR_NAMES]
    mi, norm = result[_mi.MI_NATS], result[_mi.MI_NORMALIZED]
    best, acc = result[_score.BEST_FACTOR], result[_score.BEST_ACCURACY]
    nmi_rows = {i: r for r, i in enumerate(result.get(_cl.CLUSTER_CODES, []))}
    out = [title] if title else []
    rows = [["code", "type", "best factor", "MI nats", "MI/H", "accuracy", "NMI"]]
    for i, name in enumerate(codes):
        j = best[i]
        nmi = result[_cl.CLUSTER_NMI][nmi_rows[i]][j] if i in nmi_rows else None
        rows.append([name, "discrete" if result[_score.CODE_DISCRETE][i] else "continuous", factors[j],
                     _f(mi[i][j]), _f(norm[i][j]), _f(acc[i]), _f(nmi)])
    out.append(grid_text(rows))
    out.append("")
    rows = [["factor", "H nats", "best code", "MIG", "SAP", "probe lin", "probe mlp", "chance"]]
    for j, name in enumerate(factors):
        def per(key):
            return result[key][j] if key in result else None
        rows.append([name, _f(result[_mi.FACTOR_ENTROPY][j]), codes[result[_mig.MIG_BEST_CODE][j]],
                     _f(per(_mig.MIG_PER_FACTOR)), _f(per(_sap.SAP_PER_FACTOR)), _f(per(_pr.PROBE_LINEAR)),
                     _f(per(_pr.PROBE_MLP)), _f(per(_pr.PROBE_CHANCE))])
    out.append(grid_text(rows))
    summary = [f"MIG {_f(result[_mig.MIG])}"]
    if _sap.SAP in result:
        summary.append(f"SAP {_f(result[_sap.SAP])}")
    if _dci.DISENTANGLEMENT in result:
        summary.append(f"DCI D {_f(result[_dci.DISENTANGLEMENT])} C {_f(result[_dci.COMPLETENESS])} "
                       f"I(test acc) {_f(result[_dci.INFORMATIVENESS_TEST])} [{result[_dci.DCI_NUM_TRAIN]} train]")
    out.append("")
    out.append(f"{'  '.join(summary)}   (N = {result[_score.N_SAMPLES]})")
    return "\n".join(out)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def plot_mi_heatmap(mi_normalized, code_names: Sequence[str], factor_names: Sequence[str],
                    path: str | os.PathLike, title: str = "") -> Path:
    """PNG heatmap of the code × factor MI normalised by factor entropy, values written in the cells."""
    plt = _pyplot()
    m = np.asarray(mi_normalized, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 1.0 * len(factor_names), 1.0 + 0.5 * len(code_names)), dpi=100)
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(factor_names)), factor_names, rotation=30, ha="right")
    ax.set_yticks(range(len(code_names)), code_names)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="white" if m[i, j] < 0.6 else "black",
                    fontsize=8)
    fig.colorbar(im, ax=ax, label="I(code; factor) / H(factor)")
    ax.set_title(title or "mutual information", fontsize=9)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_traversal(images: np.ndarray, row_labels: Sequence[str], annotations: Sequence[Sequence[str]],
                   path: str | os.PathLike, title: str = "") -> Path:
    """``images (R, S, 28, 28)`` in [0, 1] -> PNG grid, each image captioned with its measured factor values."""
    plt = _pyplot()
    r, s = images.shape[:2]
    fig, axes = plt.subplots(r, s, figsize=(1.05 * s + 0.8, 1.2 * r + 0.4), dpi=100, squeeze=False)
    for a in range(r):
        for b in range(s):
            ax = axes[a, b]
            ax.imshow(images[a, b], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(annotations[a][b], fontsize=6, labelpad=1)
            if b == 0:
                ax.set_ylabel(row_labels[a], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
