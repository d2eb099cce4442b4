"""Reports: readable tables, a flat JSON file (every number, the settings, the versions) and pictures.

JSON is flat: one level of keys such as ``"enc.mig"`` or ``"setting.n_samples"``; matrices are lists of rows
with their row/column names under neighbouring keys. NaN (undefined, e.g. DCI disentanglement with one
factor) is written as ``null``. Every file is written atomically through :mod:`basicprop.files`.

:func:`format_table` is the table of one :func:`eval.score.score` result; :func:`format_report` and
:func:`write_report` print and write a whole :func:`eval.disentangle.disentangle` report.
"""
from __future__ import annotations

import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from basicprop import files
from eval import clustering as _cl
from eval import dci as _dci
from eval import mig as _mig
from eval import mutual_info as _mi
from eval import probes as _pr
from eval import sap as _sap
from eval import score as _score
from eval import sample_quality as _sq
from eval.keys import (CINFOGAN, ENCODER, GENERATOR, LABEL_FIDELITY, QUALITY, SPEARMAN, SPEARMAN_CODES,
                       SPEARMAN_FACTORS, TRAVERSAL, TRAVERSAL_BEST_FACTOR, TRAVERSAL_CHANGE, TRAVERSAL_CODES,
                       TRAVERSAL_FACTORS, TRAVERSAL_GAP, TRAVERSAL_GRID, TRAVERSAL_MEAN_GAP, UNTRAINED)

NOT_IN_JSON = (TRAVERSAL_GRID,)   # report entries that are pictures, not numbers


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
    """Write a flat report as JSON, atomically, leaving out the pictures (:data:`NOT_IN_JSON`)."""
    return files.write_json(path, files.jsonable({k: v for k, v in report.items() if k not in NOT_IN_JSON}))


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


def _figure(**kwargs):
    """A matplotlib Figure outside pyplot: no global backend or figure list is touched, nothing to close."""
    from matplotlib.figure import Figure
    return Figure(**kwargs)


def plot_mi_heatmap(mi_normalized, code_names: Sequence[str], factor_names: Sequence[str],
                    path: str | os.PathLike, title: str = "") -> Path:
    """PNG heatmap of the code × factor MI normalised by factor entropy, values written in the cells."""
    m = np.asarray(mi_normalized, dtype=float)
    fig = _figure(figsize=(1.2 + 1.0 * len(factor_names), 1.0 + 0.5 * len(code_names)), dpi=100)
    ax = fig.subplots()
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
    return _save(fig, path)


TRAVERSAL_TITLE = ("each row sweeps one code from one base latent\n"
                   "above an image: the swept code's value; below it: the measured factors")
_CHAR_IN = 0.055                     # width of a 6-pt character, inches (generous: digits and lower case)


def traversal_figure(grid, title: str = TRAVERSAL_TITLE):
    """The figure of a :class:`eval.traversal.TraversalGrid`: one image per sweep value, the swept value above it,
    the measured factors below it, ``"<code> (base b)"`` left of each row, the title and the legend of the short
    names on top. Cells widen with the longest text and the figure with the columns and the title: nothing is
    clipped and no two texts overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    r, s = grid.images.shape[:2]
    texts = [t for rows in (grid.captions, grid.col_values) for row in rows for t in row]
    cell = max(1.0, _CHAR_IN * max(map(len, texts), default=0) + 0.15)
    heading = "\n".join(t for t in (title, grid.legend and f"factors: {grid.legend}") if t)
    fig = _figure(figsize=(cell * max(s, 1) + 1.3, 1.4 * max(r, 1) + 0.3 + 0.15 * heading.count("\n")), dpi=100)
    FigureCanvasAgg(fig)
    if r == 0 or s == 0:
        fig.text(0.5, 0.5, "no sweep drawn", ha="center", va="center", fontsize=8)
    axes = fig.subplots(r, s, squeeze=False) if r and s else np.empty((0, 0))
    for a in range(axes.shape[0]):
        for b in range(axes.shape[1]):
            ax = axes[a, b]
            ax.set_xticks([])
            ax.set_yticks([])
            if b == 0:
                ax.set_ylabel(grid.row_labels[a], fontsize=7)
            if not grid.col_values[a][b]:               # a shorter row's blank cell
                ax.set_frame_on(False)
                continue
            ax.imshow(grid.images[a, b], cmap="gray", vmin=0, vmax=1)
            ax.set_title(grid.col_values[a][b], fontsize=6, pad=2)
            ax.set_xlabel(grid.captions[a][b], fontsize=6, labelpad=1)
    if heading:
        sup = fig.suptitle(heading, fontsize=8)
        need = sup.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi + 0.3
        if need > fig.get_figwidth():
            fig.set_figwidth(need)
    fig.tight_layout()
    return fig


def plot_traversal(grid, path: str | os.PathLike, title: str = TRAVERSAL_TITLE) -> Path:
    """PNG of :func:`traversal_figure`; the same grid gives the same bytes."""
    return _save(traversal_figure(grid, title), path)


def _save(fig, path) -> Path:
    path = Path(path)
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_report(report: Mapping, out_dir: str | os.PathLike, *, json_path: str | os.PathLike | None = None,
                 plots: bool = True) -> list[Path]:
    """Write a :func:`eval.disentangle.disentangle` report: ``mi_encoder.png``, ``mi_generator.png`` and
    ``traversal.png`` in ``out_dir`` (``plots``), then the JSON (default ``out_dir/report.json``); returns the paths."""
    out_dir = Path(out_dir)
    written = []
    if plots:
        enc, gen = unflatten(report, ENCODER), unflatten(report, GENERATOR)
        written.append(plot_mi_heatmap(enc[_mi.MI_NORMALIZED], enc[_score.CODE_NAMES], enc[_score.FACTOR_NAMES],
                                       out_dir / "mi_encoder.png",
                                       f"encoder direction: Q on real {enc.get('dataset')} images"))
        written.append(plot_mi_heatmap(gen[_mi.MI_NORMALIZED], gen[_score.CODE_NAMES], gen[_score.FACTOR_NAMES],
                                       out_dir / "mi_generator.png",
                                       "generator direction: sampled codes vs measured factors"))
        written.append(plot_traversal(report[TRAVERSAL_GRID], out_dir / "traversal.png"))
    written.append(write_json(Path(json_path) if json_path else out_dir / "report.json", report))
    return written


def unflatten(report: Mapping, prefix: str) -> dict:
    """The entries of one step (``"enc."``, ``"gen."``, ``"trav."``) with the prefix removed."""
    return {k[len(prefix):]: v for k, v in report.items() if k.startswith(prefix)}


def _spearman_text(res: Mapping) -> str:
    rows = [["Spearman", *res[SPEARMAN_FACTORS]]]
    for code, row in zip(res[SPEARMAN_CODES], res[SPEARMAN]):
        rows.append([code, *[f"{v:+.2f}" for v in row]])
    return grid_text(rows)


def _direction_text(result: Mapping, title: str) -> list[str]:
    out = [format_table(result, title)]
    if result.get(SPEARMAN_CODES) and result.get(SPEARMAN_FACTORS):
        out.append(_spearman_text(result))
    return out


def _traversal_text(trav: Mapping) -> list[str]:
    rows = [["code", *trav[TRAVERSAL_FACTORS], "moves most", "gap"]]
    for c, code in enumerate(trav[TRAVERSAL_CODES]):
        rows.append([code, *[f"{v:.2f}" for v in trav[TRAVERSAL_CHANGE][c]],
                     trav[TRAVERSAL_FACTORS][trav[TRAVERSAL_BEST_FACTOR][c]], f"{trav[TRAVERSAL_GAP][c]:.2f}"])
    return ["== traversal: fraction of sweep steps at which each measured factor moves", grid_text(rows),
            f"mean gap {trav[TRAVERSAL_MEAN_GAP]:.3f}"]


def _cinfogan_text(report: Mapping) -> list[str]:
    fid = report[CINFOGAN + LABEL_FIDELITY]
    out = ["", f"== C-InfoGAN: label fidelity {'-' if fid is None else f'{fid:.4f}'}"]
    given = unflatten(report, CINFOGAN + "rho_given_label.")
    for k, v in unflatten(report, CINFOGAN + "rho.").items():
        code, fname = k.split(".", 1)
        out.append(f"   Spearman({code}, {fname}) = {v:+.3f}"
                   + (f" (among images of one label: {given[k]:+.3f})" if k in given else ""))
    return out


def _factor_accuracy(direction: Mapping) -> dict:
    """{factor: best one-to-one accuracy of any categorical code} of one direction's entries."""
    names, acc = direction.get(_score.FACTOR_NAMES) or [], direction.get(_cl.CLUSTER_ACCURACY) or []
    out = {}
    for j, name in enumerate(names):
        column = [row[j] for row in acc if j < len(row) and row[j] is not None and math.isfinite(row[j])]
        if column:
            out[name] = max(column)
    return out


def headline_rows(report: Mapping) -> list[tuple[str, object, object]]:
    """(label, trained value, untrained value or None) of the numbers read first: MIG, SAP, DCI, accuracy and probes
    per factor in both directions, and sample quality."""
    rows = []
    for prefix, name in ((ENCODER, "encoder"), (GENERATOR, "generator")):
        mine, base = unflatten(report, prefix), unflatten(report, UNTRAINED + prefix)
        for key, label in ((_mig.MIG, "MIG"), (_sap.SAP, "SAP"), (_dci.DISENTANGLEMENT, "DCI disentanglement"),
                           (_dci.INFORMATIVENESS_TEST, "DCI informativeness (test acc)")):
            if key in mine:
                rows.append((f"{name} {label}", mine[key], base.get(key)))
        base_acc = _factor_accuracy(base)
        for factor, value in _factor_accuracy(mine).items():
            rows.append((f"{name} accuracy: {factor}", value, base_acc.get(factor)))
        for key, label in ((_pr.PROBE_LINEAR, "linear probe"), (_pr.PROBE_MLP, "MLP probe")):
            if key not in mine:
                continue
            for j, factor in enumerate(mine[_score.FACTOR_NAMES]):
                rows.append((f"{name} {label}: {factor}", mine[key][j], base[key][j] if key in base else None))
    mine, base = unflatten(report, QUALITY), unflatten(report, UNTRAINED + QUALITY)
    for key, label in ((_sq.FD, "Fréchet distance (lower is better)"), (_sq.PRECISION, "precision"),
                       (_sq.RECALL, "recall"), (_sq.DENSITY, "density"), (_sq.COVERAGE, "coverage")):
        if key in mine:
            rows.append((f"sample quality {label}", mine[key], base.get(key)))
    return rows


def _headline_text(report: Mapping) -> list[str]:
    rows = headline_rows(report)
    if not rows:
        return []
    baseline = any(k.startswith(UNTRAINED) for k in report)
    head = ["", "trained", "untrained"] if baseline else ["", "trained"]
    table = [head] + [[label, _f(mine), _f(base)][:len(head)] for label, mine, base in rows]
    title = ("== headline numbers, beside the untrained network (same architecture and seed at initialisation, "
             "same settings and samples)" if baseline else "== headline numbers")
    out = [title, grid_text(table)]
    quality = unflatten(report, QUALITY)
    if _sq.FEATURES in quality:
        out.append(f"sample quality: {quality[_sq.N_FAKE]} generated vs {quality[_sq.N_REAL]} real images, "
                   f"k = {quality[_sq.K]} nearest neighbours, in the features of the {quality[_sq.FEATURES]}; "
                   "these are this project's classifier features, not Inception's: not comparable with published "
                   "FID numbers")
        ball = quality.get(_sq.REAL_BALL)
        if ball is not None and ball < _sq.TIGHT_BALLS:
            out.append(f"caution: the real images sit in tight clusters (median {quality[_sq.K]}-NN radius "
                       f"{100 * ball:.2g} % of their spread; few distinct images or discrete factors): precision, "
                       "recall, density and coverage count near-copies of real images there; read the Fréchet "
                       "distance")
    return out


def format_report(report: Mapping) -> str:
    """The human-readable text of a :func:`eval.disentangle.disentangle` report."""
    enc, gen = unflatten(report, ENCODER), unflatten(report, GENERATOR)
    out = _direction_text(enc, f"== encoder direction: Q on real images ({enc.get('dataset')})")
    out.append("")
    out += _direction_text(gen, "== generator direction: sampled codes vs factors measured on generated images")
    for factor, agreement in unflatten(report, GENERATOR + "check.").items():
        out.append(f"classifier vs pixel measurement of {factor.split('.')[0]}: agreement {agreement:.3f}")
    clf = {k.split(".")[1]: v for k, v in report.items() if k.startswith("classifier.")}
    if clf:
        out.append("factor classifiers (test accuracy on real data): "
                   + ", ".join(f"{k} {v:.4f}" for k, v in clf.items()))
    out.append("")
    out += _traversal_text(unflatten(report, TRAVERSAL))
    if CINFOGAN + LABEL_FIDELITY in report:
        out += _cinfogan_text(report)
    headline = _headline_text(report)
    if headline:
        out += ["", *headline]
    return "\n".join(out)
