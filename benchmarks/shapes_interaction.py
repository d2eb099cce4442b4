"""How strongly the code-interaction penalty favours the shapes kind's own layout of its 20 images on two codes.

    python benchmarks/shapes_interaction.py [--starts 40] [--seed 0]

A generator that draws the kind's images exactly, one per cell of a Cat(4) x Cat(5) code grid, is judged by the
penalty (``InfoGAN.code_interaction``, the mean squared mixed difference G(a', b') - G(a', b) - G(a, b') + G(a, b)
over every a' != a, b' != b) by its layout alone. Prints the penalty of the factors' own layout (rows = shapes,
columns = sizes), its range over random layouts, and the layouts where no swap of two cells lowers it further (a
greedy descent from each of ``--starts`` random layouts), each with how well its rows name the shape and its
columns the size (one-to-one matching, as the study scores codes).
"""
from __future__ import annotations

import argparse
from itertools import permutations

import numpy as np

from basicprop.clitools import fail
from basicprop.kinds.shapes import Shapes
from eval.clustering import hungarian_accuracy

KIND = Shapes()
ROWS, COLS = KIND.factor_sizes                     # shape, size
# every (a, a', b, b') with a' != a and b' != b
_PAIRS = np.array([(a, a2, b, b2) for a, a2 in permutations(range(ROWS), 2) for b, b2 in permutations(range(COLS), 2)])


def images() -> np.ndarray:
    """(20, 784) float: the kind's images in [0, 1] without noise, image 5 * shape + size (its label)."""
    return (KIND.ink(KIND.all_factors()) > 0).astype(float).reshape(ROWS * COLS, -1)


def interaction(flat: np.ndarray, layout: np.ndarray) -> float:
    """The penalty of G drawing image ``layout[5 * a + b]`` at code values (a, b)."""
    g = flat[layout].reshape(ROWS, COLS, -1)
    a, a2, b, b2 = _PAIRS.T
    return float(((g[a2, b2] - g[a2, b] - g[a, b2] + g[a, b]) ** 2).mean())


def descend(flat: np.ndarray, layout: np.ndarray) -> tuple[np.ndarray, float]:
    """Swap two cells while a swap lowers the penalty: (a layout no single swap improves, its penalty)."""
    layout, value = layout.copy(), interaction(flat, layout)
    improved = True
    while improved:
        improved = False
        for i in range(len(layout)):
            for j in range(i + 1, len(layout)):
                layout[[i, j]] = layout[[j, i]]
                v = interaction(flat, layout)
                if v < value - 1e-12:
                    value, improved = v, True
                else:
                    layout[[i, j]] = layout[[j, i]]
    return layout, value


def accuracy(layout: np.ndarray) -> tuple[float, float]:
    """(shape, size): how well the rows name each cell's shape and the columns its size."""
    cells = np.arange(len(layout))
    return (hungarian_accuracy(cells // COLS, layout // COLS)[0],
            hungarian_accuracy(cells % COLS, layout % COLS)[0])


def survey(starts: int = 40, seed: int = 0) -> dict:
    """{"factors": penalty of the factors' layout, "random": penalties of ``starts`` random layouts,
    "minima": [(penalty, shape acc, size acc)] of the descents from them, lowest first}."""
    if starts < 1:
        raise ValueError(f"--starts must be at least 1, got {starts}")
    flat, rng = images(), np.random.default_rng(seed)
    randoms = [rng.permutation(ROWS * COLS) for _ in range(starts)]
    minima = []
    for start in randoms:
        layout, value = descend(flat, start)
        minima.append((value, *accuracy(layout)))
    return {"factors": interaction(flat, np.arange(ROWS * COLS)),
            "random": [interaction(flat, r) for r in randoms], "minima": sorted(minima)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        out = survey(args.starts, args.seed)
    except ValueError as exc:
        fail(str(exc))
    rand = np.array(out["random"])
    print(f"factors' layout: {out['factors']:.4f}")
    print(f"random layouts: {rand.mean():.4f} mean, {rand.min():.4f} lowest ({len(rand)} layouts)")
    print("local minima (penalty: shape acc / size acc):")
    for value, shape_acc, size_acc in out["minima"]:
        print(f"  {value:.4f}: {shape_acc:.2f} / {size_acc:.2f}")


if __name__ == "__main__":
    main()
