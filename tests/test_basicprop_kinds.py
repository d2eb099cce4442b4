"""Shape kinds: geometry pinned to pixels, labels, noise ranges, the factor API."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from basicprop import KIND_NAMES, get_kind
from basicprop.generate import balanced_factors
from basicprop.noise import GROUPED_MIN, NoiseTable, high_product


def clean(name, **params):
    return get_kind(name, fg_noise=None, **params)


def render_all(kind, seed=0):
    return kind.render(kind.all_factors(), np.random.default_rng(seed))


def bbox(img):
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return rows.min(), rows.max(), cols.min(), cols.max()


# ------------------------------------------------------------------------------------------------ the study's
def test_line_columns_pinned():
    kind = clean("line")
    assert kind.factor_names == ("position",) and kind.factor_sizes == (10,)
    images = render_all(kind)
    for i, img in enumerate(images):
        expected = np.zeros((28, 28), np.uint8)
        expected[:, 3 + 2 * i: 7 + 2 * i] = 255  # columns 3+2i .. 6+2i, every row
        np.testing.assert_array_equal(img, expected)
    assert (images[0][:, 3:7] == 255).all() and (images[9][:, 21:25] == 255).all()
    # neighbouring positions overlap by exactly two columns
    assert ((images[4] > 0) & (images[5] > 0)).any(axis=0).sum() == 2
    np.testing.assert_array_equal(kind.labels(kind.all_factors()), np.arange(10))


def test_rectangles_rows_and_columns_pinned():
    kind = clean("rectangles")
    assert kind.factor_names == ("left_height", "right_height") and kind.factor_sizes == (10, 10)
    assert kind.factor_values == ((3, 5, 7, 9, 11, 13, 15, 17, 19, 21),) * 2
    factors = kind.all_factors()
    images = kind.render(factors, np.random.default_rng(0))
    for (left, right), img in zip(factors, images):
        expected = np.zeros((28, 28), np.uint8)
        expected[3:3 + 3 + 2 * left, 3:13] = 255  # rows 3 .. 3+h-1, columns 3..12
        expected[3:3 + 3 + 2 * right, 15:25] = 255  # columns 15..24
        np.testing.assert_array_equal(img, expected)
    tallest = images[99]
    assert tallest[3:24, 3:13].all() and not tallest[24:, :].any() and not tallest[:3].any()
    assert not tallest[:, 13:15].any() and not tallest[:, :3].any() and not tallest[:, 25:].any()
    shortest = images[0]
    assert shortest[3:6, 3:13].all() and not shortest[6:].any()


def test_rectangles_label_is_10_left_plus_right():
    kind = get_kind("rectangles")
    factors = np.array([[0, 0], [0, 9], [9, 0], [3, 7], [9, 9]])
    np.testing.assert_array_equal(kind.labels(factors), [0, 9, 90, 37, 99])
    np.testing.assert_array_equal(kind.factors_from_labels([0, 9, 90, 37, 99]), factors)


def test_no_noise_is_255_not_1():
    for name in ("line", "rectangles", "translation", "ellipses", "shapes"):
        images = render_all(clean(name))
        assert set(np.unique(images)) == {0, 255}, name


# ------------------------------------------------------------------------------------------------ BasicProp++
def test_translation_square_position_and_size():
    kind = clean("translation")
    assert kind.factor_names == ("size", "x", "y") and kind.factor_sizes == (3, 8, 8)
    for (s, x, y), img in zip(kind.all_factors(), render_all(kind)):
        side = (4, 6, 8)[s]
        top, left = 3 + 2 * y, 3 + 2 * x
        assert bbox(img) == (top, top + side - 1, left, left + side - 1)
        assert (img > 0).sum() == side * side


def test_ellipses_bounding_box_is_the_diameters():
    kind = clean("ellipses")
    assert kind.factor_values == (tuple(range(4, 23, 2)),) * 2
    for (w, h), img in zip(kind.all_factors(), render_all(kind)):
        width, height = 4 + 2 * w, 4 + 2 * h
        assert bbox(img) == (14 - height // 2, 14 + height // 2 - 1, 14 - width // 2, 14 + width // 2 - 1)
        np.testing.assert_array_equal(img, img[::-1, ::-1])  # symmetric about the centre (14, 14)
        area = (img > 0).sum()
        assert abs(area - np.pi * width * height / 4) < 0.12 * np.pi * width * height / 4 + 4
    assert not np.array_equal(render_all(kind)[kind.labels([[9, 0]])[0]], render_all(kind)[kind.labels([[0, 9]])[0]])


def test_colorings_levels():
    kind = clean("colorings")
    assert kind.factor_names == ("position", "intensity") and kind.factor_sizes == (10, 4)
    images = render_all(kind)
    for (p, i), img in zip(kind.all_factors(), images):
        expected = np.zeros((28, 28), np.uint8)
        expected[:, 3 + 2 * p: 7 + 2 * p] = (102, 153, 204, 255)[i]
        np.testing.assert_array_equal(img, expected)
    noisy = get_kind("colorings")
    f = np.repeat(noisy.all_factors(), 20, axis=0)
    img = noisy.render(f, np.random.default_rng(1))
    for i, (lo, hi) in enumerate([(60, 96), (90, 144), (120, 192), (150, 240)]):
        ink = img[f[:, 1] == i][noisy.ink(f[f[:, 1] == i]) > 0]
        assert ink.min() == lo and ink.max() == hi - 1
    other = get_kind("colorings", levels=[0.5, 1.0], fg_noise=None)
    assert other.factor_sizes == (10, 2) and set(np.unique(render_all(other))) == {0, 128, 255}


def test_shapes_boxes_and_distinct():
    kind = clean("shapes")
    assert kind.factor_values[0] == ("square", "disc", "triangle", "cross")
    images = render_all(kind)
    for (shape, size), img in zip(kind.all_factors(), images):
        s = (6, 10, 14, 18, 22)[size]
        assert bbox(img) == (14 - s // 2, 14 + s // 2 - 1, 14 - s // 2, 14 + s // 2 - 1)
        if shape == 0:
            assert (img > 0).sum() == s * s
        if shape == 2:  # triangle: rows widen 2, 2, 4, 4, ..., s
            widths = (img > 0).sum(axis=1)[14 - s // 2: 14 + s // 2]
            np.testing.assert_array_equal(widths, 2 * (np.arange(s) // 2 + 1))
    assert len({img.tobytes() for img in images}) == len(images)


# ------------------------------------------------------------------------------------------------------ noise
@pytest.mark.parametrize("name", KIND_NAMES)
def test_noise_ranges_respected(name):
    kind = get_kind(name, fg_noise=(150, 240), bg_noise=(0, 60))
    rng = np.random.default_rng(0)
    f = kind.sample_factors(400, rng)
    images, ink = kind.render(f, rng), kind.ink(f)
    bg = images[ink == 0]
    assert bg.min() == 0 and bg.max() == 59
    if name != "colorings":
        fg = images[ink > 0]
        assert fg.min() == 150 and fg.max() == 239
    fg_only = get_kind(name).render(f, rng)
    assert (fg_only[ink == 0] == 0).all() and (fg_only[ink > 0] >= 60).all()


def test_noise_is_uniform():
    kind = get_kind("rectangles", bg_noise=(0, 60))
    rng = np.random.default_rng(123)
    f = kind.sample_factors(3000, rng)
    images, ink = kind.render(f, rng), kind.ink(f)
    for values, lo, hi in ((images[ink > 0], 150, 240), (images[ink == 0], 0, 60)):
        counts = np.bincount(values, minlength=256)[lo:hi]
        assert stats.chisquare(counts).pvalue > 1e-3


def test_custom_and_extreme_ranges():
    f = np.array([[0, 9]])
    full = get_kind("rectangles", fg_noise=(0, 256), bg_noise=(255, 256))
    img = full.render(np.repeat(f, 200, axis=0), np.random.default_rng(0))
    ink = full.ink(f)[0] > 0
    assert (img[:, ~ink] == 255).all() and img[:, ink].min() == 0 and img[:, ink].max() == 255
    const = get_kind("line", fg_noise=(200, 201))
    assert set(np.unique(const.render([[3]], np.random.default_rng(0)))) == {0, 200}


def test_noise_table_values_in_range_on_both_paths():
    ranges = [(0, 1), (0, 200), (10, 13), (241, 256)]  # 2**16 % 241 = 225: rejections every few hundred draws
    dense = NoiseTable(np.tile(np.array([0, 1, 2, 3], np.uint8), (1, 50, 1)), ranges)  # every pixel noisy
    out = dense.render(np.zeros(500, np.int64), np.random.default_rng(0)).reshape(-1, 4)
    assert (out[:, 0] == 0).all() and out[:, 1].max() == 199 and set(np.unique(out[:, 2])) == {10, 11, 12}
    assert out[:, 3].min() == 241 and out[:, 3].max() == 255
    table = np.zeros((3, 4, 8), np.uint8)
    table[1, 0, :3], table[2, 1] = 1, 3  # one noisy pixel in eight at most: drawn combination by combination
    sparse = NoiseTable(table, ranges)
    index = np.arange(3000) % 3
    images = sparse.render(index, np.random.default_rng(1))
    assert sparse.sparse and len(index) >= GROUPED_MIN * 3
    np.testing.assert_array_equal(images[index == 0], 0)
    assert (images[index == 1][:, 0, :3] < 200).all() and not images[index == 1][:, 1:].any()
    assert set(np.unique(images[index == 2][:, 1])) == set(range(241, 256)) and not images[index == 2][:, 2:].any()


def test_mulhi_with_rejection_is_exactly_uniform():
    # every 16-bit r once: the accepted r map to each of 0..w-1 exactly 2**16 // w times
    r = np.arange(1 << 16)
    for w in (1, 2, 3, 60, 90, 241, 255, 256):
        values = high_product(r.astype(np.uint16), np.uint16(w))
        np.testing.assert_array_equal(values, r * w >> 16)
        accepted = (r * w) % (1 << 16) >= (1 << 16) % w
        assert (np.bincount(values[accepted], minlength=w) == (1 << 16) // w).all(), w


class ScriptedBits:
    """A generator whose bit stream is given: every 16-bit value once, in order, then ``tail`` (redraws)."""

    def __init__(self, tail):
        self.values = np.concatenate([np.arange(1 << 16), tail]).astype("<u2")
        self.bit_generator, self.used = self, 0

    def random_raw(self, n):
        words = self.values[4 * self.used:4 * (self.used + n)].view("<u8")
        self.used += n
        assert words.size == n, "drew past the script"
        return words


@pytest.mark.parametrize("w", [90, 241])
def test_rejected_draws_are_redrawn_in_order(w):
    # one image of 65,536 noisy pixels, so pixel i gets first draw i; the redraws follow, rounds in pixel order
    table = np.ones((1, 256, 256), np.uint8)
    tail = (np.arange(4000) * 7919 + 12345) % (1 << 16)
    out = NoiseTable(table, [(0, 1), (5, 5 + w)]).render(np.zeros(1, np.int64), ScriptedBits(tail)).reshape(-1)
    # the reference, one value at a time
    rejects = lambda v: (v * w) % (1 << 16) < (1 << 16) % w  # noqa: E731
    final = list(range(1 << 16))
    todo, used = [i for i in range(1 << 16) if rejects(i)], 0
    assert len(todo) == (1 << 16) % w
    rounds = 0
    while todo:  # a round takes whole 64-bit words: the unused 16-bit values of its last word are dropped
        for k, i in enumerate(todo):
            final[i] = int(tail[used + k])
        used += -(-len(todo) // 4) * 4
        todo, rounds = [i for i in todo if rejects(final[i])], rounds + 1
    assert rounds >= (2 if w == 241 else 1)
    np.testing.assert_array_equal(out, 5 + (np.array(final) * w >> 16))
    first_accepted = ~rejects(np.arange(1 << 16))
    assert (np.bincount(out[first_accepted] - 5, minlength=w) == (1 << 16) // w).all()


@pytest.mark.parametrize("bad", [(100, 100), (200, 100), (-1, 10), (0, 300), (1.5, 10), "abc", (1, 2, 3)])
def test_bad_noise_range(bad):
    with pytest.raises(ValueError, match="noise"):
        get_kind("line", fg_noise=bad)
    with pytest.raises(ValueError, match="noise"):
        get_kind("line", bg_noise=bad)


# ------------------------------------------------------------------------------------------------- factor API
@pytest.mark.parametrize("name", KIND_NAMES)
def test_factor_api(name):
    kind = get_kind(name, bg_noise=True)
    rng = np.random.default_rng(0)
    f = kind.sample_factors(64, rng)
    assert f.shape == (64, len(kind.factor_names)) and f.dtype == np.int64
    assert (f >= 0).all() and (f < np.array(kind.factor_sizes)).all()
    images = kind.render(f, rng)
    assert images.shape == (64, 28, 28) and images.dtype == np.uint8
    labels = kind.labels(f)
    assert labels.dtype == np.int64 and np.array_equal(kind.factors_from_labels(labels), f)
    np.testing.assert_array_equal(labels, np.ravel_multi_index(tuple(f.T), kind.factor_sizes))
    assert kind.num_classes <= 256
    rebuilt = get_kind(kind.name, **json.loads(json.dumps(kind.params)))
    assert rebuilt == kind and rebuilt.params == kind.params
    # deterministic given the generator state; another seed gives other noise
    a = kind.render(f, np.random.default_rng(5))
    assert np.array_equal(a, kind.render(f, np.random.default_rng(5)))
    assert not np.array_equal(a, kind.render(f, np.random.default_rng(6)))
    # vectorised render == one at a time without noise
    c = get_kind(name, fg_noise=None)
    np.testing.assert_array_equal(c.render(f, rng), np.concatenate([c.render(f[i:i + 1], rng) for i in range(8)] +
                                                                   [c.render(f[8:], rng)]))
    assert kind.render(f[:0], rng).shape == (0, 28, 28)


def test_bad_factors_and_names():
    kind = get_kind("rectangles")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="left_height"):
        kind.render([[10, 0]], rng)
    with pytest.raises(ValueError, match="shape"):
        kind.render([0, 1], rng)
    with pytest.raises(ValueError, match="integer"):
        kind.render([[0.5, 1.0]], rng)
    with pytest.raises(ValueError, match="unknown kind 'lin'; choose from"):
        get_kind("lin")
    with pytest.raises(ValueError, match="no parameter 'levels'"):
        get_kind("line", levels=[0.5])
    with pytest.raises(ValueError, match="levels"):
        get_kind("colorings", levels=[0.8, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        kind.sample_factors(-1, rng)


def test_balanced_factors():
    kind = get_kind("rectangles")
    rng = np.random.default_rng(0)
    f = balanced_factors(kind, 60_000, rng)
    assert (np.bincount(kind.labels(f), minlength=100) == 600).all()
    assert not np.array_equal(kind.labels(f[:100]), np.arange(100))  # shuffled
    counts = np.bincount(kind.labels(balanced_factors(kind, 150, rng)), minlength=100)
    assert counts.sum() == 150 and set(counts) == {1, 2}
