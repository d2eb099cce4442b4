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
