"""The disentangle pipeline on known answers: an oracle model (codes = factors) scores ~1 in both directions,
C-InfoGAN label fidelity is 1 for an oracle, and an untrained checkpoint scores near chance. The library returns
the report and writes nothing; :func:`eval.report.write_report` writes it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import rankdata, spearmanr

from basicprop import get_kind
from basicprop.images import to_uint8
from eval.codes import add_spearman, code_layout, pooled_spearman_ceiling, spearman_given, spearman_matrix
from eval.config import ClassifierConfig, DisentangleConfig
from eval.disentangle import disentangle
from eval.keys import SPEARMAN, SPEARMAN_CODES, SPEARMAN_FACTORS, TRAVERSAL_GRID
from eval.measure import line_position, rectangle_heights
from eval.report import format_report, write_report
from eval.traversal import change_rate, sweep_latent
from gan_models.latent import CodeSpec, sample_latent
from gan_models.nets import QOut


# A fake "loaded checkpoint" that satisfies the gan_models contract with known answers: its codes *are* the
# factors. The generator renders images through the basicprop factor API from the categorical codes (one per
# factor) and the encoder reads the factors back from pixels (the analytic measurements), so every metric should
# score it ~1. With ``condition`` one factor becomes the C-InfoGAN label ``y`` instead of a code.
class OracleModel:
    def __init__(self, kind, condition: str | None = None, seed: int = 0):
        self.kind = kind
        names = list(kind.factor_names)
        self.cond_index = names.index(condition) if condition else None
        sizes = list(kind.factor_sizes)
        cat = tuple(s for j, s in enumerate(sizes) if j != self.cond_index)
        cond = sizes[self.cond_index] if condition else 0
        self.spec = CodeSpec(noise_dim=0, cat=cat, cont=0, cond=cond)
        self.dataset_meta = {"dataset": f"basicprop-{kind.name}", "kind": kind.name, "kind_params": kind.params,
                             "seed": 0, "factor_names": names, "factor_sizes": sizes, "condition_factor": condition}
        self.device = torch.device("cpu")
        self.rng = np.random.default_rng(seed)

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def _factors_of(self, latent) -> np.ndarray:
        cols = list(latent.cat.numpy().T)
        if self.cond_index is not None:
            cols.insert(self.cond_index, latent.y.numpy())
        return np.stack(cols, axis=1).astype(np.int64)

    def generate(self, latent):
        images = self.kind.render(self._factors_of(latent), self.rng)
        return torch.from_numpy(images).float().div(255).unsqueeze(1)

    def encode(self, images):
        images = to_uint8(images)
        f = line_position(images)[:, None] if self.kind.name == "line" else rectangle_heights(images)
        f = np.clip(f, 0, None)
        keep = [j for j in range(f.shape[1]) if j != self.cond_index]
        logits = [torch.nn.functional.one_hot(torch.from_numpy(f[:, j]), self.kind.factor_sizes[j]).float()
                  for j in keep]
        return QOut(logits, torch.zeros(len(images), 0), None)


REPO = Path(__file__).resolve().parents[1]
FAST = dict(n_samples=1000, device="cpu", dci_max_train=300, traversal_bases=8, baseline=False, quality=False)
TINY_CLASSIFIER = ClassifierConfig(n_train=3000, n_test=500, epochs=2)


def run(model, **kw):
    return disentangle(DisentangleConfig(**{**FAST, **kw}), model=model)


def test_oracle_line_scores_one_in_both_directions_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rep = run(OracleModel(get_kind("line")), measure="analytic")
    assert list(tmp_path.iterdir()) == [] and capsys.readouterr() == ("", "")   # no file, no print
    assert rep["enc.mig"] > 0.97 and rep["enc.best_accuracy"] == [1.0]
    assert rep["enc.probe_linear"] == [1.0]
    assert rep["gen.mig"] > 0.97 and rep["gen.best_accuracy"] == [1.0]
    assert rep["trav.change"] == [[1.0]] and rep["trav.mean_gap"] == 1.0
    assert rep[TRAVERSAL_GRID].images.shape == (2, 10, 28, 28)             # one row per grid base, 10 positions
    written = write_report(rep, tmp_path / "out")
    assert [p.name for p in written] == ["mi_encoder.png", "mi_generator.png", "traversal.png", "report.json"]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["gen.mig"] == pytest.approx(rep["gen.mig"]) and TRAVERSAL_GRID not in saved
    assert saved["setting.n_samples"] == 1000 and "version.torch" in saved
    for png in written[:3]:
        assert png.stat().st_size > 1000
    text = format_report(rep)
    assert "encoder direction" in text and "traversal" in text


def test_oracle_cinfogan_label_fidelity():
    model = OracleModel(get_kind("rectangles"), condition="left_height")
    rep = run(model, measure="analytic", dci=False, probes=False)
    assert rep["cinfogan.label_fidelity"] == 1.0
    assert rep["enc.excluded_factor"] == "left_height" and rep["enc.factor_names"] == ["right_height"]
    assert rep["gen.code_names"] == ["y", "cat0"] and rep["gen.mig"] > 0.97
    assert rep["trav.change"] == [[1.0, 0.0], [0.0, 1.0]]


def test_oracle_with_trained_factor_classifier_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BASICPROP_CACHE", str(tmp_path / "cache"))
    logs: list[str] = []
    cfg = DisentangleConfig(**{**FAST, "classifier": TINY_CLASSIFIER, "dci": False, "probes": False,
                               "quality": True})
    rep = disentangle(cfg, model=OracleModel(get_kind("line")), log=logs.append)
    assert any("training" in s for s in logs)
    assert rep["classifier.position.test_accuracy"] > 0.9
    assert rep["gen.check.position.agreement"] > 0.9     # classifier vs pixel measurement
    assert rep["gen.best_accuracy"][0] > 0.9
    # the oracle draws from the data's own distribution: fakes and reals cover each other
    assert rep["quality.precision"] > 0.9 and rep["quality.recall"] > 0.9 and rep["quality.coverage"] > 0.9
    assert 0.8 < rep["quality.density"] < 1.25 and rep["quality.n_real"] == rep["quality.n_fake"] == 1000
    assert "position (128)" in rep["quality.features"]
    text = format_report(rep)
    assert "sample quality precision" in text and "not comparable with published FID" in text
    logs.clear()
    again = disentangle(cfg, model=OracleModel(get_kind("line")), log=logs.append)
    assert not any("training" in s for s in logs)        # cached on disk
    assert again["classifier.position.test_accuracy"] == rep["classifier.position.test_accuracy"]


def test_sweep_latent_and_change_rate():
    model = OracleModel(get_kind("rectangles"))
    base = model.sample_latent(3, torch.Generator().manual_seed(0))
    lat = sweep_latent(base, "cat", 1, torch.arange(10))
    assert lat.cat.shape == (30, 2)
    assert lat.cat[:10, 1].tolist() == list(range(10)) and (lat.cat[:10, 0] == base.cat[0, 0]).all()
    assert code_layout(model.spec) == [("cat0", "cat", 0), ("cat1", "cat", 1)]
    assert change_rate(np.array([[0, 1, 2, 2]]), False) == pytest.approx(2 / 3)
    assert change_rate(np.array([[0.0, 0.1, 0.2], [3.0, 2.0, 1.0]]), True) == pytest.approx(0.0)
    assert change_rate(np.array([[0.0, 0.1, 0.2], [1.0, 2.0, 3.0]]), True) == pytest.approx(1.0)
    assert change_rate(np.array([[0.0, 0.1, 0.2], [1.0, 2.0, 3.0]]), True, scale=4.0) == pytest.approx(0.275)


@pytest.mark.parametrize("bad, message", [
    ({"n_samples": 5}, "n-samples"), ({"measure": "magic"}, "measure"), ({"device": "tpu"}, "device"),
    ({"device": "cuda:abc"}, "device"), ({"num_bins": 10**9}, "num-bins"), ({"dci_max_train": 0}, "dci-max-train"),
])
def test_bad_settings_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        disentangle(DisentangleConfig(ckpt="x.pt", **bad))


@pytest.mark.parametrize("size", [{"n_samples": 10**9}, {"n_samples": 10**15}, {"traversal_bases": 10**12}])
def test_absurd_sizes_are_refused_with_the_estimate_before_allocating(size):
    with pytest.raises(ValueError, match=r"needs about [\d.]+ [KMGTPE]iB of memory"):
        run(OracleModel(get_kind("line")), measure="analytic", **size)


# ------------------------------------------------------------------------------- a real (untrained) checkpoint
@pytest.fixture(scope="module")
def untrained_ckpt(tmp_path_factory) -> Path:
    gan_models = pytest.importorskip("gan_models")
    out = tmp_path_factory.mktemp("untrained")
    cfg = gan_models.make_config("infogan", dataset="basicprop-line", out=str(out / "run"), steps=1, batch_size=32,
                                 eval_size=100, eval_every=1000, progress=False, device="cpu")
    return Path(gan_models.train(cfg))


def test_untrained_checkpoint_scores_near_chance(untrained_ckpt):
    from gan_models import load_checkpoint
    model = load_checkpoint(untrained_ckpt, device="cpu")
    rep = run(model, measure="analytic", mlp=False)
    # Q's categorical code is at chance; MIG is low. (Its untrained *continuous* outputs are random features of
    # the image, so the probes can still read the position from them: information, not disentanglement.)
    assert rep["enc.best_accuracy"][0] < 0.3
    assert rep["enc.mig"] < 0.25
    gen_mig = rep["gen.mig"]
    assert gen_mig is None or np.isnan(gen_mig) or gen_mig < 0.2
    assert rep["trav.mean_gap"] < 0.2


@pytest.mark.slow
def test_disentangle_cli_on_a_checkpoint(untrained_ckpt, tmp_path):
    out = tmp_path / "ev"
    out.mkdir()
    stale = out / ".report.json.x1y2z3.tmp"      # left by a run killed with -9
    stale.write_text("{")
    proc = subprocess.run([sys.executable, "-m", "eval", "disentangle", "--ckpt", str(untrained_ckpt), "--device",
                           "cpu", "--n-samples", "500", "--measure", "analytic", "--no-dci", "--no-mlp",
                           "--traversal-bases", "4", "--out", str(out), "--json", str(tmp_path / "r.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "encoder direction" in proc.stdout and "wrote" in proc.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["enc.n_samples"] == 500 and rep["setting.measure"] == "analytic"
    assert (out / "traversal.png").is_file() and (out / "mi_encoder.png").is_file()
    assert not stale.exists() and not list(tmp_path.rglob("*.tmp"))


def test_spearman_covers_continuous_codes_and_ordered_factors_only():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 10, (500, 2)).astype(float)
    codes = np.c_[f[:, 0], np.exp(f[:, 1] / 3) + rng.normal(0, 1e-3, 500)]   # cat code, monotone cont code
    res = {"code_names": ["cat0", "cont0"], "factor_names": ["digit", "height"]}
    add_spearman(res, codes, [True, False], f, [False, True])
    assert res[SPEARMAN_CODES] == ["cont0"] and res[SPEARMAN_FACTORS] == ["height"]
    assert res[SPEARMAN][0][0] > 0.99  # (ties in the factor keep it just below 1)


def test_spearman_given_the_label_sees_what_differences_between_labels_hide():
    """Width follows the code within every label, but each label has its own base width (a 1 is narrower than a
    0): pooled over labels the correlation is weak, among the images of one label it is 1."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    code = rng.uniform(-1, 1, (2000, 1))
    width = code[:, 0] + 4 * rng.permutation(10)[y]                 # the code moves width by 2; labels by up to 36
    pooled = spearman_matrix(code, width[:, None])[0, 0]
    given = spearman_given(code, width[:, None], y)
    assert abs(pooled) < 0.3 and given.shape == (1, 1) and given[0, 0] == pytest.approx(1.0)
    noise = spearman_given(code, rng.normal(size=(2000, 1)), y)[0, 0]
    assert abs(noise) < 0.1
    assert spearman_given(code[:2], width[:2, None], y[:2]).tolist() == [[0.0]]   # no label with 3 images


def test_the_pooled_ceiling_is_one_for_alike_groups_and_one_half_for_two_apart():
    """A code that orders the values perfectly within each group: groups drawn alike leave the pooled ρ at 1; two
    equal groups that do not overlap leave sqrt(var(within) / var(all)) = sqrt((1/12) / (1/12 + 1/4)) = 1/2."""
    rng = np.random.default_rng(0)
    g = rng.integers(0, 2, 20000)
    alike = rng.uniform(0, 1, 20000)
    assert pooled_spearman_ceiling(alike, g) == pytest.approx(1.0, abs=1e-3)
    assert pooled_spearman_ceiling(alike + 10 * g, g) == pytest.approx(0.5, abs=0.01)
    assert pooled_spearman_ceiling(alike + 10 * g, np.zeros(20000, int)) == pytest.approx(1.0)


def test_a_balanced_ceiling_counts_every_group_alike():
    """balanced=True is the plain ceiling of the data with each group repeated up to one count (ties between the
    copies included), and equals it when the groups are already of one size."""
    rng = np.random.default_rng(1)
    g = np.repeat([0, 1, 2], [50, 100, 25])
    values = rng.normal(size=len(g)) + 1.5 * g
    copies = np.repeat(np.arange(len(g)), np.select([g == 0, g == 1, g == 2], [2, 1, 4]))
    plain = pooled_spearman_ceiling(values[copies], g[copies])
    assert pooled_spearman_ceiling(values, g, balanced=True) == pytest.approx(plain, abs=1e-12)
    assert abs(pooled_spearman_ceiling(values, g) - plain) > 0.01
    percentile = np.concatenate([(rankdata(values[g == k]) - 0.5) / np.sum(g == k) for k in range(3)])
    assert pooled_spearman_ceiling(values, g) == pytest.approx(                       # the plain one is Spearman's
        spearmanr(percentile, np.concatenate([values[g == k] for k in range(3)])).statistic, abs=1e-12)
    even = np.repeat([0, 1], 40)
    assert pooled_spearman_ceiling(values[:80], even, balanced=True) == pytest.approx(
        pooled_spearman_ceiling(values[:80], even), abs=1e-12)


# ------------------------------------------------------------------------------- the untrained baseline
def test_untrained_like_is_the_initial_network_and_leaves_the_global_rng_alone(untrained_ckpt):
    from gan_models import load_checkpoint
    from gan_models.baseline import untrained_like
    from gan_models.checkpoint import build_model
    model = load_checkpoint(untrained_ckpt, device="cpu")
    state = torch.random.get_rng_state()
    base = untrained_like(model)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(model.config["seed"])
    fresh = build_model(model.config, model.spec)
    for mine, theirs in ((base.generator, fresh.G), (base.discriminator, fresh.D)):
        assert not mine.training
        for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
            assert torch.equal(a, b), name
    trained = dict(model.generator.named_parameters())
    assert any(not torch.equal(p, trained[n]) for n, p in base.generator.named_parameters())   # one step apart
    assert base.step == 0 and base.spec == model.spec and base.dataset_meta == model.dataset_meta
    with pytest.raises(ValueError, match="training config"):
        untrained_like(OracleModel(get_kind("line")))


def test_report_holds_the_untrained_scores_of_the_same_samples(untrained_ckpt):
    from gan_models import load_checkpoint
    from gan_models.baseline import untrained_like
    model = load_checkpoint(untrained_ckpt, device="cpu")
    settings = dict(measure="analytic", mlp=False, dci=False, n_samples=400, traversal_bases=2)
    rep = run(model, baseline=True, **settings)
    alone = run(untrained_like(model), **settings)       # the untrained network scored as if it were the model
    for key in ("enc.mig", "enc.sap", "enc.mi_normalized", "enc.cluster_accuracy", "enc.probe_linear", "gen.sap",
                "gen.mi_normalized", "enc.n_samples"):
        assert rep[f"untrained.{key}"] == alone[key], key
    assert not any(k.startswith(("untrained.trav.", "untrained.setting.")) for k in rep)
    assert rep["setting.baseline"] is True and "timing.untrained_encoder" in rep
    text = format_report(rep)
    assert "beside the untrained network" in text and "untrained" in text.splitlines()[-1] or "trained  untrained" \
        in text
    off = run(model, baseline=False, **settings)
    assert not any(k.startswith("untrained.") for k in off) and "beside the untrained" not in format_report(off)


# ------------------------------------------------------------------------------- scoring on other factors
def test_other_factors_are_refused_unless_allowed():
    model = OracleModel(get_kind("line"))
    with pytest.raises(ValueError, match=r"basicprop-rectangles has factors left_height \(10\), right_height \(10\) "
                                         r"but the checkpoint was trained on basicprop-line with factors position "
                                         r"\(10\); pass --allow-other-factors"):
        run(model, measure="analytic", dataset="basicprop-rectangles")
    rep = run(model, measure="analytic", dataset="basicprop-rectangles", allow_other_factors=True, probes=False)
    assert rep["setting.allow_other_factors"] is True
    assert rep["enc.factor_names"] == ["left_height", "right_height"]
    same = run(model, measure="analytic", dataset="basicprop-line", probes=False, dci=False)   # same factors: fine
    assert same["setting.allow_other_factors"] is False


def test_cli_refuses_other_factors_with_one_line_and_writes_nothing(untrained_ckpt, tmp_path):
    out = tmp_path / "ev"
    base = [sys.executable, "-m", "eval", "disentangle", "--ckpt", str(untrained_ckpt), "--device", "cpu",
            "--n-samples", "200", "--measure", "analytic", "--no-dci", "--no-probes", "--no-quality",
            "--traversal-bases", "2", "--out", str(out), "--dataset", "basicprop-rectangles"]
    proc = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    assert "basicprop-rectangles" in lines[0] and "basicprop-line" in lines[0] and "--allow-other-factors" in lines[0]
    assert not out.exists()
    proc = subprocess.run(base + ["--allow-other-factors", "--no-baseline", "--no-plots"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads((out / "report.json").read_text())
    assert rep["setting.allow_other_factors"] is True and rep["enc.factor_names"] == ["left_height", "right_height"]
