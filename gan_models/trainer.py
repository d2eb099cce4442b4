"""The schedule: set-up (data on the device, model, optimisers, resume), then one loop: step, log, evaluate, checkpoint.

    from gan_models import make_config, train
    ckpt = train(make_config("infogan", dataset="basicprop-line", epochs=1, out="runs/line"))

A run directory is one run's: ``train`` holds its lock (``.lock``) from start to end, so a second process on the same
directory is refused, and removes temp files left by a killed run. It holds ``config.json``, ``log.jsonl`` (each
record has a ``kind``: ``start`` per start, ``train`` per ``log_every`` steps, ``eval``, ``diverged``),
``curves.png`` (redrawn at each evaluation), ``samples_XXXXXX.png``, ``traverse_contJ_XXXXXX.png`` and (two
categorical codes) ``traverse_cat1_XXXXXX.png`` grids, ``ckpt.pt`` (with ``keep`` > 1 also the checkpoints before it
as ``ckpt_XXXXXX.pt``), ``best.pt`` (weights only, at the best evaluation by the monitored accuracy: the first
``acc/<factor>`` of ``score_codes``) and, at the end, ``metrics.json`` (with ``best/step`` and ``best/acc/<factor>``);
with ``tensorboard``, event files under ``tb/``. Every file but the event files is written atomically
(``basicprop.files``). The whole dataset lives on the device as one uint8 tensor; batches are drawn with replacement
by a seeded ``torch.Generator`` whose state is checkpointed, so a resumed run is bit-identical to an uninterrupted
one. Losses stay on the device between log intervals (no per-step host sync).

Training does not depend on scoring: ``score_codes`` (the command line passes eval's Hungarian accuracy) scores Q's
categories on real images; ``log`` sees every log record; ``should_stop`` is polled at every step boundary (from
before the first step): when it answers True the run is saved at that boundary and ``TrainingInterrupted`` raised.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from basicprop.files import folder_lock, remove_temps, write_json, write_text

from . import losses
from .checkpoint import (BEST_NAME, CKPT_NAME, RESUME_KEYS, all_finite, build_model, check_state_dict,
                         checkpoint_state, count_parameters, keep_previous, load_optimizers, read_checkpoint,
                         restore_generator, save_checkpoint, weights_only)
from .config import TrainConfig, check_resumable, learning_rates, real_mi_on, scaled_lrs, validate
from .curves import LOG_NAME, record_kind, write_curves
from .grids import save_grids
from .device import autocast_dtype, eager, ensure_fits, fast_path, resolve_device
from .infogan import Batch
from .latent import CodeSpec
from .nets import recalibrate_batchnorm

TB_DIR = "tb"
ScoreCodes = Callable[[np.ndarray, np.ndarray, tuple], dict]   # (codes (N, C), factors (N, K), names) -> metrics


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN/inf; the message names the step, the last good checkpoint and remedies."""


class TrainingInterrupted(Exception):
    """``should_stop`` asked to stop: the run was saved at a step boundary and continues exactly with resume."""

    def __init__(self, path: Path, step: int):
        super().__init__(f"interrupted: saved {path} at step {step}; continue with --resume")
        self.path, self.step = path, step


@dataclass
class Data:
    images: torch.Tensor          # (N, 1, 28, 28) uint8 on the device
    labels: torch.Tensor | None   # (N,) long condition label on the device (C-InfoGAN), else None
    factors: np.ndarray           # (N, K) int64, for monitoring
    factor_names: tuple
    meta: dict                    # dataset_meta stored in checkpoints
    fingerprint: dict             # what the data is (data_fingerprint), checked on resume


def data_fingerprint(meta: dict, images: np.ndarray, factors: np.ndarray) -> dict:
    """Kind, parameters, seed, sizes and a sha256 over the image and factor arrays (JSON-able)."""
    digest = hashlib.sha256()
    for array in (images, factors):
        digest.update(np.ascontiguousarray(array).data)
    fp = {"dataset": meta.get("dataset"), "kind": meta.get("kind"), "kind_params": meta.get("kind_params"),
          "seed": meta.get("seed"), "n": int(len(images)), "factor_sizes": meta.get("factor_sizes"),
          "sha256": digest.hexdigest()}
    return json.loads(json.dumps(fp))


def check_same_data(saved: dict | None, now: dict, path: Path) -> None:
    """ValueError naming what differs between the data a checkpoint trained on and the data given now."""
    if not saved:                        # written before fingerprints existed: nothing to compare
        return
    diff = [f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in now if saved.get(k) != now[k]]
    if diff:
        raise ValueError(f"cannot resume {path} on other data ({'; '.join(diff)})")


def load_data(cfg: TrainConfig, device: torch.device) -> tuple[Data, int]:
    """The training split on ``device``, and the number of condition classes (0 = unconditional)."""
    from basicprop.datasets import load_dataset
    extra = {"kind_params": cfg.kind_params} if cfg.kind_params else {}
    ds = load_dataset(cfg.dataset, split="train", data_dir=cfg.data_dir, seed=cfg.data_seed, **extra)
    factor_names = tuple(ds.factor_names)
    factors = np.asarray(ds.factors, dtype=np.int64)
    cond, labels, condition = 0, None, None
    if cfg.model == "cinfogan":
        condition = cfg.condition or factor_names[0]
        if condition not in factor_names:
            raise ValueError(f"unknown condition factor {condition!r} for {ds.name}; choose from {list(factor_names)}")
        j = factor_names.index(condition)
        cond = int(ds.factor_sizes[j])
        labels = torch.from_numpy(factors[:, j].copy()).to(device)
    if ds.images.dtype != np.uint8 or tuple(ds.images.shape[1:]) != (28, 28):
        raise ValueError(f"dataset {ds.name} must hold (N, 28, 28) uint8 images, got {tuple(ds.images.shape)} "
                         f"{ds.images.dtype}")
    images = torch.from_numpy(np.ascontiguousarray(ds.images)).to(device).unsqueeze(1)
    meta = dict(ds.meta)
    meta.update(factor_names=list(factor_names), factor_sizes=[int(s) for s in ds.factor_sizes],
                condition_factor=condition)
    return Data(images, labels, factors, factor_names, meta, data_fingerprint(meta, ds.images, factors)), cond


def instance_noise_std(cfg: TrainConfig, step: int) -> float:
    """Linear anneal from cfg.instance_noise at step 0 to 0 at cfg.instance_noise_steps (constant if 0 steps)."""
    if cfg.instance_noise <= 0:
        return 0.0
    if cfg.instance_noise_steps <= 0:
        return cfg.instance_noise
    return cfg.instance_noise * max(0.0, 1.0 - step / cfg.instance_noise_steps)


def set_learning_rates(optims: dict, lr_d: float, lr_g: float) -> None:
    """Put ``lr_d`` on the D + Q optimiser and ``lr_g`` on G's (as ``InfoGAN.make_optimizers`` keys them)."""
    for key, lr in (("D", lr_d), ("G", lr_g)):
        for group in optims[key].param_groups:
            group["lr"] = lr


class RunLog:
    """``log.jsonl``: one JSON record per line, rewritten atomically with each record; ``callback`` sees each one.

    ``keep_until=step`` (resume) keeps the records of steps up to ``step`` and drops the rest (steps a killed run
    did after its last checkpoint, a cut-off last line), so no step is logged twice.
    """

    def __init__(self, path: Path, callback: Callable[[dict], None] | None = None, keep_until: int | None = None):
        self.path, self.callback, self.lines = path, callback, []
        if keep_until is not None and path.is_file():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("step", 0) <= keep_until:
                    self.lines.append(line + "\n")
            write_text(path, "".join(self.lines))

    def write(self, record: dict) -> None:
        self.lines.append(json.dumps(record) + "\n")
        write_text(self.path, "".join(self.lines))
        if self.callback is not None:
            self.callback(record)


TENSORBOARD_HINT = "pip install 'basicprop[tensorboard]'"


def check_tensorboard() -> None:
    """ValueError telling how to install it when torch's TensorBoard writer cannot be imported."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise ValueError(f"--tensorboard needs the tensorboard package: {TENSORBOARD_HINT}") from None


class TensorBoardLog:
    """Every ``train`` and ``eval`` record as TensorBoard scalars (tag: the record's key) at the record's step.

    Event files are streams, not written atomically. ``purge_step`` (resume) hides the events a killed run wrote
    after its last checkpoint, as ``RunLog`` drops their records.
    """

    SKIP = ("step", "epoch", "time", "kind", "event")

    def __init__(self, folder: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(folder), purge_step=purge_step)

    def __call__(self, record: dict) -> None:
        if record_kind(record) not in ("train", "eval"):
            return
        for k, v in record.items():
            if k not in self.SKIP and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(k, v, record["step"])
        if record_kind(record) == "eval":
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def log_sink(out: Path, cfg: TrainConfig, resume_step: int | None, log, closing: contextlib.ExitStack):
    """``log`` and, with ``cfg.tensorboard``, a TensorBoardLog closed by ``closing``: one callback for RunLog."""
    if not cfg.tensorboard:
        return log
    tb = TensorBoardLog(out / TB_DIR, None if resume_step is None else resume_step + 1)
    closing.callback(tb.close)
    if log is None:
        return tb

    def both(record: dict) -> None:
        tb(record)
        log(record)
    return both


def monitored_key(metrics: dict) -> str | None:
    """The accuracy best.pt follows: the first ``acc/<factor>`` key in ``metrics`` (None: no accuracy)."""
    return next((k for k in metrics if k.startswith("acc/") and k.count("/") == 1), None)


@torch.no_grad()
@eager()
def q_metrics(model, data: Data, eval_idx: np.ndarray, device: torch.device,
              score_codes: ScoreCodes | None = None) -> dict[str, float]:
    """Q's categories on real images: the label-free ``real_mi/cat{i}`` (I(c_hat; x) in nats, log k at best: every
    category used equally, each image assigned with certainty) and ``score_codes(codes, factors, factor_names)``."""
    if not model.spec.cat or len(eval_idx) == 0:
        return {}
    was_training = model.training
    model.eval()
    logits = []
    for i in range(0, len(eval_idx), 1000):
        idx = torch.from_numpy(eval_idx[i:i + 1000]).to(device)
        logits.append(model.encode(data.images[idx].float().div_(255.0)).cat_logits)
    model.train(was_training)
    out, codes = {}, []
    for i in range(len(model.spec.cat)):
        lg = torch.cat([b[i] for b in logits]).double()
        codes.append(lg.argmax(1).cpu())
        out[f"real_mi/cat{i}"] = float(losses.real_data_mi(lg))
    if score_codes is not None:
        out.update(score_codes(torch.stack(codes, 1).numpy(), data.factors[eval_idx], data.factor_names))
    return out


@dataclass
class Run:
    """What the loop advances, and everything a checkpoint of it holds."""
    cfg: TrainConfig
    spec: CodeSpec
    data: Data
    model: torch.nn.Module
    optims: dict
    gen: torch.Generator                  # batches, latents, instance noise
    step: int = 0
    metrics: dict = field(default_factory=dict)
    saved_step: int | None = None         # step of the last good checkpoint written or resumed from
    rng_continued: bool = True            # False: resumed on another device type, the generator was reseeded
    calibrated_step: int | None = None    # step at which D's BatchNorm statistics were last re-estimated

    def recalibrate(self) -> None:
        """With ``bn_recalibrate`` N > 0: D's BatchNorm statistics from N real training images (a fixed shuffle,
        whole batches of ``batch_size``, no instance noise), once per step. Touches no weight and no random
        stream, so training goes on exactly as without it."""
        n = min(self.cfg.bn_recalibrate, self.data.images.shape[0])
        if n == 0 or self.calibrated_step == self.step:
            return
        idx = torch.from_numpy(np.random.default_rng(1).permutation(self.data.images.shape[0])[:n])
        idx = idx.to(self.data.images.device)
        bs = min(self.cfg.batch_size, n)
        with eager():
            recalibrate_batchnorm(self.model.D, (self.data.images[idx[i:i + bs]].float().div_(255.0)
                                                 for i in range(0, n - bs + 1, bs)))
        self.calibrated_step = self.step

    def state(self) -> dict:
        return checkpoint_state(self.cfg.to_dict(), self.spec, self.data.meta, self.data.fingerprint, self.step,
                                self.model, self.optims, self.gen, self.metrics)

    def save(self, path: Path) -> None:
        """Write the checkpoint; with ``keep`` > 1 the one it replaces stays as ``ckpt_<step>.pt``."""
        if self.cfg.keep > 1 and self.saved_step not in (None, self.step) and path.is_file():
            keep_previous(path, self.saved_step, self.cfg.keep - 1)
        self.recalibrate()
        save_checkpoint(path, self.state())
        self.saved_step = self.step

    def save_best(self, path: Path) -> None:
        """After an evaluation: when the monitored accuracy beats ``best/<key>``, write the weights only to
        ``path`` and record ``best/step`` and ``best/<key>`` in the metrics (they ride along to the next one)."""
        key = monitored_key(self.metrics)
        if key is None or self.metrics[key] is None:
            return
        if f"best/{key}" in self.metrics and self.metrics[key] <= self.metrics[f"best/{key}"]:
            return
        self.metrics = {k: v for k, v in self.metrics.items() if not k.startswith("best/")}
        self.metrics.update({"best/step": self.step, f"best/{key}": self.metrics[key]})
        save_checkpoint(path, weights_only(self.state()))


def start_run(cfg: TrainConfig, device: torch.device, ckpt_path: Path, resume: bool) -> Run:
    """Data, model, optimisers and generator from ``cfg``; with ``resume`` restored from ``ckpt_path``."""
    if resume and not ckpt_path.is_file():
        raise ValueError(f"nothing to resume: no checkpoint at {ckpt_path}")
    if not resume and ckpt_path.exists():
        raise ValueError(f"{ckpt_path} already exists; pass --resume to continue it or choose another --out")
    data, cond = load_data(cfg, device)
    spec = CodeSpec(noise_dim=cfg.noise_dim, cat=cfg.cat, cont=cfg.cont, cond=cond, noise_scale=cfg.noise_scale)
    n = count_parameters(cfg.to_dict(), spec)
    ensure_fits(16 * n + 16 * cfg.batch_size * spec.input_dim, device,
                f"training a model of {n:,} parameters (weights, gradients, Adam state)")
    with torch.random.fork_rng(devices=[]):      # weights from cfg.seed; the caller's global RNG is left as it was
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.to_dict(), spec).to(device)
    optims = model.make_optimizers(*scaled_lrs(cfg), (cfg.beta1, cfg.beta2))
    run = Run(cfg, spec, data, model, optims, torch.Generator(device).manual_seed(cfg.seed))
    if resume:
        state = read_checkpoint(ckpt_path, map_location=device, need=RESUME_KEYS)
        check_resumable(state["config"], cfg)
        check_same_data(state.get("data_fingerprint"), data.fingerprint, ckpt_path)
        check_state_dict(model, state["model"], ckpt_path)
        model.load_state_dict(state["model"])
        load_optimizers(optims, state["optims"], ckpt_path)
        run.step = run.saved_step = int(state["step"])
        run.metrics = dict(state.get("metrics") or {})
        run.rng_continued = restore_generator(run.gen, state["rng"], cfg.seed, run.step)
        check_best(run, ckpt_path.parent / BEST_NAME)
    model.train()
    return run


def check_best(run: Run, path: Path) -> None:
    """On resume: keep the best the checkpoint recorded only if ``best.pt`` still holds it. A best.pt written
    after the checkpoint (by a killed run) is removed, and the next evaluation starts the tracking again."""
    if "best/step" not in run.metrics:
        return
    best_step = read_checkpoint(path)["step"] if path.is_file() else None
    if best_step != run.metrics["best/step"]:
        if best_step is not None and best_step > run.step:
            path.unlink()
        run.metrics = {k: v for k, v in run.metrics.items() if not k.startswith("best/")}


class Meter:
    """Step stats summed on the device between log records, and the first step whose loss was not finite."""

    def __init__(self, device: torch.device):
        self.device, self.sums, self.count = device, {}, 0
        self.first_bad = torch.tensor(-1, device=device)

    def add(self, stats: dict[str, torch.Tensor], step: int) -> None:
        self.count += 1
        for k, v in stats.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        ok = torch.isfinite(stats["loss/d"] + stats["loss/g"] + stats["loss/info"])
        self.first_bad = torch.where(~ok & (self.first_bad < 0), step, self.first_bad)   # no host-to-device copy

    def means(self) -> dict[str, float]:
        out = {k: float(v) / self.count for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return out


def check_finite(run: Run, meter: Meter, weights: bool, total: int, ckpt_path: Path, log: RunLog) -> None:
    """The one divergence check (a host sync): raise TrainingDiverged when a loss since the last check, or (with
    ``weights``, before a checkpoint) a weight, is not finite. Nothing is saved then."""
    bad = int(meter.first_bad)
    if bad < 0 and (not weights or all_finite(run.model)):
        return
    at, cfg = bad if bad >= 0 else run.step, run.cfg
    where = (f"the last good checkpoint is {ckpt_path} (step {run.saved_step})" if run.saved_step is not None
             else "no checkpoint was written before it")
    log.write({"event": "diverged", "kind": "diverged", "step": at})
    raise TrainingDiverged(
        f"non-finite loss at step {at} of {cfg.out}: training stopped and nothing was saved; {where}. "
        f"Remedies: instance noise (--instance-noise 0.1 --instance-noise-steps {max(total // 2, 1)}), "
        f"a lower D learning rate (--lr-d {cfg.lr_d / 2:g}), one-sided label smoothing (--real-label 0.9).")


def open_run_log(run: Run, out: Path, total: int, resume: bool, log, closing: contextlib.ExitStack) -> RunLog:
    """Write ``config.json``, open ``log.jsonl`` (on resume kept up to the run's step) and log the start."""
    write_json(out / "config.json", {"config": run.cfg.to_dict(), "spec": run.spec.to_dict(),
                                     "dataset_meta": run.data.meta}, indent=2)
    runlog = RunLog(out / LOG_NAME, log_sink(out, run.cfg, run.step if resume else None, log, closing),
                    keep_until=run.step if resume else None)
    runlog.write({"event": "start", "kind": "start", "step": run.step, "total": total,
                  "rng_continued": run.rng_continued})
    return runlog


def train_record(cfg: TrainConfig, step: int, steps_per_epoch: int, meter: Meter, since_step: int,
                 since_time: float, now: float) -> dict:
    """The ``train`` record at ``step``: the meter's means since the last record, and images per second."""
    return {"kind": "train", "step": step, "epoch": step / steps_per_epoch, **meter.means(),
            "noise_std": instance_noise_std(cfg, step),
            "img_per_s": (step - since_step) * cfg.batch_size / max(now - since_time, 1e-9), "time": now}


def schedule(cfg: TrainConfig, n_data: int, step: int, ckpt_path: Path) -> tuple[int, int, int]:
    """(steps per epoch, total steps, steps between evaluations); ValueError when the run cannot go on."""
    if n_data < cfg.batch_size:
        raise ValueError(f"dataset has {n_data} images, fewer than batch_size {cfg.batch_size}")
    steps_per_epoch = n_data // cfg.batch_size
    total = cfg.steps or cfg.epochs * steps_per_epoch
    if total < step:
        raise ValueError(f"{ckpt_path} has done {step} steps, more than the {total} asked for; "
                         f"give more --steps (or --epochs) to continue it")
    return steps_per_epoch, total, cfg.eval_every or steps_per_epoch


def evaluate(run: Run, out: Path, eval_idx: np.ndarray, steps_per_epoch: int, runlog: RunLog,
             score_codes: ScoreCodes | None = None) -> None:
    """One evaluation of ``run`` in ``out``: Q's metrics (``run.metrics``, an ``eval`` record; the best so far kept),
    the grids, ``best.pt`` and ``curves.png``."""
    best = {k: v for k, v in run.metrics.items() if k.startswith("best/")}
    run.recalibrate()
    run.metrics = {"step": run.step, "epoch": run.step / steps_per_epoch,
                   **q_metrics(run.model, run.data, eval_idx, run.data.images.device, score_codes)}
    runlog.write({"event": "eval", "kind": "eval", **run.metrics})
    with eager():
        save_grids(run.model, out, f"{run.step:06d}", run.cfg.seed + 12345, run.data.images.device)
    run.metrics.update(best)
    run.save_best(out / BEST_NAME)
    write_curves(out)


def train(config: TrainConfig, *, resume: bool = False, score_codes: ScoreCodes | None = None,
          log: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None) -> Path:
    """Train the model ``config`` describes; returns the path of the final checkpoint (``<out>/ckpt.pt``).

    ``resume=True`` continues ``<out>/ckpt.pt`` exactly (config must match up to RESUMABLE_CHANGES, the data its
    fingerprint). Raises ValueError for bad settings, basicprop.files.FolderLocked when another process trains in
    ``out``, TrainingDiverged when a loss becomes non-finite, TrainingInterrupted when ``should_stop`` said so.
    """
    cfg = config
    validate(cfg)
    if cfg.tensorboard:
        check_tensorboard()
    device = resolve_device(cfg.device)
    autocast_dtype(cfg.precision, device)          # bf16 off CUDA is refused before anything is loaded
    out = Path(cfg.out)
    ckpt_path = out / CKPT_NAME
    with folder_lock(out, "run directory"), contextlib.ExitStack() as closing:
        remove_temps(out)
        run = start_run(cfg, device, ckpt_path, resume)
        fast_path(run.model, device, precision=cfg.precision, compile=cfg.compile)
        n_data = run.data.images.shape[0]
        steps_per_epoch, total, eval_every = schedule(cfg, n_data, run.step, ckpt_path)
        eval_idx = np.random.default_rng(0).permutation(n_data)[:cfg.eval_size]
        runlog = open_run_log(run, out, total, resume, log, closing)
        meter, t_last, step_last = Meter(device), time.time(), run.step
        while run.step < total:
            if should_stop is not None and should_stop():
                check_finite(run, meter, True, total, ckpt_path, runlog)
                if run.saved_step != run.step:
                    run.save(ckpt_path)
                raise TrainingInterrupted(ckpt_path, run.step)
            idx = torch.randint(n_data, (cfg.batch_size,), generator=run.gen, device=device)
            labels = None if run.data.labels is None else run.data.labels[idx]
            set_learning_rates(run.optims, *learning_rates(cfg, run.step, total))
            run.model.real_mi_on = real_mi_on(cfg, run.step, total)
            stats = run.model.train_step(Batch(run.data.images[idx].float().div_(255.0), labels), run.optims,
                                         generator=run.gen, noise_std=instance_noise_std(cfg, run.step))
            run.step += 1
            meter.add(stats, run.step)
            due_log, due_eval, due_ckpt = (run.step % k == 0 or run.step == total
                                           for k in (cfg.log_every, eval_every, cfg.ckpt_every))
            if not (due_log or due_eval or due_ckpt):
                continue
            check_finite(run, meter, due_ckpt, total, ckpt_path, runlog)
            if due_log:
                now = time.time()
                runlog.write(train_record(cfg, run.step, steps_per_epoch, meter, step_last, t_last, now))
                t_last, step_last = now, run.step
            if due_eval:
                evaluate(run, out, eval_idx, steps_per_epoch, runlog, score_codes)
            if due_ckpt:
                run.save(ckpt_path)
        write_json(out / "metrics.json", run.metrics, indent=2)
    return ckpt_path
