"""The map-style torch Dataset: items, targets, transforms as in torchvision, and a real DataLoader."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

from basicprop.datasets import load_dataset
from basicprop.torchdata import BasicPropDataset

N = 300


@pytest.fixture(scope="module")
def rect():
    return load_dataset("basicprop-rectangles", "train", n=N, seed=1)


def test_item_is_a_unit_float_image_and_the_label(rect):
    ds = BasicPropDataset(rect)
    assert len(ds) == N
    x, y = ds[7]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    torch.testing.assert_close(x[0], torch.from_numpy(rect.images[7] / np.float32(255)))
    assert isinstance(y, int) and y == rect.labels[7] == 10 * rect.factors[7, 0] + rect.factors[7, 1]


def test_targets_factors_and_one_factor_by_name(rect):
    x, f = BasicPropDataset(rect, target="factors")[3]
    assert f.dtype == torch.int64 and f.tolist() == rect.factors[3].tolist()
    _, right = BasicPropDataset(rect, target="right_height")[3]
    assert right == rect.factors[3, 1]
    assert BasicPropDataset(rect, target="left_height").targets.tolist() == rect.factors[:, 0].tolist()


def test_unknown_target_names_the_choices(rect):
    with pytest.raises(ValueError, match=r"unknown target 'height'.*'label', 'factors', 'left_height', "
                                         r"'right_height'"):
        BasicPropDataset(rect, target="height")
    with pytest.raises(ValueError, match="callable"):
        BasicPropDataset(rect, transform="totensor")
    with pytest.raises(ValueError, match="loaded Dataset is used as it is"):
        BasicPropDataset(rect, split="test")
    with pytest.raises(ValueError, match="unknown dataset"):
        BasicPropDataset("basicprop-rect")


def test_transform_gets_the_pil_image_torchvision_mnist_gives(rect):
    seen = []
    ds = BasicPropDataset(rect, transform=lambda im: seen.append(im) or 0, target_transform=lambda y: y + 1000)
    image, target = ds[5]
    assert isinstance(seen[0], Image.Image) and seen[0].mode == "L" and seen[0].size == (28, 28)
    np.testing.assert_array_equal(np.asarray(seen[0]), rect.images[5])
    assert target == rect.labels[5] + 1000
    mnist_style = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    x, _ = BasicPropDataset(rect, transform=mnist_style)[5]
    torch.testing.assert_close(x, BasicPropDataset(rect)[5][0] * 2 - 1)


def test_dataloader_batches_and_seeded_shuffle(rect):
    ds = BasicPropDataset(rect, target="factors")
    x, y = next(iter(DataLoader(ds, batch_size=32, num_workers=0)))
    assert x.shape == (32, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (32, 2) and y.dtype == torch.int64
    assert y.tolist() == rect.factors[:32].tolist()

    def order(seed):
        loader = DataLoader(BasicPropDataset(rect), batch_size=64, shuffle=True, num_workers=0,
                            generator=torch.Generator().manual_seed(seed))
        return torch.cat([y for _, y in loader]).tolist()

    assert order(0) == order(0) != order(1)
    assert sorted(order(0)) == sorted(rect.labels.tolist())        # one epoch visits every item once


def test_loads_by_name_with_load_dataset_arguments():
    ds = BasicPropDataset("basicprop-line", split="test", n=50, seed=2, kind_params={"bg_noise": (0, 60)})
    ref = load_dataset("basicprop-line", "test", seed=2, n=50, kind_params={"bg_noise": (0, 60)})
    assert len(ds) == 50 and ds.factor_names == ("position",) and ds.factor_sizes == (10,)
    np.testing.assert_array_equal(ds[49][0][0].numpy() * 255, ref.images[49].astype(np.float32))


def test_mnist_digit_as_factor(mnist_dir):
    ds = BasicPropDataset("mnist", split="test", target="digit", data_dir=mnist_dir)
    assert len(ds) == 10_000
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and y == 7                      # the first MNIST test digit is a 7
