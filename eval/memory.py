"""How much memory a computation may take: checked before allocating, refused with the estimate."""
from __future__ import annotations

import os


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``; else physical memory; else None)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(need: int, what: str, remedy: str = "") -> None:
    """Raise ``ValueError`` naming ``what`` and the estimate when ``need`` bytes exceed the memory available now."""
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"{what} needs about {need / 2**30:.1f} GiB of memory, more than the {free / 2**30:.1f} GiB "
                         "available" + (f"; {remedy}" if remedy else ""))
