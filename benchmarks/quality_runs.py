"""Quality runs: train one setting over several seeds, one run at a time, and summarise Q's accuracy.

    python benchmarks/quality_runs.py --name line-paper --preset infogan --dataset basicprop-line \
        --seeds 0 1 2 3 4 --set epochs=1

Each seed trains into runs/quality/<name>/seed<S>/ (metrics.json, log.jsonl, grids, ckpt.pt); the summary
(accuracy per factor per seed, mean +- std, wall time) goes to runs/quality/<name>/summary.json and stdout.
``--jobs 2 --threads 1`` trains two seeds at a time (one process each; on 2 cores that is ~1.3x the throughput of
one 2-thread process).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from basicprop.files import write_json
from eval.clustering import code_factor_accuracy
from gan_models.cli import parse_value
from gan_models.config import make_config
from gan_models.trainer import TrainingDiverged, train


def run_seed(preset: str | None, kwargs: dict) -> dict:
    """Train one seed; the result record (status, wall time, accuracies, final metrics)."""
    out = Path(kwargs["out"])
    cfg = make_config(preset, **kwargs)
    t = time.time()
    try:
        train(cfg, score_codes=code_factor_accuracy)
        metrics = json.loads((out / "metrics.json").read_text())
        status = "ok"
    except TrainingDiverged as exc:
        metrics, status = {}, f"diverged: {exc}"
    wall = time.time() - t
    acc = {k[4:]: v for k, v in metrics.items() if k.startswith("acc/") and k.count("/") == 1}
    res = {"seed": kwargs["seed"], "status": status, "wall_s": round(wall, 1), "acc": acc, "metrics": metrics}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "result.json", res)
    print(f"seed {kwargs['seed']}: {status} acc={acc} wall={wall:.0f}s", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--dataset", default="basicprop-line")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", dest="sets", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--root", default="runs/quality")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained at the same time (one process each)")
    args = ap.parse_args()
    overrides = {}
    for item in args.sets:
        k, _, v = item.partition("=")
        overrides[k] = parse_value(k, v)
    root = Path(args.root) / args.name
    jobs = [{"dataset": args.dataset, "threads": args.threads, "progress": False, **overrides,
             "seed": seed, "out": str(root / f"seed{seed}")} for seed in args.seeds]
    for kw in jobs:
        make_config(args.preset, **kw)          # bad settings fail here, before anything trains
    if args.jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            results = list(pool.map(run_seed, [args.preset] * len(jobs), jobs))
    else:
        results = [run_seed(args.preset, kw) for kw in jobs]
    factors = sorted({f for r in results for f in r["acc"]})
    summary = {"name": args.name, "preset": args.preset, "dataset": args.dataset, "overrides": args.sets,
               "command": " ".join(sys.argv), "config": make_config(args.preset, **jobs[0]).to_dict(),
               "runs": results}
    for f in factors:
        vals = np.array([r["acc"].get(f, np.nan) for r in results])
        summary[f"acc/{f}"] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals)),
                               "values": vals.tolist()}
        print(f"[{args.name}] {f}: {np.nanmean(vals):.4f} +- {np.nanstd(vals):.4f} over {len(vals)} seeds "
              f"({vals.round(4).tolist()})", flush=True)
    if factors:
        good = sum(all(r["acc"].get(f, 0) >= 0.9 for f in factors) for r in results)
        summary["seeds_all_factors_ge_0.9"] = good
        print(f"[{args.name}] {good}/{len(results)} seeds with every factor >= 0.90", flush=True)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "summary.json", summary)


if __name__ == "__main__":
    main()
