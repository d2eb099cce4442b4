"""How far a C-InfoGAN code can rank-correlate with MNIST's slant and width, pooled over the ten digits.

    python benchmarks/mnist_rho_ceiling.py [--split test]

A continuous code drawn beside the label, independent of it, that orders a property perfectly within every digit
still leaves the differences between digits unexplained (a 1 is narrower than a 0 at any code). For a generator
that draws each digit's slants and widths as the data does, the pooled Spearman ρ of such a code is at most
:func:`eval.codes.pooled_spearman_ceiling` of the real images; among the images of one digit the ceiling is 1.
Prints one line per property: the ceiling and each digit's median.
"""
from __future__ import annotations

import argparse

import numpy as np

from basicprop.clitools import fail
from basicprop.mnist import load_mnist
from eval.codes import pooled_spearman_ceiling
from eval.measure import slant_width

PROPERTIES = ("slant", "width")


def ceilings(split: str = "test", data_dir=None) -> dict[str, dict]:
    """{property: {"ceiling": pooled ρ ceiling, "median_by_digit": [10 floats]}} on MNIST's ``split`` images."""
    images, labels = load_mnist(split, data_dir)
    measured = slant_width(images)
    return {name: {"ceiling": pooled_spearman_ceiling(measured[:, k], labels),
                   "median_by_digit": [float(np.median(measured[labels == d, k])) for d in range(10)]}
            for k, name in enumerate(PROPERTIES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--data-dir", help="MNIST's original .gz files (default: $BASICPROP_MNIST_DIR)")
    args = parser.parse_args()
    try:
        rows = ceilings(args.split, args.data_dir)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    for name, row in rows.items():
        medians = " ".join(f"{m:.2f}" for m in row["median_by_digit"])
        print(f"{name}: pooled |rho| ceiling {row['ceiling']:.3f}; median by digit 0-9: {medians}")


if __name__ == "__main__":
    main()
