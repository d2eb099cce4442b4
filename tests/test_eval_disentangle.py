"""The disentangle pipeline on known answers: an oracle model (codes = factors) scores ~1 in both directions,
C-InfoGAN label fidelity is 1 for an oracle, and an untrained checkpoint scores near chance."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from basicprop import get_kind
from eval.disentangle import (DisentangleConfig, change_rate, code_layout, disentangle, format_report,
                              sweep_latent)
from eval.oracles import ClassifierConfig, line_position, rectangle_heights, to_uint8
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
FAST = dict(n_samples=1000, device="cpu", dci_max_train=300, traversal_bases=8)
TINY_CLASSIFIER = ClassifierConfig(n_train=3000, n_test=500, epochs=2)


def run(model, tmp_path, **kw):
    cfg = DisentangleConfig(**{**FAST, "out_dir": str(tmp_path), **kw})
    return disentangle(cfg, model=model, log=lambda s: None)


def test_oracle_line_scores_one_in_both_directions(tmp_path):
    rep = run(OracleModel(get_kind("line")), tmp_path, measure="analytic")
    assert rep["enc.mig"] > 0.97 and rep["enc.best_accuracy"] == [1.0]
    assert rep["enc.probe_linear"] == [1.0]
    assert rep["gen.mig"] > 0.97 and rep["gen.best_accuracy"] == [1.0]
    assert rep["trav.change"] == [[1.0]] and rep["trav.mean_gap"] == 1.0
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["gen.mig"] == pytest.approx(rep["gen.mig"])
    assert saved["setting.n_samples"] == 1000 and "version.torch" in saved
    for png in ("mi_encoder.png", "mi_generator.png", "traversal.png"):
        assert (tmp_path / png).stat().st_size > 1000
    text = format_report(rep)
    assert "encoder direction" in text and "traversal" in text


def test_oracle_cinfogan_label_fidelity(tmp_path):
    model = OracleModel(get_kind("rectangles"), condition="left_height")
    rep = run(model, tmp_path, measure="analytic", plots=False, dci=False, probes=False)
    assert rep["cinfogan.label_fidelity"] == 1.0
    assert rep["enc.excluded_factor"] == "left_height" and rep["enc.factor_names"] == ["right_height"]
    assert rep["gen.code_names"] == ["y", "cat0"] and rep["gen.mig"] > 0.97
    assert rep["trav.change"] == [[1.0, 0.0], [0.0, 1.0]]


def test_oracle_with_trained_factor_classifier_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BASICPROP_CACHE", str(tmp_path / "cache"))
    logs: list[str] = []
    cfg = DisentangleConfig(**{**FAST, "out_dir": str(tmp_path), "classifier": TINY_CLASSIFIER, "plots": False,
                               "dci": False, "probes": False})
    rep = disentangle(cfg, model=OracleModel(get_kind("line")), log=logs.append)
    assert any("training" in s for s in logs)
    assert rep["classifier.position.test_accuracy"] > 0.9
    assert rep["gen.check.position.agreement"] > 0.9     # classifier vs pixel measurement
    assert rep["gen.best_accuracy"][0] > 0.9
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


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="n-samples"):
        disentangle(DisentangleConfig(ckpt="x.pt", n_samples=5))
    with pytest.raises(ValueError, match="measure"):
        disentangle(DisentangleConfig(ckpt="x.pt", measure="magic"))


# ------------------------------------------------------------------------------- a real (untrained) checkpoint
@pytest.fixture(scope="module")
def untrained_ckpt(tmp_path_factory) -> Path:
    gan_models = pytest.importorskip("gan_models")
    out = tmp_path_factory.mktemp("untrained")
    cfg = gan_models.make_config("infogan", dataset="basicprop-line", out=str(out / "run"), steps=1, batch_size=32,
                                 eval_size=100, eval_every=1000, progress=False, device="cpu")
    return Path(gan_models.train(cfg))


def test_untrained_checkpoint_scores_near_chance(untrained_ckpt, tmp_path):
    from gan_models import load_checkpoint
    model = load_checkpoint(untrained_ckpt, device="cpu")
    rep = run(model, tmp_path, measure="analytic", plots=False, mlp=False)
    # Q's categorical code is at chance; MIG is low. (Its untrained *continuous* outputs are random features of
    # the image, so the probes can still read the position from them: information, not disentanglement.)
    assert rep["enc.best_accuracy"][0] < 0.3
    assert rep["enc.mig"] < 0.25
    gen_mig = rep["gen.mig"]
    assert gen_mig is None or np.isnan(gen_mig) or gen_mig < 0.2
    assert rep["trav.mean_gap"] < 0.2


def test_disentangle_cli_on_a_checkpoint(untrained_ckpt, tmp_path):
    out = tmp_path / "ev"
    proc = subprocess.run([sys.executable, "-m", "eval", "disentangle", "--ckpt", str(untrained_ckpt), "--device",
                           "cpu", "--n-samples", "500", "--measure", "analytic", "--no-dci", "--no-mlp",
                           "--traversal-bases", "4", "--out", str(out), "--json", str(tmp_path / "r.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "encoder direction" in proc.stdout and "wrote" in proc.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["enc.n_samples"] == 500 and rep["setting.measure"] == "analytic"
    assert (out / "traversal.png").is_file() and (out / "mi_encoder.png").is_file()


def test_spearman_covers_continuous_codes_and_ordered_factors_only():
    from eval.disentangle import SPEARMAN, SPEARMAN_CODES, SPEARMAN_FACTORS, add_spearman
    rng = np.random.default_rng(0)
    f = rng.integers(0, 10, (500, 2)).astype(float)
    codes = np.c_[f[:, 0], np.exp(f[:, 1] / 3) + rng.normal(0, 1e-3, 500)]   # cat code, monotone cont code
    res = {"code_names": ["cat0", "cont0"], "factor_names": ["digit", "height"]}
    add_spearman(res, codes, [True, False], f, [False, True])
    assert res[SPEARMAN_CODES] == ["cont0"] and res[SPEARMAN_FACTORS] == ["height"]
    assert res[SPEARMAN][0][0] > 0.99  # (ties in the factor keep it just below 1)
