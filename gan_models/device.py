"""Devices by name, memory estimates checked before anything large is allocated, and training's fast path.

    device = resolve_device("auto")                  # CUDA, then MPS, then CPU
    ensure_fits(n * 784 * 4, device, "--n 1000000")  # ValueError giving the estimate when it cannot fit
    fast_path(model, device, precision="bf16", compile=True)   # --precision bf16 (CUDA) and --compile

The fast path changes how the networks' forward passes run, never what the model holds: its state_dict keys and
values are those of the plain model, so a checkpoint written with it loads into a model without it. The unit is
``networks(model)``: G, D's trunk, D's head and Q's head (the losses, noise and optimisers stay as they are).
"""
from __future__ import annotations

import contextlib
import functools

import torch

from basicprop.resources import NotEnoughResources, check_memory, human_bytes

from .config import check_device_name


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; 'cpu', 'cuda', 'cuda:N' and 'mps' are checked to exist."""
    check_device_name(name)
    mps = getattr(torch.backends, "mps", None)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available (device 'cpu' or 'auto' runs here)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"device {name!r} requested but MPS is not available")
    return dev


def ensure_fits(nbytes: int, device: torch.device, what: str) -> None:
    """Raise ValueError (basicprop's NotEnoughResources) when ``nbytes``, an estimate, exceed the memory available
    on ``device``: free GPU memory for CUDA, else the host's (``basicprop.resources``)."""
    if device.type != "cuda":
        check_memory(nbytes, what)
        return
    free = int(torch.cuda.mem_get_info(device)[0])
    if nbytes > free:
        raise NotEnoughResources(f"{what} needs about {human_bytes(nbytes)} of memory, more than the "
                                 f"{human_bytes(free)} free on {device}")


# ------------------------------------------------------------------------------------------------ the fast path
# bf16 runs only on CUDA. On a CPU, bf16 autocast made the paper net's training step (batch 128, one thread)
# 12x slower than float32 where the CPU lacks bf16 instructions (oneDNN limited to AVX2: 19.8 s against 1.71 s),
# and at best 1-2x faster where it has them (AVX512-BF16: 0.58-0.73 s against 0.76-1.14 s).
COMPILE_MODES = {"cuda": "max-autotune-no-cudagraphs", "cpu": "default"}   # torch.compile mode by device type


def networks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules whose forward passes a training step runs: G, D's trunk, D's head and Q's head (if any).
    D's own forward, Q's code split and the losses call them and stay plain Python."""
    nets = [model.G, model.D.trunk, model.D.head, model.D.q_head]
    return [net for net in nets if net is not None]


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None for "fp32"; torch.bfloat16 for "bf16" on a CUDA device that supports it; ValueError elsewhere."""
    if precision == "fp32":
        return None
    if precision != "bf16":
        raise ValueError(f"unknown precision {precision!r}; choose from ['fp32', 'bf16']")
    if device.type != "cuda":
        raise ValueError(f"precision bf16 runs on CUDA only, not on {device.type}: on a CPU without bf16 "
                         f"instructions it made a training step 12x slower than float32 (measured); "
                         f"use --precision fp32 here")
    if not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision bf16: {torch.cuda.get_device_name(device)} has no bf16 support; "
                         f"use --precision fp32")
    return torch.bfloat16


def autocast_forward(module: torch.nn.Module, device_type: str, dtype: torch.dtype) -> None:
    """Run ``module``'s forward pass under ``torch.autocast(device_type, dtype)`` and hand its output on as float32,
    so everything computed from it (losses, instance noise, stats) stays float32; parameters stay float32.
    ``module`` gets a subclass of its class whose forward does this (as torch's parametrizations do), so a copy of
    it keeps the behaviour and its state_dict is unchanged."""
    module.__class__ = _autocast_class(type(module), device_type, dtype)


@functools.cache
def _autocast_class(cls: type, device_type: str, dtype: torch.dtype) -> type:
    def forward(self, *args, **kwargs):
        with torch.autocast(device_type=device_type, dtype=dtype):
            out = cls.forward(self, *args, **kwargs)
        return out.float()
    return type(f"Autocast{cls.__name__}", (cls,), {"forward": forward, "__module__": __name__})


def compile_mode(device: torch.device) -> str:
    """torch.compile's mode for ``device``: CUDA "max-autotune-no-cudagraphs" (fused kernels, Triton-tuned
    matmuls, no CUDA graphs), else "default". ``fast_path(..., mode=)`` takes any other, e.g. "reduce-overhead"
    (CUDA graphs); benchmarks/gpu_check.py measures them side by side."""
    return COMPILE_MODES.get(device.type, "default")


def fast_path(model: torch.nn.Module, device: torch.device, *, precision: str = "fp32", compile: bool = False,
              mode: str | None = None) -> None:
    """Switch ``model``'s networks to the fast path in place: bf16 autocast (``precision="bf16"``, CUDA only) and
    ``torch.compile`` (``mode``, default ``compile_mode(device)``). Both off: nothing changes, bit for bit.

    Compiling uses ``nn.Module.compile``, so the state_dict keeps the plain module's keys (no ``_orig_mod.``).
    Raises ValueError for bf16 off CUDA."""
    dtype = autocast_dtype(precision, device)
    if compile:
        allow_recompiles(RECOMPILE_LIMIT)
    for net in networks(model):
        if dtype is not None:
            autocast_forward(net, device.type, dtype)
        if compile:
            net.compile(mode=mode or compile_mode(device), dynamic=False)


# nn.Module.compile compiles nn.Module's own __call__, one code object for every module: the four networks, with a
# second graph for D's frozen in G's update, another shape (the code-interaction penalty's), eval mode, are more
# than torch's default limit of 8 graphs per code object, past which it would quietly run them uncompiled
RECOMPILE_LIMIT = 64


def allow_recompiles(n: int) -> None:
    """Let torch.compile keep at least ``n`` graphs per code object (a process-wide setting)."""
    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), n))


@contextlib.contextmanager
def eager():
    """Compiled modules run their plain forward inside (a context and a decorator): evaluations and grids, whose
    other shapes and eval-mode batch norm would each cost a compilation for a few calls."""
    set_stance = getattr(torch.compiler, "set_stance", None)     # torch >= 2.6
    if set_stance is None:
        yield
        return
    with set_stance("force_eager"):
        yield
