"""The traversal picture of ``eval disentangle``: the grid carries each column's swept value (known from the sweep),
rows are labelled ``"<code> (base b)"``, the captions' short names are spelled out, and the PNG keeps every text
inside the figure without overlaps, widens with the columns and is byte-identical for the same grid."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from basicprop import get_kind
from eval.measure import Measurement, Measurer, line_position, rectangle_heights, slant_width
from eval.report import plot_traversal, traversal_figure
from eval.traversal import TraversalGrid, sweep_labels, traversal
from eval.codes import code_layout
from gan_models.latent import CodeSpec, sample_latent


class FakeModel:
    """Renders a BasicProp kind from the categorical codes (code i = factor i); continuous codes shift the shape's
    brightness only. Enough of the checkpoint contract for :func:`eval.traversal.traversal`."""

    def __init__(self, kind_name: str, cont: int = 0, noise_dim: int = 0):
        self.kind = get_kind(kind_name, fg_noise=None)
        self.spec = CodeSpec(noise_dim=noise_dim, cat=tuple(self.kind.factor_sizes), cont=cont)
        self.rng = np.random.default_rng(0)

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def generate(self, latent):
        images = torch.from_numpy(self.kind.render(latent.cat.numpy().astype(np.int64), self.rng)).float() / 255
        if self.spec.cont:
            images = images * (0.75 + 0.25 * latent.cont[:, :1, None].clamp(-1, 1))
        return images.unsqueeze(1)


def _col(fn, j):
    return lambda images: fn(images)[:, j]


LINE = Measurer([Measurement("position", "analytic", False, line_position, 10)], [])
RECTANGLES = Measurer([Measurement(n, "analytic", False, _col(rectangle_heights, j), 10)
                       for j, n in enumerate(("left_height", "right_height"))], [])
MNIST_LIKE = Measurer([Measurement("digit", "analytic", False, line_position, 10),     # a stand-in for the CNN
                       Measurement("slant", "analytic", True, _col(slant_width, 0)),
                       Measurement("width", "analytic", True, _col(slant_width, 1))], [])


def grid_of(model, measurer, *, steps=10, grid_bases=2, grid_columns=10) -> TraversalGrid:
    _, grid = traversal(model, measurer, code_layout(model.spec), bases=3, steps=steps, grid_bases=grid_bases,
                        grid_columns=grid_columns, generator=torch.Generator().manual_seed(0))
    return grid


def test_sweep_labels_name_the_code_and_its_value():
    assert sweep_labels("cat1", "cat", [0, 4]) == ["cat1=0", "cat1=4"]
    assert sweep_labels("y", "y", torch.arange(2)) == ["y=0", "y=1"]
    assert sweep_labels("cont0", "cont", [-1.0, -1e-9, 1 / 3]) == ["cont0=-1.00", "cont0=0.00", "cont0=0.33"]


def test_categorical_columns_carry_the_swept_category_and_the_image_shows_it():
    grid = grid_of(FakeModel("rectangles"), RECTANGLES, grid_columns=4)   # columns round(linspace(0, 9, 4))
    assert grid.images.shape == (4, 4, 28, 28)
    assert grid.row_labels == ["cat0 (base 0)", "cat0 (base 1)", "cat1 (base 0)", "cat1 (base 1)"]
    assert grid.col_values == [[f"cat{r // 2}={v}" for v in (0, 3, 6, 9)] for r in range(4)]
    assert grid.legend == "lh = left_height, rh = right_height"
    for r in range(4):          # cat0 draws the left height, cat1 the right one: measured = swept, column by column
        measured = [dict(p.split("=") for p in c.split())["lh" if r < 2 else "rh"] for c in grid.captions[r]]
        assert measured == [v.split("=")[1] for v in grid.col_values[r]]
    assert len({c.split()[1] for c in grid.captions[0]}) == 1            # the other code stays at the base's value


def test_continuous_columns_carry_the_swept_value_and_short_rows_are_padded():
    grid = grid_of(FakeModel("line", cont=2, noise_dim=2), MNIST_LIKE, steps=5)
    assert grid.images.shape == (6, 10, 28, 28)
    assert grid.row_labels == [f"{c} (base {b})" for c in ("cat0", "cont0", "cont1") for b in (0, 1)]
    assert grid.col_values[0] == [f"cat0={i}" for i in range(10)]
    assert grid.col_values[2] == ["cont0=-1.00", "cont0=-0.50", "cont0=0.00", "cont0=0.50", "cont0=1.00"] + [""] * 5
    assert grid.col_values[5][:5] == [v.replace("cont0", "cont1") for v in grid.col_values[2][:5]]
    assert grid.captions[2][5:] == [""] * 5 and not grid.images[2, 5:].any()
    assert grid.legend == "d = digit, s = slant, w = width"
    three = grid_of(FakeModel("line", cont=1), MNIST_LIKE, steps=5, grid_columns=3)   # round(linspace(0, S-1, 3))
    assert three.col_values == [["cat0=0", "cat0=4", "cat0=9"]] * 2 + [["cont0=-1.00", "cont0=0.00", "cont0=1.00"]] * 2


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def assert_readable(fig) -> None:
    """Every text inside the figure, no two texts overlapping, no text on an image."""
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    frame = fig.bbox
    for text, box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text
    for (a, p), (b, q) in itertools.combinations(boxes, 2):
        assert min(p.x1, q.x1) - max(p.x0, q.x0) <= 0.5 or min(p.y1, q.y1) - max(p.y0, q.y0) <= 0.5, (a, b)
    pictures = [ax.get_window_extent(renderer) for ax in fig.axes if ax.images]
    for (text, box), pic in itertools.product(boxes, pictures):
        assert min(box.x1, pic.x1) - max(box.x0, pic.x0) <= 0.5 or min(box.y1, pic.y1) - max(box.y0, pic.y0) <= 0.5, \
            text


@pytest.mark.parametrize("model, measurer, n_texts", [
    (FakeModel("line"), LINE, 2 + 2 * 10 * 2 + 1),                             # rows, values + captions, title
    (FakeModel("rectangles"), RECTANGLES, 4 + 4 * 10 * 2 + 1),
    (FakeModel("line", cont=2, noise_dim=2), MNIST_LIKE, 6 + (2 * 10 + 4 * 10) * 2 + 1)])
def test_picture_shows_every_label_unclipped(model, measurer, n_texts):
    grid = grid_of(model, measurer)
    fig = traversal_figure(grid)
    fig.canvas.draw()
    texts = [t.get_text() for t in _texts(fig)]
    assert len(texts) == n_texts
    assert set(grid.row_labels) | {v for row in grid.col_values for v in row if v} <= set(texts)
    heading = [t for t in texts if t.startswith("each row sweeps one code")]
    assert len(heading) == 1 and (not grid.legend or heading[0].endswith(f"factors: {grid.legend}"))
    assert_readable(fig)


def test_a_single_column_widens_the_figure_to_its_title():
    fig = traversal_figure(grid_of(FakeModel("line"), LINE, grid_columns=1))
    fig.canvas.draw()
    assert_readable(fig)


def test_long_captions_widen_the_cells_instead_of_overlapping():
    grid = grid_of(FakeModel("line"), LINE, grid_columns=4)
    long = " slant=-12.34 width=12.34 thickness=1.00"
    wide = grid._replace(captions=[[c + long for c in row] for row in grid.captions])
    fig, narrow = traversal_figure(wide), traversal_figure(grid)
    fig.canvas.draw()
    assert_readable(fig)
    assert fig.get_figwidth() > narrow.get_figwidth() * 1.5


def test_png_is_written_grows_with_the_columns_and_is_byte_identical(tmp_path):
    grids = {k: grid_of(FakeModel("rectangles"), RECTANGLES, grid_columns=k) for k in (3, 10)}
    sizes = {}
    for k, grid in grids.items():
        path = plot_traversal(grid, tmp_path / f"t{k}.png")
        with Image.open(path) as png:
            sizes[k] = png.size
        again = plot_traversal(grid_of(FakeModel("rectangles"), RECTANGLES, grid_columns=k), tmp_path / "again.png")
        assert again.read_bytes() == path.read_bytes()
    assert sizes[10][0] > sizes[3][0] + 500 and sizes[10][1] == sizes[3][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.png", "t10.png", "t3.png"]    # no temp file left


def test_no_rows_still_writes_a_picture(tmp_path):
    grid = grid_of(FakeModel("line"), LINE, grid_bases=0)
    assert grid.images.shape == (0, 0, 28, 28) and grid.row_labels == [] and grid.col_values == []
    fig = traversal_figure(grid)
    fig.canvas.draw()
    assert_readable(fig)
    assert "no sweep drawn" in [t.get_text() for t in _texts(fig)]
    with Image.open(plot_traversal(grid, tmp_path / "t.png")) as png:
        assert png.size[0] > 100
