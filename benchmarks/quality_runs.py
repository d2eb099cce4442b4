"""Quality runs: train one setting over several seeds, one run at a time, and summarise Q's accuracy.

    python benchmarks/quality_runs.py --name line-paper --preset infogan --dataset basicprop-line \
        --seeds 0 1 2 3 4 --set epochs=1

Each seed trains into runs/quality/<name>/seed<S>/ (metrics.json, log.jsonl, grids, ckpt.pt); the summary
(accuracy per factor per seed, mean +- std, wall time) goes to runs/quality/<name>/summary.json and stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from gan_models.cli import _parse_value
from gan_models.config import make_config
from gan_models.trainer import TrainingDiverged, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--dataset", default="basicprop-line")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", dest="sets", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--root", default="runs/quality")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    overrides = {}
    for item in args.sets:
        k, _, v = item.partition("=")
        overrides[k] = _parse_value(k, v)
    root = Path(args.root) / args.name
    results = []
    for seed in args.seeds:
        out = root / f"seed{seed}"
        kwargs = {"dataset": args.dataset, "threads": args.threads, "progress": False, **overrides,
                  "seed": seed, "out": str(out)}
        cfg = make_config(args.preset, **kwargs)
        t = time.time()
        try:
            train(cfg)
            metrics = json.loads((out / "metrics.json").read_text())
            status = "ok"
        except TrainingDiverged as exc:
            metrics, status = {}, f"diverged: {exc}"
        wall = time.time() - t
        acc = {k[4:]: v for k, v in metrics.items() if k.startswith("acc/") and k.count("/") == 1}
        res = {"seed": seed, "status": status, "wall_s": round(wall, 1), "acc": acc, "metrics": metrics}
        (out).mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(res, indent=2) + "\n")
        results.append(res)
        print(f"[{args.name}] seed {seed}: {status} acc={acc} wall={wall:.0f}s", flush=True)
    factors = sorted({f for r in results for f in r["acc"]})
    summary = {"name": args.name, "preset": args.preset, "dataset": args.dataset, "overrides": args.sets,
               "command": " ".join(sys.argv), "runs": results}
    for f in factors:
        vals = np.array([r["acc"].get(f, np.nan) for r in results])
        summary[f"acc/{f}"] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals)),
                               "values": vals.tolist()}
        print(f"[{args.name}] {f}: {np.nanmean(vals):.4f} +- {np.nanstd(vals):.4f} over {len(vals)} seeds "
              f"({vals.round(4).tolist()})", flush=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
