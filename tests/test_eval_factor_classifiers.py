"""The factor-classifier cache: atomic files with the umask's permissions, stale temp files removed, a damaged
entry retrained (bit-identically: training is seeded), torch's global RNG left alone."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from basicprop import files, get_kind
from eval import factor_classifiers as fc
from eval.config import ClassifierConfig


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(files.ENV_CACHE, str(tmp_path))
    return fc.cache_folder()


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_cache_files_get_the_umask_permissions_and_stale_temps_go(cache, mask):
    cache.mkdir(parents=True)
    stale = cache / ".digit.pt.abc123.tmp"
    stale.write_bytes(b"left by a killed process")
    net = fc.SmallCNN(3, (2, 2))
    old = os.umask(mask)
    try:
        fc.save_cached(cache / "x-digit-0.pt", net, {"n_classes": 3, "widths": [2, 2], "test_accuracy": 0.5})
    finally:
        os.umask(old)
    assert not stale.exists()
    for name in ("x-digit-0.pt", "x-digit-0.json"):
        assert (cache / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
    assert json.loads((cache / "x-digit-0.json").read_text())["test_accuracy"] == 0.5
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []
    loaded, info = fc._load_cached(cache / "x-digit-0.pt", torch.device("cpu"))
    assert info["n_classes"] == 3
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))


def test_kind_classifier_is_cached_and_a_damaged_entry_is_retrained(cache):
    config = ClassifierConfig(n_train=1000, n_test=300, epochs=1, widths=(4, 8))
    logs: list[str] = []
    line = get_kind("line")
    global_rng = torch.get_rng_state()
    (clf,) = fc.kind_classifiers(line, config=config, log=logs.append)
    assert any("training" in s for s in logs)
    assert torch.equal(torch.get_rng_state(), global_rng)       # randomness stays local
    rng = np.random.default_rng(5)
    images = line.render(line.sample_factors(200, rng), rng)
    (entry,) = cache.glob("*.pt")
    logs.clear()
    assert fc.kind_classifiers(line, config=config, log=logs.append)[0].test_accuracy == clf.test_accuracy
    assert logs == []                                            # read from the cache
    entry.write_bytes(b"not a torch file")
    again = fc.kind_classifiers(line, config=config, log=logs.append)[0]
    assert any("training" in s for s in logs) and again.test_accuracy == clf.test_accuracy  # retrained, same seed
    assert (again.predict(images) == clf.predict(images)).all()
