"""benchmarks/shapes_interaction.py: the code-interaction penalty of layouts of the shapes kind's 20 images."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from shapes_interaction import accuracy, descend, images, interaction, survey  # noqa: E402

FACTORS = np.arange(20)


def test_images_that_add_up_have_no_interaction_in_their_own_layout_only():
    rng = np.random.default_rng(0)
    rows, cols = rng.random((4, 1, 50)), rng.random((1, 5, 50))
    flat = (rows + cols).reshape(20, 50)
    assert interaction(flat, FACTORS) == pytest.approx(0, abs=1e-12)
    swapped = FACTORS.copy()
    swapped[[0, 6]] = swapped[[6, 0]]                        # (shape 0, size 0) <-> (shape 1, size 1)
    assert interaction(flat, swapped) > 0.01


def test_the_shapes_layout_beats_random_layouts_and_descents_never_climb():
    flat, rng = images(), np.random.default_rng(1)
    own = interaction(flat, FACTORS)
    starts = [rng.permutation(20) for _ in range(10)]
    assert all(interaction(flat, s) > 1.5 * own for s in starts)
    layout, value = descend(flat, starts[0])
    assert value <= interaction(flat, starts[0]) and value == pytest.approx(interaction(flat, layout))
    assert sorted(layout) == list(range(20))                 # still a layout of the 20 images


def test_accuracy_reads_rows_as_shapes_and_columns_as_sizes():
    assert accuracy(FACTORS) == (1.0, 1.0)
    relabelled = (np.arange(20).reshape(4, 5)[[2, 0, 3, 1]][:, [4, 3, 2, 1, 0]]).ravel()
    assert accuracy(relabelled) == (1.0, 1.0)                # which row is which shape does not matter
    transposed_ish = np.array([5 * (c % 4) + r for r in range(4) for c in range(5)])    # rows name the size
    shape_acc, size_acc = accuracy(transposed_ish)
    assert shape_acc < 0.5 and size_acc < 0.5


def test_survey_refuses_no_starts():
    with pytest.raises(ValueError, match="at least 1"):
        survey(starts=0)
