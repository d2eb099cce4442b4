"""eval.semisupervised: the code -> digit map, generated images labelled through it, the two classifier arms, and
``python -m eval augment`` (JSON + PNG, one-line errors)."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from basicprop.datasets import load_dataset
from eval import semisupervised as ss
from eval.cli import group
from gan_models.latent import CodeSpec, sample_latent
from gan_models.nets import QOut

PERM = np.array([3, 7, 0, 9, 1, 5, 8, 2, 6, 4])   # the fake model's code value c draws / reads digit PERM[c]


class DigitModel:
    """A fake MNIST InfoGAN whose code *is* the digit, permuted: Q reads the digit of a real MNIST image by lookup
    and answers code value PERM^-1[digit]; G draws, for code value c, a real training image of digit PERM[c]
    chosen by the noise z."""

    def __init__(self, mnist_dir, perm=PERM):
        train = load_dataset("mnist", "train", data_dir=mnist_dir)
        test = load_dataset("mnist", "test", data_dir=mnist_dir)
        self.spec = CodeSpec(noise_dim=1, cat=(10,), cont=0)
        self.dataset_meta = {"dataset": "mnist", "kind": "mnist"}
        self.perm = np.asarray(perm)
        self.code_of_digit = np.argsort(self.perm)
        self.by_digit = [train.images[train.labels == d] for d in range(10)]
        self.digit_of = {im.tobytes(): int(lab) for ds in (train, test) for im, lab in zip(ds.images, ds.labels)}

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def generate(self, latent):
        out = []
        for z, c in zip(latent.z[:, 0].numpy(), latent.cat[:, 0].numpy()):
            pool = self.by_digit[self.perm[c]]
            out.append(pool[int((z + 1) / 2 * (len(pool) - 1))])
        return torch.from_numpy(np.stack(out)).float().div(255).unsqueeze(1)

    def encode(self, images):
        digits = np.array([self.digit_of[im.tobytes()] for im in np.asarray(images)])
        logits = torch.nn.functional.one_hot(torch.from_numpy(self.code_of_digit[digits]), 10).float() * 10
        return QOut([logits], torch.zeros(len(digits), 0), None)


@pytest.fixture(scope="module")
def fake(mnist_dir):
    return DigitModel(mnist_dir)


# ------------------------------------------------------------------------------------------- code -> digit map
def test_map_recovers_a_permutation_from_noisy_codes():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, 500)
    codes = np.argsort(PERM)[digits]
    wrong = rng.random(500) < 0.3                      # 30 % of Q's answers random
    codes[wrong] = rng.integers(0, 10, wrong.sum())
    assert ss.code_digit_map(codes, digits).tolist() == PERM.tolist()


def test_map_is_one_to_one_when_two_codes_claim_a_digit():
    # code 0 sees digit 5 three times, code 1 sees digit 5 twice and digit 2 once: majority would give both 5;
    # the assignment gives 0 -> 5 and 1 -> 2 (3 + 1 images right instead of 2 + 2)
    codes = np.array([0, 0, 0, 1, 1, 1] + list(range(2, 10)))
    digits = np.array([5, 5, 5, 5, 5, 2] + [0, 1, 3, 4, 6, 7, 8, 9])
    m = ss.code_digit_map(codes, digits)
    assert m.tolist() == [5, 2, 0, 1, 3, 4, 6, 7, 8, 9]


def test_map_gives_unseen_code_values_the_digits_left_over():
    codes = np.array([0, 1, 2, 3, 4, 5, 6, 7])          # values 8 and 9 never read
    digits = np.array([9, 8, 7, 6, 5, 4, 3, 2])
    m = ss.code_digit_map(codes, digits)
    assert m[:8].tolist() == [9, 8, 7, 6, 5, 4, 3, 2]
    assert sorted(m.tolist()) == list(range(10))


# --------------------------------------------------------------------------------------- drawing and generating
def test_labelled_draw_is_class_balanced_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    idx = ss.draw_labelled(labels, 25, np.random.default_rng(0))
    counts = np.bincount(labels[idx], minlength=10)
    assert len(set(idx.tolist())) == 25 and sorted(counts.tolist()) == [2] * 5 + [3] * 5
    assert np.array_equal(idx, ss.draw_labelled(labels, 25, np.random.default_rng(0)))
    assert not np.array_equal(idx, ss.draw_labelled(labels, 25, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="needs 51 images of digit 0"):
        ss.draw_labelled(labels, 510, np.random.default_rng(0))


def test_generated_images_get_the_digit_their_code_value_maps_to(fake, mnist_dir):
    images, codes = ss.generate_by_code(fake, 0, 40, seed=0)
    assert images.dtype == np.uint8 and images.shape == (40, 28, 28)
    assert codes.tolist() == [i % 10 for i in range(40)]
    # the map learned from a few labelled images, applied to the generated codes, names each image's true digit
    train = load_dataset("mnist", "train", data_dir=mnist_dir)
    idx = ss.draw_labelled(train.labels, 10, np.random.default_rng(0))
    mapping = ss.code_digit_map(ss.read_codes(fake, train.images[idx], 0), train.labels[idx])
    assert mapping.tolist() == PERM.tolist()
    assert [fake.digit_of[im.tobytes()] for im in images] == mapping[codes].tolist()
    again, _ = ss.generate_by_code(fake, 0, 40, seed=0)
    other, _ = ss.generate_by_code(fake, 0, 40, seed=1)
    assert np.array_equal(images, again) and not np.array_equal(images, other)


# ------------------------------------------------------------------------------------------------ the experiment
SMALL = dict(n_labelled=(10, 20), seeds=2, n_generated=100, steps=5, batch_size=16, n_test=300)


def test_experiment_is_seeded_and_seeds_draw_differently(fake, mnist_dir, one_torch_thread):
    a = ss.augmentation_experiment(fake, data_dir=mnist_dir, **SMALL)
    b = ss.augmentation_experiment(fake, data_dir=mnist_dir, **SMALL)
    assert json.dumps(a) == json.dumps(b)
    assert [(r[ss.N], r[ss.SEED]) for r in a[ss.RUNS]] == [(10, 0), (20, 0), (10, 1), (20, 1)]
    for r in a[ss.RUNS]:                               # the fake Q is the digit: its map is exact
        assert r[ss.CODE_TO_DIGIT] == PERM.tolist() and r[ss.MAP_CORRECT] == 10 and r[ss.ACC_Q] == 1.0
    assert a[ss.CHECKPOINT][ss.UNSUPERVISED_ACC] == 1.0
    by = {(r[ss.N], r[ss.SEED]): r for r in a[ss.RUNS]}
    assert by[10, 0][ss.ACC_LABELLED] != by[10, 1][ss.ACC_LABELLED]
    train = load_dataset("mnist", "train", data_dir=mnist_dir)
    draws = [ss.draw_labelled(train.labels, 10, np.random.default_rng([s, 10])) for s in (0, 1)]
    assert not np.array_equal(*draws)
    row = a[ss.SUMMARY][0]
    values = [by[10, s][ss.ACC_AUGMENTED] for s in (0, 1)]
    assert row[ss.N] == 10 and row[ss.ACC_AUGMENTED]["mean"] == pytest.approx(np.mean(values))
    assert row[ss.ACC_AUGMENTED]["std"] == pytest.approx(np.std(values))


def test_correctly_labelled_generated_images_help_ten_labels(fake, mnist_dir, one_torch_thread):
    """With a Q and G that are exactly the digits, 2,000 generated images lift 10 labelled ones far up."""
    r = ss.augmentation_experiment(fake, data_dir=mnist_dir, n_labelled=(10,), seeds=1, n_generated=2000,
                                   steps=150, n_test=1000)[ss.RUNS][0]
    assert r[ss.ACC_AUGMENTED] > 0.8 and r[ss.ACC_AUGMENTED] > r[ss.ACC_LABELLED] + 0.15


def test_experiment_refuses_what_it_cannot_do(fake, mnist_dir):
    with pytest.raises(ValueError, match="larger than the training set"):
        ss.augmentation_experiment(fake, data_dir=mnist_dir, n_labelled=(70_000,))
    with pytest.raises(ValueError, match="images of each digit"):
        ss.augmentation_experiment(fake, data_dir=mnist_dir, n_labelled=(60_000,))
    with pytest.raises(ValueError, match="n_labelled must be positive"):
        ss.augmentation_experiment(fake, data_dir=mnist_dir, n_labelled=(0, 10))
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        ss.augmentation_experiment(fake, data_dir=mnist_dir, seeds=0)


@pytest.mark.parametrize("spec, meta, message", [
    (CodeSpec(cat=(10,), cont=0), {"dataset": "basicprop-line", "kind": "line"}, "not MNIST"),
    (CodeSpec(cat=(5, 20), cont=2), {"dataset": "mnist", "kind": "mnist"}, "no 10-valued categorical code"),
    (CodeSpec(cat=(10,), cont=0, cond=10), {"dataset": "mnist", "kind": "mnist"}, "conditional"),
])
def test_models_without_a_digit_code_are_refused(spec, meta, message):
    model = type("M", (), {"spec": spec, "dataset_meta": meta})()
    with pytest.raises(ValueError, match=message):
        ss.digit_code(model)
    ok = type("M", (), {"spec": CodeSpec(cat=(4, 10), cont=0), "dataset_meta": {"kind": "mnist"}})()
    assert ss.digit_code(ok) == 1


# ------------------------------------------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, mnist_dir):
    """One-step checkpoints: an MNIST InfoGAN, an MNIST one with Cat(5), a line one."""
    import gan_models
    out = tmp_path_factory.mktemp("ckpts")
    common = dict(steps=1, batch_size=16, eval_size=100, eval_every=1000, progress=False, device="cpu")
    return {name: Path(gan_models.train(gan_models.make_config(preset, out=str(out / name), **common, **extra)))
            for name, preset, extra in [("mnist", "infogan-mnist", dict(dataset="mnist", data_dir=str(mnist_dir))),
                                        ("cat5", "infogan-mnist", dict(dataset="mnist", data_dir=str(mnist_dir),
                                                                       cat=(5,))),
                                        ("line", "infogan-line", dict(dataset="basicprop-line"))]}


def run(*args):
    result = CliRunner().invoke(group, [str(a) for a in args], prog_name="python -m eval")
    return result.exit_code, result.output


def test_cli_writes_json_and_png(checkpoints, mnist_dir, tmp_path, one_torch_thread):
    out = tmp_path / "aug"
    code, text = run("augment", "--ckpt", checkpoints["mnist"], "--out", out, "--n-labelled", "10,20", "--seeds", 2,
                     "--n-generated", 30, "--steps", 2, "--batch-size", 8, "--n-test", 200, "--data-dir", mnist_dir)
    assert code == 0, text
    assert "labelled only" in text and "wrote" in text
    assert sorted(p.name for p in out.iterdir()) == [".lock", "augment.json", "augment.png"]
    rep = json.loads((out / "augment.json").read_text())
    assert [(r["n_labelled"], r["seed"]) for r in rep["runs"]] == [(10, 0), (20, 0), (10, 1), (20, 1)]
    assert rep["setting"]["n_test"] == 200 and rep["setting"]["n_generated"] == 30
    assert all(0 <= r["acc_labelled"] <= 1 and 0 <= r["acc_augmented"] <= 1 for r in rep["runs"])
    assert (out / "augment.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("ckpt, extra, message", [
    ("line", [], "not MNIST"),
    ("cat5", [], "no 10-valued categorical code"),
    ("mnist", ["--n-labelled", "70000"], "larger than the training set"),
    ("mnist", ["--n-labelled", "10,x"], "--n-labelled takes comma-separated numbers"),
    ("missing", [], "no such checkpoint"),
])
def test_cli_bad_input_one_line_exit_2_nothing_written(checkpoints, mnist_dir, tmp_path, ckpt, extra, message):
    out = tmp_path / "aug"
    path = checkpoints.get(ckpt, tmp_path / "nothing" / "ckpt.pt")
    code, text = run("augment", "--ckpt", path, "--out", out, "--data-dir", mnist_dir, *extra)
    assert code == 2 and text.startswith("error:") and message in text and len(text.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_defaults_are_the_library_defaults():
    defaults = {p.name: p.default for p in group.commands["augment"].params}
    lib = inspect.signature(ss.augmentation_experiment).parameters
    assert defaults["n_labelled"] == ",".join(map(str, lib["n_labelled"].default))
    for name in ("seeds", "n_generated", "steps", "batch_size", "lr", "n_test", "device"):
        assert defaults[name] == lib[name].default, name
