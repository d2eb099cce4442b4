"""Training curves from ``log.jsonl``: one picture of losses, D's outputs, the MI bounds and Q's accuracy per step.

    fig = plot_curves({"line": read_log("runs/line")})     # label -> records; several labels overlay their runs
    write_curves("runs/line")                              # runs/line/curves.png (the trainer, at each evaluation)

Every ``log.jsonl`` record has a ``kind``: ``train`` (step means of the losses and of D's outputs), ``eval`` (Q on
real images: ``acc/<factor>``, ``real_mi/cat<i>``), ``start`` and ``diverged``. Logs written before ``kind`` existed
are read by ``record_kind``. matplotlib is imported only when a picture is drawn, outside pyplot (Agg canvas).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from basicprop.files import atomic_path

LOG_NAME = "log.jsonl"
CURVES_NAME = "curves.png"
KINDS = ("train", "eval", "start", "diverged")


def record_kind(record: dict) -> str:
    """The record's ``kind``; for logs without one: its ``event``, else ``train``."""
    return record.get("kind") or record.get("event") or "train"


def _is_mi_bound(key: str) -> bool:
    return key.startswith(("mi/cat", "mi/cont")) and not key.endswith("_fit")


def _is_accuracy(key: str) -> bool:
    return key.startswith("acc/") and key.count("/") == 1


# (title, y label, kind of record read, which keys): the panels, row-major on a 2 x 3 grid
PANELS = (
    ("D and G losses", "loss", "train", lambda k: k in ("loss/d", "loss/g")),
    ("information loss", "loss", "train", lambda k: k == "loss/info"),
    ("D(x) and D(G(z))", "mean sigmoid output", "train", lambda k: k in ("d/real", "d/fake")),
    ("MI lower bounds per code", "nats", "train", _is_mi_bound),
    ("Q's accuracy on real images", "accuracy", "eval", _is_accuracy),
    ("I(c_hat; x) on real images", "nats", "eval", lambda k: k.startswith("real_mi/")),
)
_STYLES = ("-", "--", ":", "-.")
_NAMES = {"d/real": "D(x)", "d/fake": "D(G(z))"}


def read_log(run_dir: str | os.PathLike) -> list[dict]:
    """The records of ``run_dir/log.jsonl`` (a cut-off last line is skipped). ValueError when there is none."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        raise ValueError(f"{run_dir}: no {LOG_NAME} (not a training run directory)")
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_runs(run_dirs) -> dict[str, list[dict]]:
    """label -> records for each run directory; the label is the directory's name (its path where names repeat)."""
    names = [Path(d).resolve().name for d in run_dirs]
    labels = [name if names.count(name) == 1 else str(d) for name, d in zip(names, run_dirs)]
    if len(set(labels)) < len(labels):
        raise ValueError(f"a run directory is given twice: {[str(d) for d in run_dirs]}")
    return {label: read_log(d) for label, d in zip(labels, run_dirs)}


def series(records: list[dict], kind: str, keep) -> dict[str, tuple[list[int], list[float]]]:
    """key -> (steps, values) over the records of ``kind`` for the keys ``keep(key)`` accepts (numbers only)."""
    out: dict[str, tuple[list, list]] = {}
    for r in records:
        if record_kind(r) != kind or not isinstance(r.get("step"), int):
            continue
        for k, v in r.items():
            if keep(k) and isinstance(v, (int, float)) and not isinstance(v, bool):
                steps, values = out.setdefault(k, ([], []))
                steps.append(r["step"])
                values.append(float(v))
    return out


def plot_curves(runs: dict[str, list[dict]]):
    """A matplotlib Figure (no pyplot) of the runs' curves against step, one panel per PANELS entry.

    ``runs``: label -> log records. One run: one colour per curve. Several: one colour per run, one line style per
    curve, legend entries ``label: key``. A panel no run has data for says so.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), dpi=80)       # fixed margins: a constrained layout would double the cost
    axes = fig.subplots(2, 3, gridspec_kw=dict(left=0.055, right=0.99, bottom=0.075, top=0.91, wspace=0.22,
                                               hspace=0.32)).ravel()
    several = len(runs) > 1
    for ax, (title, ylabel, kind, keep) in zip(axes, PANELS):
        drawn = 0
        for i, (label, records) in enumerate(runs.items()):
            for j, (key, (steps, values)) in enumerate(sorted(series(records, kind, keep).items())):
                name = _NAMES.get(key, key)
                ax.plot(steps, values, color=f"C{i if several else j}", linestyle=_STYLES[j % 4] if several else "-",
                        marker="o" if kind == "eval" else None, markersize=3, linewidth=1.2,
                        label=f"{label}: {name}" if several else name)
                drawn += 1
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, f"no {kind} records with these values", ha="center", va="center",
                    transform=ax.transAxes, color="0.5")
    if not several and runs:
        fig.suptitle(next(iter(runs)))
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_curves(run_dir: str | os.PathLike) -> Path:
    """``run_dir/curves.png`` from ``run_dir/log.jsonl``."""
    run_dir = Path(run_dir)
    return save_figure(plot_curves({run_dir.resolve().name: read_log(run_dir)}), run_dir / CURVES_NAME)
