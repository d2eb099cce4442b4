"""The labels on the pictures say what the cells hold: training grids, ``sample`` and ``preview``."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from basicprop import get_kind
from basicprop.images import GRID_PAD, GRID_PAD_VALUE, LABEL_INK, image_grid, labelled_grid, text_mask
from basicprop.kinds import KIND_NAMES
from basicprop.preview import preview_cells, preview_grid, write_preview
from gan_models.grids import draw, samples_grid, save_grids, traversal_grid
from gan_models.latent import CodeSpec


class ProbeModel(torch.nn.Module):
    """A stand-in generator whose image shows its latent: the first pixel row holds cat0 (or y) / 10, the second
    (cont0 + 1) / 2, the rest is blank."""

    def __init__(self, spec: CodeSpec):
        super().__init__()
        self.spec = spec

    def generate(self, lat):
        out = torch.zeros(lat.n, 1, 28, 28)
        row = lat.y if self.spec.cond else (lat.cat[:, 0] if self.spec.cat else torch.zeros(lat.n, dtype=torch.long))
        out[:, 0, 0] = row[:, None].float() / 10
        if self.spec.cont:
            out[:, 0, 1] = (lat.cont[:, :1] + 1) / 2
        return out


def read_cells(images, n_rows, n_cols):
    """(n, 1, 28, 28) probe images -> (row code value, cont0 value) per cell, (n_rows, n_cols) each."""
    x = images[:, 0].numpy().reshape(n_rows, n_cols, 28, 28)
    return np.round(x[..., 0, 0] * 10).astype(int), x[..., 1, 0] * 2 - 1


def contains(picture: np.ndarray, mask: np.ndarray) -> bool:
    """Whether ``mask`` appears as ink in ``picture`` (0 = ink, every other pixel of the window not ink)."""
    ink = picture == LABEL_INK
    h, w = mask.shape
    tops, lefts = np.indices((ink.shape[0] - h + 1, ink.shape[1] - w + 1)).reshape(2, -1)
    for (r, c), want in np.ndenumerate(mask):  # keep the corners that agree with the mask, pixel by pixel
        keep = ink[tops + r, lefts + c] == want
        tops, lefts = tops[keep], lefts[keep]
    return len(tops) > 0


@pytest.mark.parametrize("spec, code", [(CodeSpec(noise_dim=4, cat=(10,), cont=2), "cat0"),
                                        (CodeSpec(noise_dim=4, cat=(4, 3), cont=0), "cat0"),
                                        (CodeSpec(noise_dim=4, cat=(), cont=2, cond=10), "y")])
def test_sample_rows_hold_the_value_their_label_names(spec, code):
    grid = samples_grid(spec, torch.Generator().manual_seed(0), 10, 7)
    values, _ = read_cells(ProbeModel(spec).generate(grid.latent), 10, 7)
    k = spec.cond or spec.cat[0]
    assert grid.row_labels == [f"{code}={r % k}" for r in range(10)]
    assert (values == (np.arange(10) % k)[:, None]).all()
    # the rest stays random: several cont0 values in every row
    if spec.cont:
        assert all(len(set(np.round(row, 3))) == 7 for row in grid.latent.cont[:, 0].reshape(10, 7).numpy())


def test_samples_without_codes_have_no_row_labels():
    grid = samples_grid(CodeSpec(noise_dim=4, cat=(), cont=0), torch.Generator().manual_seed(0))
    assert grid.row_labels is None and grid.col_labels is None and grid.title == "samples"


def test_traversal_columns_hold_the_swept_value_their_label_names():
    spec = CodeSpec(noise_dim=4, cat=(10,), cont=2)
    grid = traversal_grid(spec, torch.Generator().manual_seed(0), cont_index=0, n_cols=5)
    rows, conts = read_cells(ProbeModel(spec).generate(grid.latent), 10, 5)
    assert grid.row_labels == [f"cat0={r}" for r in range(10)] and (rows == np.arange(10)[:, None]).all()
    assert grid.col_labels == ["-1.00", "-0.50", "0.00", "0.50", "1.00"]
    assert np.allclose(conts, [float(v) for v in grid.col_labels], atol=1 / 255)
    assert grid.title == "cont0 from -1 to 1 (columns), cat0 (rows)"
    table = traversal_grid(CodeSpec(noise_dim=4, cat=(3, 4), cont=0), torch.Generator().manual_seed(0), cat_cols=1)
    assert table.col_labels == [f"cat1={j}" for j in range(4)]
    assert (table.latent.cat[:, 1].reshape(3, 4) == torch.arange(4)).all()


def test_training_grids_are_labelled_and_keep_their_names(tmp_path):
    spec = CodeSpec(noise_dim=4, cat=(10, 10), cont=1)
    model = ProbeModel(spec)
    paths = save_grids(model, tmp_path, "000200", 7, torch.device("cpu"))
    assert [p.name for p in paths] == ["samples_000200.png", "traverse_cont0_000200.png",
                                       "traverse_cat1_000200.png"]
    samples = np.asarray(Image.open(paths[0]))
    for text in ["samples, cat0 (rows), step 200"] + [f"cat0={r}" for r in range(10)]:
        assert contains(samples, text_mask(text)), text
    traverse = np.asarray(Image.open(paths[1]))
    for text in ["cont0 from -1 to 1 (columns), cat0 (rows), step 200", "-1.00", "1.00", "cat0=9"]:
        assert contains(traverse, text_mask(text)), text
    assert contains(np.asarray(Image.open(paths[2])), text_mask("cat1=9"))
    # the cells are the 2x upscaled grid of the same latents
    grid = samples_grid(spec, torch.Generator().manual_seed(7))
    bare = image_grid(model.generate(grid.latent), 10, 10, scale=2)
    top, left = np.argwhere(samples == GRID_PAD_VALUE).min(axis=0)
    assert np.array_equal(samples[top:top + bare.shape[0], left:left + bare.shape[1]], bare)
    assert save_grids(model, tmp_path / "again", "000200", 7, torch.device("cpu"))[0].read_bytes() == \
        paths[0].read_bytes()


def test_draw_without_labels_is_the_bare_grid():
    spec = CodeSpec(noise_dim=4, cat=(10,), cont=1)
    grid = traversal_grid(spec, torch.Generator().manual_seed(0), cont_index=0)
    model = ProbeModel(spec)
    assert np.array_equal(draw(model.generate, grid, scale=3, labels=False),
                          image_grid(model.generate(grid.latent), 10, 10, scale=3))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from gan_models import make_config, train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    return train(make_config("infogan", steps=1, out=str(out), dataset="basicprop-line", batch_size=8, eval_size=50,
                             progress=False))


def test_sample_command_labels_its_grid_and_keeps_the_cells(checkpoint, tmp_path):
    from cli import cli

    def sample(name, *args):
        r = CliRunner().invoke(cli, ["sample", "--ckpt", str(checkpoint), "--out", str(tmp_path / name), *args])
        assert r.exit_code == 0, r.output
        return np.asarray(Image.open(tmp_path / name))

    labelled, bare = sample("l.png", "--n", "12", "--cols", "4"), sample("b.png", "--n", "12", "--cols", "4",
                                                                         "--no-labels")
    assert bare.shape == (((28 + GRID_PAD) * 3 + GRID_PAD) * 2, ((28 + GRID_PAD) * 4 + GRID_PAD) * 2)
    top, left = np.argwhere(labelled == GRID_PAD_VALUE).min(axis=0)
    assert np.array_equal(labelled[top:top + bare.shape[0], left:left + bare.shape[1]], bare)
    for text in ("samples, cat0 (rows), step 1", "cat0=0", "cat0=2"):
        assert contains(labelled, text_mask(text)), text
    assert np.array_equal(sample("s1.png", "--n", "12", "--cols", "4", "--scale", "1"), bare[::2, ::2])
    traverse = sample("t.png", "--traverse", "1", "--cols", "3")
    for text in ("cont1 from -1 to 1 (columns), cat0 (rows), step 1", "-1.00", "0.00", "1.00", "cat0=9"):
        assert contains(traverse, text_mask(text)), text


def test_preview_labels_name_the_factor_values_of_every_kind():
    for name in KIND_NAMES:
        kind = get_kind(name)
        p = preview_cells(name)
        last = kind.factor_values[-1]
        assert p.col_labels == [f"{kind.factor_names[-1]}={v:g}" if isinstance(v, float) else
                                f"{kind.factor_names[-1]}={v}" for v in last]
        if len(kind.factor_sizes) == 1:
            assert p.row_labels is None
        else:
            assert len(p.row_labels) == p.cells.shape[0]
    assert preview_cells("translation").row_labels[:2] == ["size=4, x=3", "size=4, x=5"]
    assert preview_cells("rectangles", samples=2).row_labels[:3] == ["left_height=3"] * 2 + ["left_height=5"]


def test_preview_labels_match_the_pixels():
    """rectangles without noise: the bar heights counted in each cell are the heights its labels name."""
    p = preview_cells("rectangles", kind_params={"fg_noise": None})
    left = (p.cells[:, :, :, 3:13] > 0).any(axis=3).sum(axis=2)     # (rows, cols) left bar height
    right = (p.cells[:, :, :, 15:25] > 0).any(axis=3).sum(axis=2)
    assert [int(t.split("=")[1]) for t in p.row_labels] == left[:, 0].tolist()
    assert [int(t.split("=")[1]) for t in p.col_labels] == right[0].tolist()


def test_preview_picture_keeps_the_old_grid_inside_its_labels(tmp_path):
    bare = preview_grid("shapes", scale=2)
    picture = preview_grid("shapes", scale=2, labels=True)
    top, left = np.argwhere(picture == GRID_PAD_VALUE).min(axis=0)
    assert np.array_equal(picture[top:top + bare.shape[0], left:left + bare.shape[1]], bare)
    for text in ("shape=triangle", "size=22", "shapes"):
        assert contains(picture, text_mask(text)), text
    written = np.asarray(Image.open(write_preview("shapes", tmp_path / "s.png")))
    assert np.array_equal(written, picture)
    assert np.array_equal(np.asarray(Image.open(write_preview("shapes", tmp_path / "s1.png", scale=1))),
                          preview_grid("shapes"))
    assert np.array_equal(np.asarray(Image.open(write_preview("shapes", tmp_path / "n.png", labels=False))), bare)


def test_preview_of_a_file_and_of_mnist_name_their_factors(tmp_path, mnist_dir):
    from basicprop.generate import make_dataset

    path = make_dataset(get_kind("colorings"), tmp_path / "c.npz", n_train=200, n_test=40, seed=0)
    p = preview_cells(str(path))
    assert p.title == "c.npz (train)" and p.row_labels[0] == "position=3"
    assert p.col_labels == ["intensity=0.4", "intensity=0.6", "intensity=0.8", "intensity=1"]
    m = preview_cells("mnist", data_dir=mnist_dir)
    assert m.row_labels is None and m.col_labels == [f"digit={d}" for d in range(10)]
    picture = labelled_grid(m.cells.reshape(-1, 28, 28), *m.cells.shape[:2], col_labels=m.col_labels, title=m.title)
    assert contains(picture, text_mask("digit=7")) and contains(picture, text_mask("mnist (train)"))
