"""Run a function on untrusted input in a forked child, so that a C library crashing on it costs the child only.

The HDF5 library can crash (a segmentation fault) or allocate without bound on a corrupted file. :func:`isolated`
runs ``fn(*args)`` in a child forked from this process, under a memory cap and a time limit, and returns its
JSON-able result, or ``{"error": "..."}`` when the child raised one of the errors a library signals bad input
with, crashed, ran out of memory or hung. Any other exception in the child is a bug in ``fn``: it is raised here
as a ``RuntimeError`` carrying the child's traceback.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import traceback
from typing import Callable

TIMEOUT_S = 60
MEMORY_CAP = 512 << 20  # bytes the child may allocate beyond what it inherited
# what HDF5 (through h5py) raises for corrupted structure: RuntimeError among them, but only inside the child
INPUT_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, UnicodeDecodeError, OverflowError)


def _cap_memory(extra: int) -> None:
    """Limit the address space to what the child has now plus ``extra`` (where Linux tells the size)."""
    try:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + extra if hard == resource.RLIM_INFINITY else min(vm + extra, hard)
    if soft == resource.RLIM_INFINITY or cap < soft:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _child(fn: Callable[..., dict], args: tuple, fd: int) -> None:
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C (the whole process group) ends the child at once
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _cap_memory(MEMORY_CAP)
        try:
            result = fn(*args)
        except MemoryError:
            result = {"error": "it needs more memory than any valid file would"}
        except INPUT_ERRORS as e:
            result = {"error": (str(e).strip().splitlines() or [type(e).__name__])[0]}
        except BaseException:
            result = {"bug": traceback.format_exc()}
        try:
            data = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            data = json.dumps({"error": f"unexpected content ({e})"}).encode()
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def isolated(fn: Callable[..., dict], *args) -> dict:
    """``fn(*args)``, a JSON-able dict, computed in a forked child; ``{"error": ...}`` if the input broke it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(fn, args, write_end)
    os.close(write_end)
    finished = False
    try:
        with os.fdopen(read_end, "rb") as f:
            if not select.select([f], [], [], TIMEOUT_S)[0]:
                return {"error": f"reading it took longer than {TIMEOUT_S} s"}
            data = f.read()
        _, status = os.waitpid(pid, 0)
        finished = True
    finally:
        if not finished:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"error": f"the library reading it crashed ({signal.Signals(os.WTERMSIG(status)).name})"}
    if not data:
        return {"error": "the library reading it failed"}
    result = json.loads(data)
    if "bug" in result:
        raise RuntimeError(f"{fn.__name__} failed in its child process:\n{result['bug']}")
    return result
