"""The study commands as Python functions that return data: run, status, report, list.

    from study import run_study, study_status
    summary = run_study("smoke", "results/smoke", budget="smoke", jobs=2)
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable, Sequence

from basicprop.files import FolderLocked, folder_lock, jsonable, write_json
from study import executors
from study.runner import DONE, FAILED, RUNS, STUDY_FILE, TRAINED, Run, is_done, plan, read_summary
from study.spec import BUDGETS, load_study

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def spec_reference(spec) -> str:
    """A shipped study by its name (portable across machines), any other by its path."""
    from study.spec import STUDIES_DIR
    return spec.name if Path(spec.path).resolve() == (STUDIES_DIR / f"{spec.name}.toml").resolve() else spec.path


def _spread_gpus(runs: list[Run], device: str) -> None:
    """On a machine with several CUDA GPUs, "cuda" runs go round-robin over them."""
    if device != "cuda":
        return
    import torch
    n = torch.cuda.device_count()
    if n > 1:
        for i, run in enumerate(runs):
            run.train["device"] = f"cuda:{i % n}"


def _headline_text(summary: dict) -> str:
    target = summary.get("target") or {}
    metric = target.get("metric", "enc_acc")
    values = [f"{factor} {m[metric]:.3f}" for factor, m in summary.get("metrics", {}).items() if metric in m]
    return f"{metric}: {', '.join(values)}" if values else ""


def run_study(study: str | Path, out: str | Path, *, budget: str = "cpu", seeds: Sequence[int] | None = None,
              rows: Sequence[str] | None = None, jobs: int | None = None, executor: str = "local",
              address: str | None = None, gpus_per_run: float = 0.0, threads: int = 1, device: str = "cpu",
              log: Log = _quiet) -> dict:
    """Run every unfinished run of ``study`` into ``out``; returns {"done": [...], "skipped": [...], "failed": [...]}
    (run keys). Resumable and idempotent: finished runs (same config hash) are skipped, interrupted ones resumed."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose from {list(BUDGETS)}")
    if executor not in executors.EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {list(executors.EXECUTORS)}")
    if threads < 1 or (jobs is not None and jobs < 1) or gpus_per_run < 0:
        raise ValueError("--threads and --jobs must be at least 1, --gpus-per-run at least 0")
    spec = load_study(study)
    runs = plan(spec, out, budget, seeds=seeds, rows=rows, threads=threads, device=device)
    _spread_gpus(runs, device)
    jobs = jobs or executors.default_jobs(threads)
    out = Path(out)
    try:
        with folder_lock(out, "study directory"):
            return _run_locked(spec, runs, out, budget, jobs, executor, address, gpus_per_run, threads, log)
    except FolderLocked as exc:
        raise ValueError(str(exc)) from None


def run_command(spec, out, budget: str, runs: list[Run], jobs: int, threads: int, executor: str) -> str:
    """The ``study run`` command line that plans exactly ``runs`` (what RESULTS.md prints to reproduce them)."""
    rows = list(dict.fromkeys(r.row for r in runs))
    seeds = sorted({r.seed for r in runs})
    words = ["python cli.py study run", spec_reference(spec), "--out", str(out), "--budget", budget]
    if rows != [r.name for r in spec.rows]:
        words += ["--rows", ",".join(rows)]
    if seeds != sorted(spec.seeds):
        words += ["--seeds", ",".join(map(str, seeds))]
    words += ["--jobs", str(jobs), "--threads", str(threads)] + (["--executor", executor] if executor != "local" else [])
    return " ".join(words)


def _run_locked(spec, runs, out, budget, jobs, executor, address, gpus_per_run, threads, log) -> dict:
    write_json(out / STUDY_FILE, {"study": spec.name, "spec": spec_reference(spec), "budget": budget, "jobs": jobs,
                                  "executor": executor, "threads": threads,
                                  "command": run_command(spec, out, budget, runs, jobs, threads, executor),
                                  "runs": [r.key for r in runs]})
    todo = [r for r in runs if not is_done(r)]
    result = {"done": [], "skipped": [r.key for r in runs if r not in todo], "failed": []}
    log(f"{spec.name}: {len(runs)} runs, {len(result['skipped'])} already done, {len(todo)} to run "
        f"({executor}, {jobs} at a time)")
    t0, walls = time.time(), []

    def on_done(run: Run, summary: dict) -> None:
        write_json(run.summary_path, jsonable(summary))
        walls.append(summary.get("wall_s") or 0.0)
        result["failed" if summary["status"] == FAILED else "done"].append(run.key)
        left = len(todo) - len(walls)
        eta = (time.time() - t0) / len(walls) * left
        log(f"[{len(walls)}/{len(todo)}] {run.row} seed {run.seed}: {summary['status']} "
            f"{_headline_text(summary)} ({summary.get('wall_s', 0):.0f} s){f', ETA {eta / 60:.1f} min' if left else ''}")

    if executor == "ray":
        executors.run_ray(todo, on_done, address=address, gpus_per_run=gpus_per_run, threads=threads)
    else:
        executors.run_local(todo, on_done, jobs=jobs)
    return result


_RUN_KEY = re.compile(r".+--seed\d+")


def _running(run_dir: Path) -> bool:
    if not (run_dir / ".lock").is_file():
        return False
    try:
        with folder_lock(run_dir):
            return False
    except FolderLocked:
        return True


def _last_step(run_dir: Path) -> int:
    """The last step the run's ``log.jsonl`` records (0 when it has none)."""
    from gan_models.curves import LOG_NAME, read_log
    records = read_log(run_dir) if (run_dir / LOG_NAME).is_file() else []
    return max((int(r.get("step", 0)) for r in records), default=0)


def study_status(out: str | Path) -> dict:
    """Per run: done / diverged / failed / running / trained (trained, not yet scored with the row's evaluation
    settings: the next ``run`` scores it) / stopped (a checkpoint, no process: the next ``run`` resumes it;
    ``step``: the last one logged) / pending, and an ETA from the finished runs' wall times. The
    runs are those of the last ``run`` command together with every run that has a summary in ``out`` (earlier
    commands may have run other rows and seeds); a summary of an older config counts as pending."""
    out = Path(out)
    info_path = out / STUDY_FILE
    if not info_path.is_file():
        raise ValueError(f"{str(out)!r} is not a study directory (no {STUDY_FILE})")
    info = json.loads(info_path.read_text())
    spec = load_study(info["spec"])
    wanted = set(info["runs"]) | {p.stem for p in (out / RUNS).glob("*.json") if _RUN_KEY.fullmatch(p.stem)}
    runs = plan(spec, out, info["budget"], threads=info.get("threads", 1),
                seeds=sorted({int(k.rsplit("--seed", 1)[1]) for k in wanted}))
    rows, walls = [], []
    for run in (r for r in runs if r.key in wanted):
        summary = read_summary(run.summary_path)
        if summary and summary.get("config_hash") == run.config_hash and summary.get("status") in (*DONE, FAILED):
            state = "done" if summary["status"] == "ok" else summary["status"]
            walls.append(summary.get("wall_s") or 0.0)
        else:
            run_dir = Path(run.train["out"])
            state = ("running" if _running(run_dir) else "trained" if (run_dir / TRAINED).is_file()
                     else "stopped" if (run_dir / "ckpt.pt").is_file() else "pending")
        row = {"run": run.key, "row": run.row, "seed": run.seed, "state": state}
        if state == "stopped":
            row["step"] = _last_step(Path(run.train["out"]))
        rows.append(row)
    left = sum(r["state"] in ("pending", "running", "trained", "stopped") for r in rows)
    mean = sum(walls) / len(walls) if walls else None
    eta = None if mean is None else mean * left / max(int(info.get("jobs", 1)), 1)
    return {"study": info["study"], "budget": info["budget"], "runs": rows, "left": left, "eta_s": eta}


def study_report(out: str | Path) -> dict:
    """Tables and figures of the finished runs in ``out`` (no training): see :func:`study.report.build`."""
    from study import report
    out = Path(out)
    summaries = [s for p in sorted((out / RUNS).glob("*.json")) if (s := read_summary(p))]
    if not summaries:
        raise ValueError(f"no finished runs in {str(out / RUNS)!r}")
    info = read_summary(out / STUDY_FILE) or {}
    spec = load_study(info["spec"]) if info.get("spec") else None
    return report.build(summaries, spec, info)


def list_studies() -> dict[str, str]:
    """{name: description} of the shipped studies."""
    from study.spec import list_studies as _list
    return _list()


__all__ = ["run_study", "study_status", "study_report", "list_studies"]
