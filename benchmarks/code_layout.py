"""Which value of each categorical code Q gives each cell of two factors of the real images.

    python benchmarks/code_layout.py results/basicprop-plus/work/shapes-*/seed*/ckpt.pt [--n 2000] [--q-draws 16]

The scores (``enc.cluster_accuracy`` of ``python -m eval disentangle``) say how well a code matches a factor; this
says where it does not. For each categorical code it prints a table with a row per value of the first factor and
a column per value of the second: in each cell the code value Q gives most of that cell's test images, and the
share of them it gets. A code that reads the row factor shows one value per row, a different one in each row; two
rows under one value are two factor values read as one, and a value in no cell is one Q never gives a real image.
Each code is read as the checkpoint's row is scored: with ``--q-draws`` N through N draws of its nuisance.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from basicprop.clitools import fail
from eval.encoder_direction import load_real, read_q
from scored_checkpoints import each_scored


def layout(codes: np.ndarray, factors: np.ndarray, sizes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` (n,) code values and ``factors`` (n, 2) factor values -> (majority, share), each of shape
    ``sizes``: the most frequent code value of each cell (the smallest on a tie; -1 for a cell without images)
    and the fraction of the cell's images that have it (nan without images)."""
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 1 or factors.shape != (len(codes), 2):
        raise ValueError(f"need codes (n,) and factors (n, 2), got {codes.shape} and {factors.shape}")
    majority, share = np.full(sizes, -1), np.full(sizes, np.nan)
    for r in range(sizes[0]):
        for c in range(sizes[1]):
            cell = codes[(factors[:, 0] == r) & (factors[:, 1] == c)]
            if len(cell):
                counts = np.bincount(cell)
                majority[r, c], share[r, c] = counts.argmax(), counts.max() / len(cell)
    return majority, share


def read_layout(model, n: int = 2000, q_draws: int = 16, seed: int = 0) -> dict:
    """{"factors": (row factor, column factor), "codes": {code: (majority, share)}} for the first two factors of
    the checkpoint's test images and each of its categorical codes."""
    ds, images, factors = load_real(model, None, None, n, np.random.default_rng(seed))
    names, sizes = list(ds.factor_names), [int(s) for s in ds.factor_sizes]
    if len(names) < 2 or not model.spec.cat:
        raise ValueError(f"needs two factors and a categorical code; the data has factors {names}, the "
                         f"checkpoint categorical codes {list(model.spec.cat)}")
    logits = read_q(model, torch.as_tensor(images), q_draws=q_draws, seed=seed).cat_logits
    codes = {f"cat{i}": layout(lg.argmax(1).cpu().numpy(), factors[:, :2], (sizes[0], sizes[1]))
             for i, lg in enumerate(logits)}
    return {"factors": (names[0], names[1]), "codes": codes}


def format_layout(result: dict) -> str:
    rows, cols = result["factors"]
    lines = []
    for code, (majority, share) in result["codes"].items():
        lines.append(f"  {code}: a row per {rows}, a column per {cols}; value (share)")
        for r in range(majority.shape[0]):
            cells = [f"{'-':^9}" if v < 0 else f"{v:2d} ({s:.2f})" for v, s in zip(majority[r], share[r])]
            lines.append(f"    {rows} {r}: " + "  ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", nargs="+")
    parser.add_argument("--n", type=int, default=2000, help="test images read (default 2000)")
    parser.add_argument("--q-draws", type=int, default=16, help="draws of each code's nuisance (default 16; 0: "
                                                                "the images as they are)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n < 1 or args.q_draws < 0:
        fail(f"--n must be at least 1 and --q-draws at least 0, got {args.n} and {args.q_draws}")
    torch.set_grad_enabled(False)
    for path, result in each_scored(args.ckpt, lambda m: read_layout(m, args.n, args.q_draws, args.seed)):
        print(f"{path}\n{format_layout(result)}")


if __name__ == "__main__":
    main()
