"""Plan a study's runs, run one (train + disentangle, whose report holds the untrained baseline), and say where
each run stands.

Layout of a study directory ``DIR``::

    DIR/study.json                  the spec as resolved, the budget and the command (rewritten by each `run`)
    DIR/runs/<row>--seed<S>.json    one small summary per finished run: commit these
    DIR/work/<row>/seed<S>-<hash>/  the run directory (ckpt.pt, log.jsonl, grids; eval/ with the disentangle
                                    report, trained and untrained numbers): not for committing

A run's identity is its row, its seed and the hash of everything that decides its numbers (the full training
config and the evaluation settings). The same command again skips runs whose summary has the same hash, resumes
interrupted ones from their checkpoint, and starts a row whose training changed afresh in a new run directory. The
run directory is named by the hash of the training config alone: a row whose evaluation settings changed re-scores
its trained checkpoint instead of training it again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import signal
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from basicprop.clitools import StopOnSignal, Terminated, raising_on_sigterm
from basicprop.resources import keep_freed_memory
from study.spec import Study

RUNS, WORK, STUDY_FILE, TRAINED = "runs", "work", "study.json", "trained.json"
OK, DIVERGED, FAILED = "ok", "diverged", "failed"
DONE = (OK, DIVERGED)          # finished: a diverged run is a result (the original study's "NaN"), not an error
SUMMARY_FORMAT = 1
# training-config fields that do not change the numbers
_NOT_HASHED = {"out", "progress", "threads", "device", "log_every", "ckpt_every", "keep", "tensorboard"}
# options that change the numbers only when set: at their defaults they stay out of the hash, so runs hashed
# before the options existed still count as done
_HASHED_WHEN_SET = {"lr_scale": "none", "precision": "fp32", "compile": False, "code_invariance": [],
                    "lr_decay_start": 1.0, "bn_recalibrate": 0, "lambda_real_consistency": 0.0,
                    "cont_invariance": [], "real_mi_start": 0.0}


@dataclass(frozen=True)
class Run:
    """One row at one seed, fully resolved: everything a worker needs, JSON-able."""
    study: str
    row: str
    seed: int
    preset: str | None
    train: dict                 # TrainConfig fields (make_config keyword arguments, ``out`` included)
    eval: dict                  # DisentangleConfig fields
    score: bool
    config_hash: str
    summary_path: str
    target: dict | None

    @property
    def key(self) -> str:
        return f"{self.row}--seed{self.seed}"


def _digest(decided: dict) -> str:
    return hashlib.sha256(json.dumps(decided, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _decides_training(train_config: dict) -> dict:
    return {k: v for k, v in sorted(train_config.items()) if k not in _NOT_HASHED
            and not (k in _HASHED_WHEN_SET and v == _HASHED_WHEN_SET[k])}


def config_hash(train_config: dict, eval_settings: dict) -> str:
    """12 hex digits of sha256 over what decides a run's numbers: the run's identity."""
    return _digest({"train": _decides_training(train_config), "eval": dict(sorted(eval_settings.items()))})


def train_hash(train_config: dict) -> str:
    """12 hex digits of sha256 over what decides the trained network: the name of its run directory."""
    return _digest({"train": _decides_training(train_config)})


def plan(study: Study, out: str | Path, budget: str, *, seeds=None, rows=None, threads: int = 1,
         device: str = "cpu") -> list[Run]:
    """Every run of ``study`` under ``budget``; each training config is built and validated here (a bad row fails
    before anything starts)."""
    from gan_models import make_config

    out = Path(out)
    chosen = [study.row(name) for name in rows] if rows else list(study.rows)
    seeds = list(seeds) if seeds else list(study.seeds)
    if not seeds:
        raise ValueError("no seeds to run")
    runs = []
    for row in chosen:
        for seed in seeds:
            settings = study.train_settings(row, budget)
            try:
                cfg = make_config(row.preset, dataset=row.dataset, seed=seed, out="-", progress=False,
                                  threads=threads, device=device, **settings)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{study.path}: row {row.name!r}: {exc}") from None
            ev = study.eval_settings(row, budget)
            run_dir = out / WORK / row.name / f"seed{seed}-{train_hash(cfg.to_dict())}"
            train = {**cfg.to_dict(), "out": str(run_dir)}
            runs.append(Run(study=study.name, row=row.name, seed=seed, preset=row.preset, train=train, eval=ev,
                            score=row.score, config_hash=config_hash(cfg.to_dict(), ev),
                            summary_path=str(out / RUNS / f"{row.name}--seed{seed}.json"),
                            target=dataclasses.asdict(row.target) if row.target else None))
    return runs


def read_summary(path: str | Path) -> dict | None:
    """A run summary, or None if it is missing or unreadable (a run still to do)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def is_done(run: Run) -> bool:
    s = read_summary(run.summary_path)
    return bool(s) and s.get("config_hash") == run.config_hash and s.get("status") in DONE


# ------------------------------------------------------------------------------------------------ one run
def _cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.machine()


def _versions() -> dict:
    import numpy
    import torch
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


def _curve(run_dir: Path) -> list[dict]:
    """The per-evaluation records of the run's log: step and every ``acc/<factor>``."""
    curve = []
    log = run_dir / "log.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if record.get("event") == "eval":
                curve.append({k: v for k, v in record.items()
                              if k == "step" or (k.startswith("acc/") and k.count("/") == 1)})
    return curve


def _train(run: Run, run_dir: Path) -> float:
    """Train the run (resuming its checkpoint) -> the training's wall seconds; a run trained before (for
    evaluation settings since changed) is not trained again: its recorded seconds."""
    from basicprop.files import write_json
    from eval.clustering import code_factor_accuracy
    from gan_models import TrainConfig, train
    from gan_models.trainer import TrainingInterrupted
    cfg = TrainConfig.from_dict(run.train)
    done_marker = run_dir / TRAINED
    if done_marker.is_file():
        return float(json.loads(done_marker.read_text()).get("train_s") or 0.0)
    t0 = time.time()
    with StopOnSignal() as stop:
        try:
            train(cfg, resume=(run_dir / "ckpt.pt").is_file(), score_codes=code_factor_accuracy, should_stop=stop)
        except TrainingInterrupted:      # saved at a step boundary: not a result, the study stops (and resumes)
            raise KeyboardInterrupt() if stop.signum == signal.SIGINT else Terminated() from None
    seconds = round(time.time() - t0, 2)
    write_json(done_marker, {"train_hash": train_hash(run.train), "train_s": seconds})
    return seconds


def _score(run: Run, run_dir: Path) -> tuple[dict, dict]:
    """(trained report, untrained report) of ``disentangle`` on the run's checkpoint: one report, whose
    ``untrained.*`` entries (the same architecture at initialisation, the same settings, seed and samples) become
    the second report, read by the same functions."""
    from eval.disentangle import DisentangleConfig, disentangle
    from eval.keys import UNTRAINED
    from eval.report import write_report

    settings = {**run.eval, "ckpt": str(run_dir / "ckpt.pt"), "device": run.train.get("device", "cpu")}
    report = disentangle(DisentangleConfig(**settings))
    write_report(report, run_dir / "eval")
    baseline = {k[len(UNTRAINED):]: v for k, v in report.items() if k.startswith(UNTRAINED)}
    return report, baseline


def execute(run: Run) -> dict:
    """Train and score one run; returns its summary (also when it diverged or failed). Writes only in its run
    directory: the caller writes the summary, so a remote worker's result lands on the driver."""
    from gan_models import TrainingDiverged
    from study.headline import headline

    run_dir = Path(run.train["out"])
    t0 = time.time()
    status, message, report, baseline, timing = OK, "", None, None, {}
    try:
        timing["train_s"] = _train(run, run_dir)
        t_score = time.time()
        if run.score:
            report, baseline = _score(run, run_dir)
            timing["score_s"] = round(time.time() - t_score, 2)
    except TrainingDiverged as exc:
        status, message = DIVERGED, str(exc)
    except Exception as exc:  # noqa: BLE001 - a crashed run is recorded and retried, the study goes on
        status, message = FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    return {
        "format": SUMMARY_FORMAT, "study": run.study, "row": run.row, "seed": run.seed, "preset": run.preset,
        "status": status, "message": message, "config_hash": run.config_hash,
        "config": {k: v for k, v in run.train.items() if k != "out"}, "eval_settings": run.eval,
        "target": run.target,
        "metrics": headline(report) if report else {}, "untrained": headline(baseline) if baseline else {},
        "scores": _scalars(report), "untrained_scores": _scalars(baseline),
        "curve": _curve(run_dir), "wall_s": round(time.time() - t0, 1), "timing": timing,
        "device": run.train.get("device", "cpu"), "threads": run.train.get("threads"),
        "host": socket.gethostname(), "machine": platform.machine(), "cpu": _cpu_name(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "versions": _versions(),
        "run_dir": str(run_dir),
    }


def _scalars(report: dict | None) -> dict:
    """The scalar numbers of a disentangle report (MIG, SAP, DCI, ...), without settings, versions or timings."""
    if not report:
        return {}
    skip = ("setting.", "version.", "timing.", "checkpoint.", "untrained.")
    return {k: v for k, v in report.items()
            if not k.startswith(skip) and isinstance(v, (int, float)) and not isinstance(v, bool)}


def execute_pinned(run: Run) -> dict:
    """:func:`execute` in a worker process with torch's and the BLAS libraries' threads pinned to the run's
    ``threads``: the same rounding in every executor (a Ray worker starts with one BLAS thread), so a run's numbers
    do not depend on where it ran; and malloc keeping freed memory for reuse (``keep_freed_memory``).

    Signals: a SIGTERM (or, where it is not ignored, SIGINT) during training saves the run at the next step
    boundary, elsewhere it stops at once (temp files removed); either way the run raises Terminated
    (KeyboardInterrupt), which stops the study, and the same command resumes it."""
    import torch
    from threadpoolctl import threadpool_limits   # installed with scikit-learn
    keep_freed_memory()
    threads = int(run.train.get("threads") or 1)
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads), raising_on_sigterm():
        return execute(run)
