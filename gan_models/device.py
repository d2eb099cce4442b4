"""Devices by name, and memory estimates checked before anything large is allocated.

    device = resolve_device("auto")                  # CUDA, then MPS, then CPU
    ensure_fits(n * 784 * 4, device, "--n 1000000")  # ValueError giving the estimate when it cannot fit
"""
from __future__ import annotations

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
