"""basicprop.images: the one converter, tiler and PNG writer."""
import numpy as np
import pytest
import torch
from PIL import Image

from basicprop import images


def test_to_uint8_rounds_clips_and_drops_channel():
    x = np.array([0.0, 0.5, 1.0, 1.7, -0.2, 1 / 255 * 0.49], np.float32).reshape(1, 1, 1, 6)
    assert images.to_uint8(x).tolist() == [[[0, 128, 255, 255, 0, 0]]]
    assert images.to_uint8(torch.from_numpy(x)).tolist() == [[[0, 128, 255, 255, 0, 0]]]
    u = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    assert images.to_uint8(u) is u
    with pytest.raises(ValueError, match="shape"):
        images.to_uint8(np.zeros((3, 4)))


def test_image_grid_places_cells_row_by_row():
    cells = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30, 40, 50, 60)])
    grid = images.image_grid(cells, 2, 3, pad=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1)
    assert grid[0].tolist() == [96] * 13
    assert grid[1, 1:4].tolist() == [10, 10, 10] and grid[1, 5:8].tolist() == [20, 20, 20]
    assert grid[4, 9:12].tolist() == [60, 60, 60]
    assert images.image_grid(cells, 2, 3, pad=1, scale=2).shape == (14, 26)
    with pytest.raises(ValueError, match="do not fill"):
        images.image_grid(cells, 2, 2)


def test_write_png_round_trips(tmp_path):
    picture = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = images.write_png(picture, tmp_path / "sub" / "p.png")
    assert np.array_equal(np.asarray(Image.open(path)), picture)
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.png"]


# ------------------------------------------------------------------------------------------ labelled grids
CELLS = np.stack([np.full((12, 14), 10 * (i + 1), np.uint8) for i in range(6)])  # 2 x 3 cells, values 10..60


def grid_corner(picture: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the tiled grid inside a framed picture: its first grey pad pixel (the frame is 255 and 0,
    the cells 10..60)."""
    hits = np.argwhere(picture == images.GRID_PAD_VALUE)
    return tuple(int(v) for v in hits.min(axis=0))


def outside_grid(picture: np.ndarray, bare: np.ndarray) -> np.ndarray:
    """The frame of ``picture`` (everything but the grid) as a boolean mask."""
    top, left = grid_corner(picture)
    frame = np.ones(picture.shape, bool)
    frame[top:top + bare.shape[0], left:left + bare.shape[1]] = False
    return frame


def test_no_labels_is_the_bare_grid():
    for scale in (1, 2, 3):
        assert np.array_equal(images.labelled_grid(CELLS, 2, 3, scale=scale),
                              images.image_grid(CELLS, 2, 3, scale=scale))


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_labels_frame_the_grid_without_moving_or_cutting_anything(scale):
    rows, cols, title = ["a", "row two"], ["x", "y", "zz"], "a title"
    picture = images.labelled_grid(CELLS, 2, 3, row_labels=rows, col_labels=cols, title=title, scale=scale)
    bare = images.image_grid(CELLS, 2, 3, scale=scale)
    top, left = grid_corner(picture)
    assert np.array_equal(picture[top:top + bare.shape[0], left:left + bare.shape[1]], bare)  # cells untouched
    frame = picture[outside_grid(picture, bare)]
    assert set(np.unique(frame)) == {images.LABEL_BACKGROUND, images.LABEL_INK}
    size = max(1, scale // 2)
    texts = rows + cols + [title]
    assert (frame == images.LABEL_INK).sum() == sum(int(images.text_mask(t, size).sum()) for t in texts)  # whole
    ink = np.argwhere(picture == images.LABEL_INK)
    assert ink.min() >= images.LABEL_GAP and (picture.shape - ink.max(axis=0) > images.LABEL_GAP).all()
    # each row label lies left of its row, each column label above its column
    pitch_r, pitch_c = (12 + images.GRID_PAD) * scale, (14 + images.GRID_PAD) * scale
    for i in range(2):
        band = picture[top + i * pitch_r: top + (i + 1) * pitch_r + images.GRID_PAD * scale, :left]
        assert (band == images.LABEL_INK).sum() == images.text_mask(rows[i], size).sum()
    for j in range(3):
        band = picture[:top, left + j * pitch_c: left + (j + 1) * pitch_c + images.GRID_PAD * scale]
        assert (band == images.LABEL_INK).sum() >= images.text_mask(cols[j], size).sum()


def test_long_labels_widen_the_picture_instead_of_being_cut():
    long = "left_height=21, right_height=21, size=8"
    width = images.text_mask(long).shape[1]
    picture = images.labelled_grid(CELLS[:1], 1, 1, row_labels=[long], col_labels=[long], title=long * 2, scale=1)
    bare = images.image_grid(CELLS[:1], 1, 1)
    top, left = grid_corner(picture)
    assert left >= width + images.LABEL_GAP            # the row label's margin
    assert top >= width + images.LABEL_GAP             # the column label, wider than its column, turned upright
    assert picture.shape[1] >= 2 * width + 2 * images.LABEL_GAP   # the title widens the picture
    frame = picture[outside_grid(picture, bare)]
    expected = 4 * images.text_mask(long).sum()        # nothing cut, nothing drawn over (the title twice)
    assert (frame == images.LABEL_INK).sum() == expected


def test_text_is_pillows_bitmap_font_pixel_for_pixel():
    drawn = ["".join("#" if v else "." for v in row) for row in images.text_mask("cat0=3")]
    assert drawn == [
        "....................................",
        "....................................",
        ".............##....###.........###..",
        ".............##...##.##.......##.##.",
        ".###...###..#####.##.##.####.....##.",
        "##.##.##.##..##...##.##........###..",
        "##.....####..##...##.##.####.....##.",
        "##.##.##.##..##.####.##.......##.##.",
        ".###..######..###..###.........###..",
        "....................................",
        "....................................",
    ]
    assert images.text_mask("cat0=3", 2).shape == (22, 72)
    assert images.text_mask("").shape == (11, 0)
    assert images.text_mask("x\u2192y").shape == (11, 18)   # outside latin-1: drawn as '?'


def test_labelled_pictures_are_byte_identical(tmp_path):
    import hashlib

    def draw(path):
        picture = images.labelled_grid(CELLS, 2, 3, row_labels=["a", "bb"], col_labels=["x", "y", "z"], title="t",
                                       scale=1)
        return images.write_png(picture, path).read_bytes(), picture

    (first, picture), (second, _) = draw(tmp_path / "1.png"), draw(tmp_path / "2.png")
    assert first == second
    assert picture.shape == (68, 74)
    assert hashlib.sha256(picture.tobytes()).hexdigest() == \
        "9fee9844ac6ac961b7c59577be5cc4020828c3d41350f2110699753d9d4c091c"


def test_label_counts_must_match_the_grid():
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        images.labelled_grid(CELLS, 2, 3, row_labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="1 column labels for 3 columns"):
        images.labelled_grid(CELLS, 2, 3, col_labels=["a"])
