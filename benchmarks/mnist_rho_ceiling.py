"""How far a C-InfoGAN code can rank-correlate with MNIST's slant and width, pooled over the ten digits.

    python benchmarks/mnist_rho_ceiling.py [--split test] [CKPT ...] [--n 5000 --seed 0]

A continuous code drawn beside the label, independent of it, that orders a property perfectly within every digit
still leaves the differences between digits unexplained (a 1 is narrower than a 0 at any code). For a generator
that draws each digit's slants and widths as the data does, the pooled Spearman ρ of such a code is at most
:func:`eval.codes.pooled_spearman_ceiling` of the real images: with the digits as often as in the data, and
``balanced``, with each digit equally often, as C-InfoGAN draws its labels. Among the images of one digit the
ceiling is 1. Prints one line per property: both ceilings and each digit's median width or slant.

Each checkpoint given (a C-InfoGAN trained on MNIST) gets the same lines for ``--n`` of its own images: how far a
code could go on what this generator draws, which differs from the data's where its digits are spread otherwise.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from basicprop.clitools import fail
from basicprop.images import to_uint8
from basicprop.mnist import load_mnist
from eval.codes import pooled_spearman_ceiling
from eval.measure import slant_width
from scored_checkpoints import each_scored, require_mnist_cinfogan

PROPERTIES = ("slant", "width")


def ceilings_of(images: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """{property: {"ceiling", "balanced", "median_by_digit": [10 floats]}} of (n, 28, 28) uint8 digit images."""
    measured = slant_width(images)
    return {name: {"ceiling": pooled_spearman_ceiling(measured[:, k], labels),
                   "balanced": pooled_spearman_ceiling(measured[:, k], labels, balanced=True),
                   "median_by_digit": [float(np.median(measured[labels == d, k])) for d in range(10)]}
            for k, name in enumerate(PROPERTIES)}


def ceilings(split: str = "test", data_dir=None) -> dict[str, dict]:
    """:func:`ceilings_of` MNIST's ``split`` images."""
    return ceilings_of(*load_mnist(split, data_dir))


def generator_ceilings(model, n: int = 5000, seed: int = 0) -> dict[str, dict]:
    """:func:`ceilings_of` ``n`` images of a C-InfoGAN checkpoint trained on MNIST, labels as it draws them."""
    require_mnist_cinfogan(model)
    latent = model.sample_latent(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = to_uint8(model.generate(latent))
    return ceilings_of(images, latent.y.cpu().numpy())


def _lines(rows: dict[str, dict]) -> list[str]:
    return [f"{name}: pooled |rho| ceiling {row['ceiling']:.3f}, each digit equally often {row['balanced']:.3f}; "
            f"median by digit 0-9: {' '.join(f'{m:.2f}' for m in row['median_by_digit'])}"
            for name, row in rows.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", nargs="*", help="C-InfoGAN checkpoints trained on MNIST (optional)")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--data-dir", help="MNIST's original .gz files (default: $BASICPROP_MNIST_DIR)")
    parser.add_argument("--n", type=int, default=5000, help="images drawn from each checkpoint (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n < 100:
        fail(f"--n must be at least 100, got {args.n}")
    try:
        rows = ceilings(args.split, args.data_dir)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    print(f"MNIST {args.split}\n  " + "\n  ".join(_lines(rows)))
    for path, rows in each_scored(args.ckpt, lambda m: generator_ceilings(m, args.n, args.seed)):
        print(f"{path}\n  " + "\n  ".join(_lines(rows)))


if __name__ == "__main__":
    main()
