"""Memory and disk a task will need, checked before it allocates: refuse what cannot fit, giving the estimate.

A size a user can type (``--n-train 1000000000000``) or a file can declare (a header saying 10^9 images) is
estimated first and refused with one readable :class:`NotEnoughResources` (a ``ValueError``) instead of a
MemoryError traceback, a machine driven into swap, or a disk filled to the last byte.
"""
from __future__ import annotations

import os
import resource
import shutil


class NotEnoughResources(ValueError):
    """A task would need more memory or disk than there is; the message gives the estimate."""


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; binary units up to EiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping: MemAvailable, capped by ``ulimit -v``; None if
    unknown."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            pass
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        available = limit if available is None else min(available, limit)
    return available


def check_memory(needed: int, what: str, hint: str = "") -> None:
    """Raise :class:`NotEnoughResources` if ``needed`` bytes exceed the memory available."""
    available = available_memory()
    if available is not None and needed > available:
        raise NotEnoughResources(f"{what} needs about {human_bytes(needed)} of memory, more than the "
                                 f"{human_bytes(available)} available" + (f"; {hint}" if hint else ""))


def check_disk(folder, needed: int, what: str, hint: str = "") -> None:
    """Raise :class:`NotEnoughResources` if ``needed`` bytes exceed the free space of ``folder``'s file system."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise NotEnoughResources(f"{what} needs about {human_bytes(needed)} of disk, more than the "
                                 f"{human_bytes(free)} free in {str(folder)!r}" + (f"; {hint}" if hint else ""))
