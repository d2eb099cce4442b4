"""Devices by name, and memory estimates checked before anything large is allocated.

    device = resolve_device("auto")                  # CUDA, then MPS, then CPU
    ensure_fits(n * 784 * 4, device, "--n 1000000")  # ValueError giving the estimate when it cannot fit
"""
from __future__ import annotations

import os

import torch

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
            raise ValueError(f"device {name!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"device {name!r} requested but MPS is not available")
    return dev


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device``: free GPU memory, else the host's available memory."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def ensure_fits(nbytes: int, device: torch.device, what: str) -> None:
    """Raise ValueError when ``nbytes`` (an estimate) exceed the memory available on ``device``."""
    free = available_memory(device)
    if nbytes > free:
        raise ValueError(f"{what} needs about {format_bytes(nbytes)} of memory, more than the "
                         f"{format_bytes(free)} available on {device.type}")
