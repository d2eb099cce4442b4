"""A study's tables and figures, built from its run summaries only (no training, no scoring).

:func:`build` returns the data (summary dict, CSV text, Markdown table); :func:`write` puts them in the study
directory with two figures — accuracy against step per row (mean over seeds, min–max band) and a montage of one
traversal grid per row — and can refresh the study's section of ``docs/RESULTS.md``.
"""
from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import numpy as np

from basicprop.files import atomic_path, write_json, write_text
from study.headline import GLOBAL, rho_metrics
from study.runner import DIVERGED, FAILED, OK

METRIC_NAMES = {"enc_acc": "encoder acc", "gen_acc": "generator acc", "enc_mig": "encoder MIG",
                "gen_mig": "generator MIG", "label_fidelity": "label fidelity", "fd": "FD", "precision": "precision",
                "recall": "recall", "gen_rho": "generator |ρ|"}
QUALITY_COLUMNS = ("fd", "precision", "recall")    # sample quality, one value per run (entries of GLOBAL)
CSV_COLUMNS = ("study", "row", "seed", "status", "factor", "metric", "trained", "untrained", "config_hash", "wall_s")


def _stats(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max()),
            "n": int(a.size)}


def _at_target(summary: dict) -> bool | None:
    """Whether a run meets its row's target (None: the row has none)."""
    target = summary.get("target")
    if not target:
        return None
    if summary.get("status") != OK:
        return False
    metrics = summary.get("metrics", {})
    factors = target.get("factors") or [f for f in metrics if f != GLOBAL]
    if target["metric"] == "label_fidelity":
        factors = [GLOBAL]
    values = [metrics.get(f, {}).get(target["metric"]) for f in factors]
    return bool(values) and all(v is not None and v >= target["min"] for v in values)


def _row_order(summaries: list[dict], spec) -> list[str]:
    names = [r.name for r in spec.rows] if spec else []
    return names + sorted({s["row"] for s in summaries} - set(names))


def _with_rho(summary: dict) -> dict:
    """The summary with gen_rho in its metrics, read from its scores (summaries written before gen_rho have them)."""
    merged = {}
    for key, flat in (("metrics", "scores"), ("untrained", "untrained_scores")):
        merged[key] = {f: dict(m) for f, m in (summary.get(key) or {}).items()}
        for f, values in rho_metrics(summary.get(flat) or {}).items():
            merged[key].setdefault(f, {}).update(values)
    return {**summary, **merged}


def aggregate(summaries: list[dict], spec=None) -> list[dict]:
    """One entry per study row: per factor and metric mean/std/min over seeds, the untrained baseline beside it,
    seeds at target, diverged and failed runs."""
    rows = []
    for name in _row_order(summaries, spec):
        runs = [_with_rho(s) for s in summaries if s["row"] == name]
        if not runs:
            continue
        ok = [s for s in runs if s["status"] == OK]
        factors = sorted({f for s in ok for f in s.get("metrics", {})}, key=lambda f: (f == GLOBAL, f))
        per_factor = {}
        for f in factors:
            per_factor[f] = {m: {"trained": _stats([s["metrics"].get(f, {}).get(m) for s in ok]),
                                 "untrained": _stats([s.get("untrained", {}).get(f, {}).get(m) for s in ok])}
                             for m in METRIC_NAMES if any(m in s["metrics"].get(f, {}) for s in ok)}
        judged = [_at_target(s) for s in runs]
        rows.append({"row": name, "seeds": sorted(s["seed"] for s in runs), "ok": len(ok),
                     "diverged": sum(s["status"] == DIVERGED for s in runs),
                     "failed": sum(s["status"] == FAILED for s in runs),
                     "at_target": None if all(j is None for j in judged) else sum(bool(j) for j in judged),
                     "target": runs[0].get("target"), "factors": per_factor,
                     "wall_s": _stats([s.get("wall_s") for s in runs])})
    return rows


def _fmt(stats: dict | None, worst: bool = True, digits: int = 3) -> str:
    if not stats:
        return "–"
    if stats["n"] == 1:   # one seed has no spread to show
        return f"{stats['mean']:.{digits}f}"
    text = f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"
    return f"{text} (worst {stats['min']:.3f})" if worst else text


def _target_text(target: dict | None) -> str:
    if not target:
        return "–"
    text = f"{METRIC_NAMES[target['metric']]} ≥ {target['min']:g}"
    if target["metric"] == "label_fidelity":      # one number per run, of no factor
        return text
    return f"{text} on {', '.join(target.get('factors') or []) or 'every factor'}"


def _quality_cells(m: dict) -> list[str]:
    """FD, precision, recall (mean ± std over seeds) and the untrained network's, of one row's GLOBAL entries."""
    def cell(k, which):
        return _fmt(m.get(k, {}).get(which), worst=False, digits=1 if k == "fd" else 3)
    return [*(cell(k, "trained") for k in QUALITY_COLUMNS), " / ".join(cell(k, "untrained") for k in QUALITY_COLUMNS)]


def markdown_table(rows: list[dict]) -> str:
    """TABLE.md: one line per row and factor; trained mean ± std (worst seed) and the untrained baseline; where
    the runs scored sample quality, FD / precision / recall (one value per run: on the row's first line) and the
    untrained network's."""
    quality = any(k in r["factors"].get(GLOBAL, {}) for r in rows for k in QUALITY_COLUMNS)
    rho = any("gen_rho" in m for r in rows for m in r["factors"].values())
    head = ["row", "factor", "encoder acc", "generator acc", "encoder MIG", "generator MIG",
            *(["generator |ρ|"] if rho else []),
            "untrained enc acc / MIG", *(["FD", "precision", "recall", "untrained FD / precision / recall"]
                                         if quality else []), "seeds at target", "diverged", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        at = "–" if r["at_target"] is None else f"{r['at_target']}/{len(r['seeds'])}"
        diverged = f"{r['diverged']}/{len(r['seeds'])}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        glob = r["factors"].get(GLOBAL, {})
        factors = {f: m for f, m in r["factors"].items() if f != GLOBAL or "label_fidelity" in m} or {"–": {}}
        for i, (f, m) in enumerate(factors.items()):
            extra = (_quality_cells(glob) if i == 0 else [""] * 4) if quality else []
            if f == GLOBAL:
                cells = [r["row"], "label fidelity", _fmt(m.get("label_fidelity", {}).get("trained")), "", "", "",
                         *([""] if rho else []),
                         _fmt(m.get("label_fidelity", {}).get("untrained"), worst=False), *extra, at, diverged,
                         _target_text(r["target"])]
            else:
                base = (f"{_fmt(m.get('enc_acc', {}).get('untrained'), worst=False)} / "
                        f"{_fmt(m.get('enc_mig', {}).get('untrained'), worst=False)}")
                cells = [r["row"], f, *(_fmt(m.get(k, {}).get("trained")) for k in
                                        ("enc_acc", "gen_acc", "enc_mig", "gen_mig", *(["gen_rho"] if rho else []))),
                         base, *extra, at, diverged, _target_text(r["target"])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tidy_csv(summaries: list[dict]) -> str:
    """summary.csv: one line per run, factor and metric (trained and untrained side by side), for pandas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in sorted(summaries, key=lambda s: (s["row"], s["seed"])):
        metrics = s.get("metrics") or {}
        if not metrics:
            writer.writerow([s.get("study"), s["row"], s["seed"], s["status"], "", "", "", "",
                             s.get("config_hash"), s.get("wall_s")])
        for f, values in metrics.items():
            for m, v in values.items():
                u = s.get("untrained", {}).get(f, {}).get(m)
                writer.writerow([s.get("study"), s["row"], s["seed"], s["status"], f, m, v, u,
                                 s.get("config_hash"), s.get("wall_s")])
    return buf.getvalue()


def build(summaries: list[dict], spec=None, info: dict | None = None) -> dict:
    """{"rows": aggregate, "table_md": str, "csv": str, "summary": dict} of finished runs."""
    rows = aggregate(summaries, spec)
    info = info or {}
    summary = {"study": spec.name if spec else info.get("study"), "budget": info.get("budget"),
               "command": info.get("command"), "rows": rows,
               "runs": [{k: s.get(k) for k in ("row", "seed", "status", "config_hash", "wall_s", "metrics",
                                               "untrained", "finished", "host", "device")} for s in summaries]}
    return {"rows": rows, "table_md": markdown_table(rows), "csv": tidy_csv(summaries), "summary": summary,
            "summaries": summaries, "spec": spec, "info": info}


# --------------------------------------------------------------------------------------------------- figures
def _figure(n: int, width: float, height: float):
    """A matplotlib Figure with one row of ``n`` axes (no pyplot: the caller's backend is left alone)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * n, height))
    return fig, fig.subplots(1, n, squeeze=False)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def _has_accuracy(summary: dict) -> bool:
    return any(k.startswith("acc/") for rec in summary.get("curve") or [] for k in rec)


def plot_curves(summaries: list[dict], rows: list[dict], path: Path) -> Path | None:
    """Accuracy (Q on real images, the trainer's evaluations) against step: per row, per factor the mean over
    seeds and the min–max band."""
    with_curves = [r for r in rows if any(s["row"] == r["row"] and _has_accuracy(s) for s in summaries)]
    if not with_curves:
        return None
    fig, axes = _figure(len(with_curves), 4.2, 3.4)
    for ax, r in zip(axes[0], with_curves):
        runs = [s for s in summaries if s["row"] == r["row"] and _has_accuracy(s)]
        keys = sorted({k for s in runs for rec in s["curve"] for k in rec if k.startswith("acc/")})
        for key in keys:
            steps = sorted({rec["step"] for s in runs for rec in s["curve"] if key in rec})
            table = np.array([[next((rec[key] for rec in s["curve"] if rec["step"] == st and key in rec), np.nan)
                               for st in steps] for s in runs], dtype=float)
            mean = np.nanmean(table, axis=0)
            ax.plot(steps, mean, marker="o", markersize=3, label=key[4:])
            ax.fill_between(steps, np.nanmin(table, axis=0), np.nanmax(table, axis=0), alpha=0.2)
        ax.set_title(f"{r['row']} ({len(runs)} seeds)", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel("Q accuracy on real images")
        ax.set_ylim(0, 1.02)
        if keys:
            ax.legend(fontsize=7)
    return _save(fig, path)


def _last_traversal(run_dir: Path) -> Path | None:
    """The run's disentangle traversal (every code swept), else the trainer's last traversal grid."""
    if (run_dir / "eval" / "traversal.png").is_file():
        return run_dir / "eval" / "traversal.png"
    grids = sorted(run_dir.glob("traverse_*.png"), key=lambda p: (re.sub(r"\D", "", p.stem)[-6:], p.name))
    return grids[-1] if grids else None


def plot_traversals(summaries: list[dict], rows: list[dict], path: Path) -> Path | None:
    """One traversal grid per row (its lowest seed's last grid), titled with the row."""
    picks = []
    for r in rows:
        runs = sorted((s for s in summaries if s["row"] == r["row"] and s.get("run_dir")), key=lambda s: s["seed"])
        grid = next((g for s in runs if (g := _last_traversal(Path(s["run_dir"])))), None)
        if grid:
            picks.append((r["row"], grid))
    if not picks:
        return None
    from PIL import Image
    fig, axes = _figure(len(picks), 3.2, 3.6)
    for ax, (name, grid) in zip(axes[0], picks):
        ax.imshow(np.asarray(Image.open(grid)), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{name}\n{grid.name}", fontsize=8)
        ax.axis("off")
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------------- writing
def reproduce_commands(runs: list[dict], name: str, out: Path, budget) -> list[str]:
    """``study run`` commands that redo exactly the runs summarised: one per set of seeds, rows in their order."""
    seeds_of: dict[str, list[int]] = {}
    for s in runs:
        seeds_of.setdefault(s["row"], []).append(int(s["seed"]))
    rows_of: dict[tuple, list[str]] = {}
    for row, seeds in seeds_of.items():
        rows_of.setdefault(tuple(sorted(set(seeds))), []).append(row)
    threads = sorted({s.get("threads") for s in runs if s.get("threads")}) or [1]
    return [f"python cli.py study run {name} --out {out} --budget {budget} --rows {','.join(rows)} "
            f"--seeds {','.join(map(str, seeds))} --threads {threads[0]}" for seeds, rows in rows_of.items()]


def results_section(built: dict, out: Path) -> str:
    """The study's section of docs/RESULTS.md: what was run, on what, the command that reproduces it, the table."""
    info, summary, runs = built["info"], built["summary"], built["summaries"]
    machines = sorted({f"{s.get('device')} ({s.get('cpu') or s.get('machine') or '?'}, {s.get('threads')} thread(s))"
                       for s in runs})
    dates = sorted(s.get("finished", "")[:10] for s in runs if s.get("finished"))
    when = dates[0] if dates and dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}" if dates else "?"
    seeds = sorted({s["seed"] for s in runs})
    name = summary["study"]
    commands = reproduce_commands(runs, name, out, info.get("budget"))
    lines = [f"<!-- study:{name} -->", f"## {name}", ""]
    if built["spec"] is not None and built["spec"].description:
        lines += [built["spec"].description, ""]
    lines += [f"Budget `{info.get('budget')}`, seeds {seeds}, {len(runs)} runs on {'; '.join(machines)}, "
              f"finished {when}.", "", "Reproduce:", "", *(f"    {c}" for c in commands),
              f"    python cli.py study report {out} --results docs/RESULTS.md", "", built["table_md"].rstrip(),
              f"<!-- /study:{name} -->"]
    return "\n".join(lines) + "\n"


def update_results(results_md: Path, section: str, name: str) -> Path:
    """Replace (or append) the study's marked section in a Markdown file."""
    text = results_md.read_text() if results_md.is_file() else "# Results\n\nGenerated by `study report`.\n"
    pattern = re.compile(rf"<!-- study:{re.escape(name)} -->.*?<!-- /study:{re.escape(name)} -->\n?", re.S)
    text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    return write_text(results_md, text)


def write(built: dict, out: str | Path, results_md: str | Path | None = None) -> list[Path]:
    """summary.json, summary.csv, TABLE.md and the figures into ``out``; the RESULTS.md section if asked."""
    out = Path(out)
    paths = [write_json(out / "summary.json", built["summary"]), write_text(out / "summary.csv", built["csv"]),
             write_text(out / "TABLE.md", built["table_md"])]
    for figure in (plot_curves(built["summaries"], built["rows"], out / "curves.png"),
                   plot_traversals(built["summaries"], built["rows"], out / "traversals.png")):
        if figure:
            paths.append(figure)
    if results_md:
        paths.append(update_results(Path(results_md), results_section(built, out), built["summary"]["study"]))
    return paths
