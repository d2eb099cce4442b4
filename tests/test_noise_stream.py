"""The noise stream of dataset format version 2, pinned: a reference that follows basicprop.noise's docstring one
value at a time, the bytes of a small dataset per kind and noise setting, and the noise's density and uniformity."""
from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from scipy import stats

from basicprop import KIND_NAMES, get_kind
from basicprop.generate import FORMAT_VERSION, render_dataset
from basicprop.noise import CHUNK_PIXELS, GROUPED_MIN

NOISE = {"none": {"fg_noise": None}, "fg": {}, "fg+bg": {"bg_noise": (0, 60)}}


def reference_render(kind, factors, seed):
    """``kind.render(factors, np.random.default_rng(seed))`` as the docstring of basicprop.noise words it, in loops;
    and the number of first draws rejected."""
    codes = kind.ink(kind.all_factors()).reshape(kind.num_classes, -1)
    lows = np.array([lo for lo, _ in kind.pixel_ranges])[codes]
    widths = np.array([hi - lo for lo, hi in kind.pixel_ranges])[codes]
    index = kind.labels(factors).tolist()
    n, pixels = len(index), codes.shape[1]
    bits = np.random.default_rng(seed).bit_generator

    def draw(k):  # k 16-bit values: whole 64-bit words, little endian
        return bits.random_raw(-(-k // 4)).astype("<u8").view("<u2")[:k].tolist()

    first = []  # (image, pixel, r) in the order drawn
    noisy = widths > 1
    if noisy.mean() < 0.5 and n >= GROUPED_MIN * kind.num_classes:
        for c in range(kind.num_classes):
            members, where = [i for i in range(n) if index[i] == c], np.flatnonzero(noisy[c]).tolist()
            step = max(1, CHUNK_PIXELS // max(1, len(where)))
            for s in range(0, len(members) if where else 0, step):
                block = list(itertools.product(members[s:s + step], where))
                first += [(i, p, r) for (i, p), r in zip(block, draw(len(block)))]
    else:
        step = CHUNK_PIXELS // pixels
        for s in range(0, n, step):
            block = list(itertools.product(range(s, min(n, s + step)), range(pixels)))
            first += [(i, p, r) for (i, p), r in zip(block, draw(len(block)))]
    r = {(i, p): v for i, p, v in first}

    def rejected(i, p):
        w = int(widths[index[i], p])
        return (r[i, p] * w) % 65536 < 65536 % w

    todo = [(i, p) for i, p, _ in first if rejected(i, p)]
    redrawn = len(todo)
    while todo:
        for key, v in zip(todo, draw(len(todo))):
            r[key] = v
        todo = [key for key in todo if rejected(*key)]
    images = lows[index].copy()
    for (i, p), v in r.items():
        images[i, p] += v * int(widths[index[i], p]) >> 16
    return images.reshape(n, 28, 28).astype(np.uint8), redrawn


@pytest.mark.parametrize("name,noise,n,redraws", [
    ("line", "fg", 160, True),            # combination by combination
    ("colorings", "fg", 640, True),       # four ink levels, four ranges
    ("line", "fg", 30, True),             # too few images per combination: every pixel draws
    ("rectangles", "fg+bg", 40, True),    # every pixel noisy
    ("ellipses", "fg", 7, False),
    ("line", "fg+bg", 170, True),         # two blocks of whole images
    ("shapes", "fg", 330, True),          # mostly the 22 x 22 square: two blocks of one combination
])
def test_render_follows_the_documented_stream(name, noise, n, redraws):
    kind = get_kind(name, **NOISE[noise])
    factors = kind.sample_factors(n, np.random.default_rng(1))
    if name == "shapes":
        factors[:300] = [0, 4]
    expected, redrawn = reference_render(kind, factors, 2)
    np.testing.assert_array_equal(kind.render(factors, np.random.default_rng(2)), expected)
    assert (redrawn > 0) == redraws  # the redraw rounds are exercised where they happen


# sha256 over train images, train factors, test images, test factors (little-endian int64) of
# render_dataset(kind, n_train=GROUPED_MIN * classes, n_test=40, seed=7): dataset format version 2
PINNED = {
    ("line", "none"): "764e21a91255674c3a80fae364e36d9796c43d5e6137a1656afdb93275b48291",
    ("line", "fg"): "7bc6edc795b2d8d581bc838126d502801b82d8c8a4f30d4aeaeb3436cf2b104c",
    ("line", "fg+bg"): "cc642c0fcc81701cf6fce1323cd88df201dda0f2bf78e6e9db525d557ee58198",
    ("rectangles", "none"): "ea6cc317a295b54775515ce2c98f9f19dbf3636e95307ca4f3102b9fb1943a7a",
    ("rectangles", "fg"): "17bcea034c75ed857b5351e11151b66e3ec8950453da2d249ac7be023368c6fd",
    ("rectangles", "fg+bg"): "00661a22672b0f0d2a5c6bbd2efb250661f0d4b34e7225de5b789f02408305d8",
    ("translation", "none"): "c6b2e8e8c2ac37da5a53fa6c8a9714eeeaea32ed59d5b1029ab4810ef89492ce",
    ("translation", "fg"): "ccc7536a4076032126f147865a9021716bd41ca042f1e6a5e4f3c5a10c9a1e84",
    ("translation", "fg+bg"): "eaccb82f641491330aaba8eca2a7fa273e381fd9bad891c1dc96199170436246",
    ("ellipses", "none"): "ebce23ab0bf3486864ae0ab27e74fe11a555db4606a191cb76a0902095fde3ae",
    ("ellipses", "fg"): "bcbbebbd366686f780900d0420c62250820fd475e885f98f63f2e46baede6d08",
    ("ellipses", "fg+bg"): "fc0a291bf0c42f56261e6559d1b23b203224712e005e901c73a671622be7c250",
    ("colorings", "none"): "b58a371e2ec090a2542cf649e884ad08ef2311f1351cf3225ff94da103788999",
    ("colorings", "fg"): "91aca7dcdc175a92816c68cb4d8bbe57cf944a6b7b672287265a50c6c04d2197",
    ("colorings", "fg+bg"): "6c09c1ff0a3d50721995e8910bb2203a666d3a6812dbab95a3bc790e190e5278",
    ("shapes", "none"): "0a6f9874377fa8482d82db299a7d1eac2bec4e1db86d1731c0310f30c060e827",
    ("shapes", "fg"): "e0c3c170db8cd7167a5e6cdbe152b9e949a6e33853db276e19bb3861a90979b5",
    ("shapes", "fg+bg"): "640b33e6bb903a39ff71b288b24da2948c9b67c4cbec86a26ebbafd77e44e83d",
}


def dataset_digest(name, noise):
    kind = get_kind(name, **NOISE[noise])
    splits, head = render_dataset(kind, n_train=GROUPED_MIN * kind.num_classes, n_test=40, seed=7)
    digest = hashlib.sha256()
    for split in ("train", "test"):
        digest.update(splits[split]["images"].tobytes())
        digest.update(splits[split]["factors"].astype("<i8").tobytes())
    return digest.hexdigest(), head


@pytest.mark.parametrize("name", KIND_NAMES)
@pytest.mark.parametrize("noise", NOISE)
def test_dataset_bytes_pinned(name, noise):
    digest, head = dataset_digest(name, noise)
    assert head["format_version"] == FORMAT_VERSION == 2  # a change of these bytes needs a new format version
    assert digest == PINNED[name, noise]


@pytest.mark.parametrize("name", KIND_NAMES)
@pytest.mark.parametrize("noise", ["fg", "fg+bg"])
def test_noise_density_and_uniformity(name, noise):
    """Every pixel of a noisy range leaves its low end with probability 1 - 1/w (binomial, 5 sigma), and its values
    are uniform (chi-square), on both ways of drawing."""
    kind = get_kind(name, **NOISE[noise])
    rng = np.random.default_rng(11)
    factors = np.repeat(kind.all_factors(), 2 * GROUPED_MIN, axis=0)
    factors = factors[rng.permutation(len(factors))]
    images, ink = kind.render(factors, rng), kind.ink(factors)
    assert kind._noise.sparse == (noise == "fg")
    for code, (lo, hi) in enumerate(kind.pixel_ranges):
        values = images[ink == code].astype(np.int64)
        if hi - lo == 1:
            assert (values == lo).all()
            continue
        assert values.min() >= lo and values.max() < hi
        n, p = values.size, 1 - 1 / (hi - lo)
        assert abs((values != lo).sum() - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1, (code, lo, hi)
        assert stats.chisquare(np.bincount(values - lo, minlength=hi - lo)).pvalue > 1e-4, (code, lo, hi)
