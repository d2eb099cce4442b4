"""Q's unsupervised categorical accuracy on the *test* split for finished runs (Hungarian matching).

    python benchmarks/quality_eval.py runs/quality/rect-final/seed*/ckpt.pt

Writes test_accuracy.json beside each checkpoint and prints one line per run plus mean +- std per factor.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from basicprop.datasets import load_dataset
from gan_models import load_checkpoint
from basicprop.files import write_json
from eval.clustering import code_factor_accuracy


def test_accuracy(ckpt: str | Path) -> dict[str, float]:
    m = load_checkpoint(ckpt, device="cpu")
    meta = m.dataset_meta
    name = meta["dataset"]
    kw = {}
    if str(name).startswith("basicprop-"):
        kw = {"kind_params": meta.get("kind_params"), "seed": int(meta.get("seed") or 0)}
    elif name == "mnist":
        kw = {"data_dir": m.config.get("data_dir")}
    ds = load_dataset(name, split="test", **kw)
    q = m.encode(ds.images)
    codes = torch.stack([lg.argmax(1) for lg in q.cat_logits], 1).numpy()
    acc = code_factor_accuracy(codes, ds.factors, ds.factor_names)
    return {"n_test": len(ds), "step": m.step, **acc}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for ckpt in sys.argv[1:]:
        res = test_accuracy(ckpt)
        write_json(Path(ckpt).with_name("test_accuracy.json"), res)
        main_acc = {k[4:]: v for k, v in res.items() if k.startswith("acc/") and k.count("/") == 1}
        rows.append(main_acc)
        print(f"{ckpt}: step {res['step']} " + " ".join(f"{k}={v:.4f}" for k, v in main_acc.items()), flush=True)
    for f in sorted({k for r in rows for k in r}):
        v = np.array([r.get(f, np.nan) for r in rows])
        print(f"{f}: mean {np.nanmean(v):.4f} +- {np.nanstd(v):.4f} (min {np.nanmin(v):.4f}) over {len(v)} runs")


if __name__ == "__main__":
    main()
