"""Training's fast path: the learning-rate rule for large batches, bf16 autocast around the networks, torch.compile,
a step without host synchronisation, and benchmarks/gpu_check.py's CPU smoke mode."""
from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch.overrides import TorchFunctionMode

import cli
from gan_models import load_checkpoint, make_config, train
from gan_models.checkpoint import build_model, read_checkpoint
from gan_models.config import scaled_lrs
from gan_models.device import autocast_forward, fast_path, networks
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec
from gan_models.trainer import Meter

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
TINY = dict(dataset="basicprop-line", batch_size=16, log_every=1, ckpt_every=100, eval_size=200, progress=False,
            device="cpu")


def _model(preset="infogan", seed=0, **overrides):
    cfg = make_config(preset, **overrides)
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 10 if cfg.model == "cinfogan" else 0)
    torch.manual_seed(seed)
    model = build_model(cfg.to_dict(), spec).train()
    return model, model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2)), cfg


def _step(model, optims, seed=0, n=16):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen)
    y = torch.randint(10, (n,), generator=gen) if model.spec.cond else None
    return model.train_step(Batch(x, y), optims, generator=gen, noise_std=0.1)


# ------------------------------------------------------------------------------------------- learning-rate rule
@pytest.mark.parametrize("scale, batch, factor", [
    ("none", 4096, 1.0), ("sqrt", 64, 1.0), ("sqrt", 256, 2.0), ("sqrt", 16, 0.5), ("sqrt", 1024, 4.0),
    ("sqrt", 4096, 4.0), ("linear", 128, 2.0), ("linear", 32, 0.5), ("linear", 512, 4.0)])
def test_lr_scale_rule(scale, batch, factor):
    cfg = make_config("infogan", batch_size=batch, lr_scale=scale)
    lr_d, lr_g = scaled_lrs(cfg)
    assert lr_d == pytest.approx(2e-4 * factor, rel=1e-12) and lr_g == pytest.approx(1e-3 * factor, rel=1e-12)


def test_training_uses_the_scaled_rates_and_none_keeps_the_given_ones(tmp_path):
    for scale, want in (("sqrt", (4e-4 * 0.5, 1e-3 * 0.5)), ("none", (4e-4, 1e-3))):
        ckpt = train(make_config("infogan", steps=1, lr_d=4e-4, lr_scale=scale, out=str(tmp_path / scale), **TINY))
        groups = read_checkpoint(ckpt)["optims"]
        assert (groups["D"]["param_groups"][0]["lr"], groups["G"]["param_groups"][0]["lr"]) == want
    with pytest.raises(ValueError, match="lr_scale"):
        make_config("infogan", lr_scale="cube")


# ----------------------------------------------------------------------------------------------------- bf16
def test_bf16_autocast_runs_the_networks_in_bf16_and_hands_on_float32():
    plain, plain_optims, _ = _model()
    model, optims, _ = _model()
    for net in networks(model):
        autocast_forward(net, "cpu", torch.bfloat16)     # CPU autocast: the CUDA path's mechanics, testable here
    inner = []
    model.G.fc[0].register_forward_hook(lambda m, i, out: inner.append(out.dtype))
    model.D.trunk[0].register_forward_hook(lambda m, i, out: inner.append(out.dtype))
    gen = torch.Generator().manual_seed(0)
    assert model.G(torch.rand(4, model.spec.input_dim, generator=gen)).dtype == torch.float32
    assert inner == [torch.bfloat16]

    stats, ref = _step(model, optims), _step(plain, plain_optims)
    assert torch.bfloat16 in inner[1:] and all(v.dtype == torch.float32 for v in stats.values())
    for k in ("loss/d", "loss/g", "loss/info"):            # one step from the same weights and draws
        assert float(stats[k]) == pytest.approx(float(ref[k]), rel=0.05), k
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # the state_dict is the plain model's: it loads into a model without autocast; a copy keeps autocast
    assert model.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(model.state_dict())
    clone = copy.deepcopy(model)                            # the hooks above come along
    inner.clear()
    assert clone.G(torch.rand(4, model.spec.input_dim, generator=gen)).dtype == torch.float32
    assert inner == [torch.bfloat16]


def test_bf16_is_refused_off_cuda_with_one_line_and_nothing_written(tmp_path):
    model, _, _ = _model()
    with pytest.raises(ValueError, match="CUDA only.*12x slower"):
        fast_path(model, torch.device("cpu"), precision="bf16")
    assert type(model.G).__name__ == "Generator"
    with pytest.raises(ValueError, match="CUDA only"):
        make_config("infogan", precision="bf16", device="cpu")
    runner = CliRunner()
    for device in ("cpu", "auto"):
        if device == "auto" and torch.cuda.is_available():
            continue
        out = tmp_path / device
        res = runner.invoke(cli.cli, ["train", "--preset", "infogan-line", "--dataset", "basicprop-line",
                                       "--precision", "bf16", "--device", device, "--out", str(out)])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "CUDA only" in lines[0]
        assert not out.exists()


def test_fast_path_off_changes_nothing():
    a, oa, _ = _model()
    b, ob, _ = _model()
    fast_path(b, torch.device("cpu"), precision="fp32", compile=False)
    assert [type(n) for n in networks(a)] == [type(n) for n in networks(b)]
    sa, sb = _step(a, oa), _step(b, ob)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


# ---------------------------------------------------------------------------------------------- no host sync
SYNCS = {"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "nonzero",
         "masked_select", "unique", "__array__",
         "tensor", "as_tensor"}       # host data copied to the device: a synchronising copy on CUDA


class SyncSpy(TorchFunctionMode):
    """Records every tensor operation that makes a CUDA host wait (a value read on the host, a data-dependent
    shape or branch, a tensor made from host data), with the file and line that asked for it."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, str, int]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        masked = name == "__getitem__" and any(torch.is_tensor(a) and a.dtype == torch.bool for a in
                                              (args[1] if isinstance(args[1], tuple) else (args[1],)))
        if name in SYNCS or masked:
            frame = sys._getframe(1)
            self.seen.append((name, frame.f_code.co_filename, frame.f_lineno))
        return func(*args, **(kwargs or {}))


def _ours(seen):
    """What the spy saw outside torch's optimisers (Adam reads its step count, a CPU tensor even on CUDA)."""
    return [s for s in seen if f"torch{os.sep}optim" not in s[1]]


@pytest.mark.parametrize("preset, overrides", [
    ("infogan", dict(instance_noise=0.1, lambda_real_mi=1.0, learn_cont_std=True)),
    ("infogan-rectangles", dict(cont=1, cat_augment=0.5)),   # two codes: interaction penalty, warps
    ("cinfogan", dict(cat=(10,), cat_augment=0.5)),
])
def test_a_training_step_never_waits_for_the_device(preset, overrides):
    model, optims, cfg = _model(preset, **overrides)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(10, (64,)) if model.spec.cond else None
    gen, meter = torch.Generator().manual_seed(0), Meter(torch.device("cpu"))
    with SyncSpy() as spy:
        for step in range(2):      # the trainer's loop body between two log records
            idx = torch.randint(len(images), (16,), generator=gen)
            batch = Batch(images[idx].float().div_(255.0), None if labels is None else labels[idx])
            meter.add(model.train_step(batch, optims, generator=gen, noise_std=cfg.instance_noise), step + 1)
    assert _ours(spy.seen) == []
    with SyncSpy() as spy:         # the spy sees what it looks for
        float(meter.sums["loss/d"])
        if meter.first_bad < 0:
            pass
    assert [s[0] for s in _ours(spy.seen)] == ["__float__", "__bool__"]


# ---------------------------------------------------------------------------------------------------- compile
@pytest.mark.slow
def test_compiled_training_saves_a_plain_checkpoint_resumes_and_follows_eager(tmp_path):
    """A compiled CPU run (cold: ~2 min on 2 shared cores, most of it compiling): its checkpoint has the plain
    module's keys and loads without compiling; it resumes compiled; its losses follow the eager run's."""
    eager = train(make_config("infogan-line", steps=4, out=str(tmp_path / "eager"), **TINY))
    fast = train(make_config("infogan-line", steps=2, compile=True, out=str(tmp_path / "fast"), **TINY))
    fast = train(make_config("infogan-line", steps=4, compile=True, out=str(tmp_path / "fast"), **TINY), resume=True)
    a, b = read_checkpoint(eager), read_checkpoint(fast)
    assert b["step"] == 4 and b["config"]["compile"] is True
    assert list(b["model"]) == list(a["model"]) and not any("_orig_mod" in k for k in b["model"])
    m = load_checkpoint(fast)
    assert type(m.generator).__name__ == "Generator" and m.generate(m.sample_latent(3, torch.Generator())).shape[0] == 3

    def losses(run):
        lines = (tmp_path / run / "log.jsonl").read_text().splitlines()
        return {r["step"]: r for r in map(json.loads, lines) if "loss/d" in r}
    la, lb = losses("eager"), losses("fast")
    assert sorted(la) == sorted(lb) == [1, 2, 3, 4]
    for step in la:     # step 1: the same weights, rounding apart; then the GAN's updates amplify the rounding
        for k in ("loss/d", "loss/g", "loss/info"):
            assert lb[step][k] == pytest.approx(la[step][k], rel=1e-5 if step == 1 else 1e-2), (step, k)


# ------------------------------------------------------------------------------------------------ gpu_check
@pytest.mark.slow
def test_gpu_check_smoke_runs_end_to_end_on_cpu(tmp_path):
    """Every part of the GPU check at tiny sizes on a CPU: about 10 s of CPU time, 25 s on 2 shared cores."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OUT": str(tmp_path)}
    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--smoke"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["device"]["type"] == "cpu" and report["smoke"] is True
    for part in ("throughput", "sync_free", "stacked", "time_to_accuracy"):
        assert part in report["parts"], part
        assert report["parts"][part]["status"] in ("ok", "error", "skipped", "not available"), part
    rows = report["parts"]["throughput"]["rows"]
    assert {r["variant"] for r in rows} >= {"eager-fp32"} and all(r["img_per_s"] > 0 for r in rows if "img_per_s" in r)
    assert report["parts"]["sync_free"]["status"] == "skipped"          # CUDA's sync debug mode; see above
    assert report["parts"]["stacked"]["status"] in ("ok", "not available")
    tta = report["parts"]["time_to_accuracy"]
    assert tta["status"] == "ok" and tta["steps"] >= 1 and "dataset" in tta


def test_gpu_check_without_cuda_says_so_quickly(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("OUT", None)
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["cuda"] is False and "no CUDA device" in report["error"]


# ------------------------------------------------------------------------------ malloc keeping freed memory
_FAULTS = """
import ctypes, resource, sys, torch
from basicprop.resources import keep_freed_memory
# glibc's initial thresholds (128 KiB), fixed: the dynamic ones it moves to depend on what the process did before
for param in (-3, -1):                   # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    ctypes.CDLL(None).mallopt(param, 128 * 1024)
def steady_faults():
    \"\"\"Page faults of the second of two passes, each allocating and freeing 156 MB in blocks the size of a big
    weight's gradient (the first pass may grow the heap).\"\"\"
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            blocks = [torch.empty(6_500_000).fill_(1.0) for _ in range(6)]
            del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = steady_faults()
print(keep_freed_memory(), default, steady_faults())
"""

_TRAIN = """
import sys, torch
from basicprop.resources import keep_freed_memory
from gan_models import make_config, train
if sys.argv[2] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
train(make_config("infogan", dataset="basicprop-line", batch_size=64, steps=3, eval_size=200, progress=False,
                  device="cpu", instance_noise=0.1, out=sys.argv[1]))
"""

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="mallopt is glibc's")


def _python(code, *args):
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@glibc
def test_kept_freed_memory_ends_the_page_faults_of_big_temporaries():
    took, default, kept = _python(_FAULTS).split()
    assert took == "True"
    assert int(default) > 50_000 and int(kept) < 1_000


@pytest.mark.slow
@glibc
def test_keeping_freed_memory_changes_no_number_of_a_training_run(tmp_path):
    for mode in ("default", "keep"):
        _python(_TRAIN, str(tmp_path / mode), mode)
    a, b = (read_checkpoint(tmp_path / mode / "ckpt.pt") for mode in ("default", "keep"))
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@glibc
def test_the_command_line_keeps_freed_memory():
    """Any command (here ``study list``) leaves the process keeping freed memory."""
    code = _FAULTS.replace("default = steady_faults()", "sys.argv = ['cli.py', 'study', 'list']\nimport cli\n"
                           "try:\n    cli.cli()\nexcept SystemExit:\n    pass\ndefault = steady_faults()")
    _, after_command, _ = _python(code).splitlines()[-1].split()
    assert int(after_command) < 1_000
