"""One JSON report of training speed on one CUDA GPU: what benchmarks/gpu_check.sh runs.

    PYTHONPATH=. python3 benchmarks/gpu_check.py [--budget 420]     # $OUT/gpu_check.json, or stdout when OUT is unset
    PYTHONPATH=. python3 benchmarks/gpu_check.py --device cpu --smoke   # every part, tiny, on a CPU, in seconds

Parts, in this order; each is guarded (an error is recorded in its entry and the next part runs), each is skipped
when the time budget (``--budget`` seconds from the start) would not hold it, and the report is rewritten after
each part, so a run cut short still leaves what it measured:

- ``throughput``: img/s of the paper MNIST net's training step (the ``infogan`` preset: D/Q update + G update) at
  batch 128 / 1024 / 4096, eager float32 and bf16 first, then compiled and compiled + bf16 (``gan_models.device.
  fast_path``; the compile and warm-up seconds and the peak GPU memory of each variant apart);
- ``sync_free``: host synchronisations counted by ``torch.cuda.set_sync_debug_mode`` in 3 steps of the trainer's
  loop body: the paper net in float32 and bf16, infogan-rectangles (code-interaction penalty) in float32;
- ``time_to_accuracy``: ``infogan-mnist`` at batch 128 with the variant of highest img/s at batch 128, until Q's
  accuracy on the digit reaches ``--target`` (0.95; evaluated every 100 steps on 5,000 training images) or a time
  cap; without real MNIST (``$BASICPROP_MNIST_DIR``) ``infogan-line`` on basicprop-line, which the entry names;
- ``stacked``: aggregate img/s of K = 1 / 4 / 16 seeds trained as one stack (``gan_models.stacked.train_stacked``),
  or ``"not available"`` where that module is absent;
- ``compile_modes``: at batch 128, torch.compile's other modes (``reduce-overhead``: CUDA graphs; ``default``).

The throughput data are random uint8 images on the device (what a step reads does not change its speed); the
entry says so. Without a CUDA device (``--device auto``/``cuda``) the report is one line saying so, at once.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch

from basicprop.files import jsonable, write_json
from gan_models.checkpoint import build_model
from gan_models.config import make_config
from gan_models.device import compile_mode, fast_path, resolve_device
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec
from gan_models.trainer import Meter

PAPER_PRESET = "infogan"
N_IMAGES = 8192
REPORT_NAME = "gpu_check.json"


class Report:
    """The JSON report, rewritten (atomically) after every part when ``path`` is set, printed at the end otherwise."""

    def __init__(self, path: Path | None, head: dict):
        self.path, self.data = path, {**head, "parts": {}}

    def part(self, name: str, entry: dict) -> None:
        self.data["parts"][name] = entry
        self.flush()

    def flush(self) -> None:
        if self.path is not None:
            write_json(self.path, jsonable(self.data), indent=2)

    def finish(self) -> None:
        self.flush()
        if self.path is None:
            print(json.dumps(jsonable(self.data), indent=2))


class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


class SkipPart(Exception):
    """Raised by a part before it does anything: recorded as skipped (or "not available") with the reason."""


def run_part(report: Report, budget: Budget, name: str, need_s: float, fn, *args) -> None:
    """Run one part and record its entry: status ok, error (with the message), skipped (the time budget would
    not hold it, or SkipPart) or not available."""
    if budget.left() < need_s:
        report.part(name, {"status": "skipped", "reason": f"time budget: {budget.left():.0f} s left, "
                                                          f"the part needs about {need_s:.0f} s"})
        return
    t0 = time.perf_counter()
    try:
        entry = {"status": "ok", **fn(*args)}
    except SkipPart as why:
        entry = {"status": "not available" if str(why) == "not available" else "skipped", "reason": str(why)}
    except Exception as exc:          # one part's failure is recorded; the next part runs
        entry = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc(limit=6)[-3000:]}
    entry["part_s"] = round(time.perf_counter() - t0, 1)
    report.part(name, entry)


# ---------------------------------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def paper_stepper(batch_size: int, device: torch.device, precision: str, compiled: bool, mode: str | None,
                  preset: str = PAPER_PRESET):
    """The paper net's step (or ``preset``'s) on random uint8 images held on the device, as the trainer holds its
    data, and its stats added up as the trainer's Meter does between log records."""
    cfg = make_config(preset, batch_size=batch_size)
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0)
    torch.manual_seed(0)
    model = build_model(cfg.to_dict(), spec).to(device).train()
    fast_path(model, device, precision=precision, compile=compiled, mode=mode)
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    gen = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (N_IMAGES, 1, 28, 28), dtype=torch.uint8, generator=gen, device=device)
    meter, count = Meter(device), [0]

    def step():
        idx = torch.randint(N_IMAGES, (batch_size,), generator=gen, device=device)
        stats = model.train_step(Batch(images[idx].float().div_(255.0)), optims, generator=gen,
                                 noise_std=cfg.instance_noise)
        count[0] += 1
        meter.add(stats, count[0])
        return stats
    return step


def measure(batch_size: int, device: torch.device, precision: str, compiled: bool, mode: str | None,
            seconds: float, warmup: int) -> dict:
    """img/s over at least ``seconds`` of whole steps after ``warmup`` steps (compilation happens there)."""
    if compiled:
        torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    step = paper_stepper(batch_size, device, precision, compiled, mode)
    for _ in range(warmup):
        stats = step()
    float(stats["loss/d"])
    sync(device)
    warm_s = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        stats = step()
        n += 1
        if n % 5 == 0:
            sync(device)
    loss = float(stats["loss/d"])
    sync(device)
    dt = time.perf_counter() - t0
    row = {"batch_size": batch_size, "precision": precision, "compiled": compiled,
           "mode": (mode or compile_mode(device)) if compiled else None, "steps": n,
           "img_per_s": round(n * batch_size / dt, 1), "ms_per_step": round(1000 * dt / n, 3),
           "warmup_s": round(warm_s, 2), "loss_d": loss}
    if device.type == "cuda":
        row["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 3)
    return row


def variant_name(precision: str, compiled: bool, mode: str | None = None) -> str:
    return ("compiled" if compiled else "eager") + f"-{precision}" + (f"-{mode}" if mode else "")


def throughput(args, device: torch.device, batches: list[int], compiled: bool, budget: Budget,
               mode: str | None = None) -> dict:
    rows = []
    for bs in batches:
        for precision in args.precisions:
            name = variant_name(precision, compiled, mode)
            if budget.left() < (60 if compiled else 10):
                rows.append({"variant": name, "batch_size": bs, "status": "skipped", "reason": "time budget"})
                continue
            try:
                row = measure(bs, device, precision, compiled, mode, args.seconds, args.warmup)
                rows.append({"variant": name, "status": "ok", **row})
            except Exception as exc:
                rows.append({"variant": name, "batch_size": bs, "status": "error",
                             "error": f"{type(exc).__name__}: {str(exc)[:500]}"})
    return {"rows": rows, "data": "random uint8 images on the device", "gflop_per_image_step": 0.31}


def sync_free(args, device: torch.device) -> dict:
    """Host synchronisations in 3 steps (the trainer's loop body), counted by torch.cuda.set_sync_debug_mode:
    the paper net in float32 and bf16, and infogan-rectangles (code-interaction penalty) in float32."""
    if device.type != "cuda":
        raise SkipPart("torch.cuda.set_sync_debug_mode needs CUDA (tests/test_fast_path.py checks the step on CPU)")
    out = {}
    for preset, precision in [(PAPER_PRESET, p) for p in args.precisions] + [("infogan-rectangles", "fp32")]:
        step = paper_stepper(128, device, precision, False, None, preset)
        step()                                # first-call work (cuDNN, allocator) outside the check
        sync(device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(3):
                    step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        found = [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]
        out[f"{preset}-{precision}"] = {"syncs_in_3_steps": len(found), "first": found[0] if found else None}
        sync(device)
    return {"checked": out, "sync_free": all(v["syncs_in_3_steps"] == 0 for v in out.values())}


# ---------------------------------------------------------------------------------------------- training runs
def mnist_available() -> bool:
    try:
        from basicprop.datasets import load_dataset
        load_dataset("mnist", split="train")
        return True
    except Exception:
        return False


def best_variant(report: Report, steps: int, batch_size: int = 128) -> dict:
    """The precision and compile setting measured at ``batch_size`` that would train ``steps`` steps soonest,
    warm-up (compilation) included; eager float32 when nothing was measured."""
    rows = [r for part in ("throughput", "throughput_compiled") for r in
            (report.data["parts"].get(part) or {}).get("rows", []) if r.get("status") == "ok"
            and r["batch_size"] == batch_size]
    if not rows:
        return {"precision": "fp32", "compile": False}
    best = min(rows, key=lambda r: r["warmup_s"] + steps * r["ms_per_step"] / 1000)
    return {"precision": best["precision"], "compile": best["compiled"]}


def time_to_accuracy(args, device: torch.device, report: Report, budget: Budget, use_mnist: bool) -> dict:
    from eval.clustering import code_factor_accuracy
    from gan_models import TrainingInterrupted, train

    preset, dataset = ("infogan-mnist", "mnist") if use_mnist else ("infogan-line", "basicprop-line")
    fast = best_variant(report, steps=6 * 60000 // 128)       # infogan-mnist: 6 epochs at batch 128
    cap = max(10.0, min(args.tta_cap, budget.left() - args.reserve))
    if args.smoke:
        cap = 5.0
    curve, t0 = [], time.perf_counter()
    reached = {}

    def log(record: dict) -> None:
        accs = [v for k, v in record.items() if k.startswith("acc/") and k.count("/") == 1 and v is not None]
        if record.get("event") == "eval" and accs:
            curve.append({"step": record["step"], "acc": round(min(accs), 4),
                          "elapsed_s": round(time.perf_counter() - t0, 1)})
            if min(accs) >= args.target and not reached:
                reached.update(curve[-1])

    def should_stop() -> bool:
        return bool(reached) or time.perf_counter() - t0 > cap

    with tempfile.TemporaryDirectory() as tmp:
        sizes = dict(batch_size=8, steps=2, eval_size=100) if args.smoke else dict(batch_size=128, eval_size=5000)
        cfg = make_config(preset, dataset=dataset, device=str(device), out=str(Path(tmp) / "run"), progress=False,
                          epochs=50, eval_every=args.eval_every, ckpt_every=10 ** 9, log_every=args.eval_every,
                          **sizes, **fast)
        step = 0
        try:
            ckpt = train(cfg, score_codes=code_factor_accuracy, log=log, should_stop=should_stop)
            step = torch.load(ckpt, map_location="cpu", weights_only=True)["step"]
        except TrainingInterrupted as stop:
            step = stop.step
    return {"preset": preset, "dataset": dataset, "options": fast, "target": args.target,
            "reached": bool(reached), "time_to_target_s": reached.get("elapsed_s"),
            "steps_to_target": reached.get("step"), "steps": step, "wall_s": round(time.perf_counter() - t0, 1),
            "time_cap_s": round(cap, 1), "curve": curve,
            "note": "elapsed from the call of train(): data loading and compilation included"}


def stacked(args, device: torch.device, budget: Budget) -> dict:
    try:
        from gan_models.stacked import train_stacked
    except ImportError:
        raise SkipPart("not available") from None
    ks = [1, 2] if args.smoke else [1, 4, 16]
    steps, log_every = (2, 1) if args.smoke else (60, 20)
    bs = 8 if args.smoke else 128
    rows = []
    for k in ks:
        if budget.left() < args.reserve / 2:
            rows.append({"k": k, "status": "skipped", "reason": "time budget"})
            continue
        marks = []

        def log(member: int, record: dict) -> None:
            if member == 0 and "loss/d" in record:
                marks.append((record["step"], time.perf_counter()))
        with tempfile.TemporaryDirectory() as tmp:
            cfgs = [make_config(PAPER_PRESET, dataset=args.dataset, device=str(device), seed=s, batch_size=bs,
                                steps=steps, log_every=log_every, ckpt_every=10 ** 9, eval_every=10 ** 9,
                                eval_size=0, progress=False, out=str(Path(tmp) / f"seed{s}")) for s in range(k)]
            t0 = time.perf_counter()
            try:
                train_stacked(cfgs, log=log)
            except Exception as exc:
                rows.append({"k": k, "status": "error", "error": f"{type(exc).__name__}: {str(exc)[:500]}"})
                continue
            wall = time.perf_counter() - t0
        (s1, t1), (s2, t2) = marks[-2:] if len(marks) >= 2 else [(0, t0), (steps, t0 + wall)]
        rows.append({"k": k, "status": "ok", "batch_size": bs,
                     "img_per_s": round(k * bs * (s2 - s1) / (t2 - t1), 1),
                     "img_per_s_per_seed": round(bs * (s2 - s1) / (t2 - t1), 1),
                     "wall_s": round(wall, 1), "steps": steps})
    return {"preset": PAPER_PRESET, "dataset": args.dataset, "rows": rows,
            "note": "img/s between the last two log records of member 0, times K (steady state)"}


# ------------------------------------------------------------------------------------------------------- main
def environment(device: torch.device) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda_version": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           "device": {"type": device.type}}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["device"].update(name=props.name, memory_gib=round(props.total_memory / 2 ** 30, 1),
                             capability=f"{props.major}.{props.minor}",
                             multiprocessors=props.multi_processor_count,
                             bf16=torch.cuda.is_bf16_supported())
    else:
        env["device"]["name"] = platform.processor() or platform.machine()
        env["threads"] = torch.get_num_threads()
    return env


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA, else report that there is none), cuda, cuda:N, cpu")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for all parts together")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[128, 1024, 4096])
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per throughput row")
    ap.add_argument("--warmup", type=int, default=5, help="steps before timing (compilation happens there)")
    ap.add_argument("--target", type=float, default=0.95, help="Q accuracy the time-to-accuracy run stops at")
    ap.add_argument("--tta-cap", type=float, default=180.0, help="most seconds for the time-to-accuracy run")
    ap.add_argument("--eval-every", type=int, default=100, help="steps between its accuracy checks")
    ap.add_argument("--reserve", type=float, default=60.0, help="seconds kept for the parts after it")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: check that every part runs (CPU, seconds)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch_size, args.seconds, args.warmup, args.eval_every, args.reserve = [8], 0.2, 1, 2, 2.0
    return args


def main(argv=None) -> int:
    args = parse(argv)
    out = os.environ.get("OUT")
    path = Path(out) / REPORT_NAME if out else None
    if args.device in ("auto", "cuda") and not torch.cuda.is_available():
        report = Report(path, {"cuda": False, "error": "no CUDA device: torch.cuda.is_available() is False "
                                                        f"(torch {torch.__version__}, CUDA build {torch.version.cuda})"})
        report.finish()
        return 0
    budget = Budget(args.budget)
    device = resolve_device(args.device)
    use_mnist = not args.smoke and mnist_available()
    args.dataset = "mnist" if use_mnist else "basicprop-line"
    args.precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    report = Report(path, {"cuda": device.type == "cuda", "smoke": args.smoke, "budget_s": args.budget,
                           **environment(device), "mnist": use_mnist,
                           "data": "real MNIST" if use_mnist else "basicprop-line (no real MNIST found)",
                           "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])})
    report.flush()

    first, rest = args.batch_size[:1], args.batch_size[1:]
    run_part(report, budget, "throughput", 15, throughput, args, device, args.batch_size, False, budget)
    run_part(report, budget, "sync_free", 5, sync_free, args, device)
    if device.type == "cuda":
        run_part(report, budget, "throughput_compiled", 90, throughput, args, device, first, True, budget)
    else:
        report.part("throughput_compiled", {"status": "skipped", "reason": "compiling takes minutes on a CPU"})
    run_part(report, budget, "time_to_accuracy", 1 if args.smoke else 30, time_to_accuracy, args, device, report,
             budget, use_mnist)
    run_part(report, budget, "stacked", 1 if args.smoke else 20, stacked, args, device, budget)
    if device.type == "cuda" and rest:
        run_part(report, budget, "throughput_compiled_large", 120, throughput, args, device, rest, True, budget)
    if device.type == "cuda":
        for mode in ("reduce-overhead", "default"):
            run_part(report, budget, f"compile_mode_{mode}", 60, throughput, args, device, first, True, budget, mode)
    report.data["wall_s"] = round(args.budget - budget.left(), 1)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
