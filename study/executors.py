"""Where runs execute: a local process pool (default) or a Ray cluster.

Both take resolved :class:`~study.runner.Run` s, call ``on_done(run, summary)`` on the driver as each one
finishes (the driver writes the summary, so a remote worker's result lands in the study directory), and retry a
run once when it failed or its worker died. A diverged run is a result and is not retried. Ctrl-C or SIGTERM to the
driver (or a worker's run stopped by a signal) stops the local pool: each run in training is saved at its next step
boundary, and the same command resumes it.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

from study.runner import FAILED, Run, execute_pinned

EXECUTORS = ("local", "ray")
RETRIES = 1
OnDone = Callable[[Run, dict], None]


def default_jobs(threads: int = 1, cores: int | None = None) -> int:
    """How many runs fit the machine's cores at ``threads`` each (at least one)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(threads, 1))


def _crashed(run: Run, exc: BaseException) -> dict:
    return {"study": run.study, "row": run.row, "seed": run.seed, "status": FAILED, "config_hash": run.config_hash,
            "message": f"worker crashed: {type(exc).__name__}: {exc}"}


def run_local(runs: Sequence[Run], on_done: OnDone, *, jobs: int) -> None:
    """Runs in ``jobs`` spawned processes (one run each at a time); ``jobs == 1`` runs in this process."""
    attempts = {r.key: 0 for r in runs}
    if jobs <= 1:
        for run in runs:
            summary = execute_pinned(run)
            while summary["status"] == FAILED and attempts[run.key] < RETRIES:
                attempts[run.key] += 1
                summary = execute_pinned(run)
            on_done(run, summary)
        return
    queue = list(runs)
    ctx = multiprocessing.get_context("spawn")
    while queue:
        retry: list[Run] = []
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_ignore_sigint) as pool:
            try:
                futures, broken = {}, False
                while futures or (queue and not broken):
                    # never more runs in the pool than workers: a run waiting in its queue would start in a
                    # worker that a stop has just freed
                    while queue and not broken and len(futures) < jobs:
                        try:
                            futures[pool.submit(execute_pinned, queue[0])] = queue[0]
                            queue.pop(0)
                        except BrokenProcessPool:
                            broken = True
                    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        run = futures.pop(fut)
                        try:
                            summary = fut.result()
                        except BrokenProcessPool as exc:   # a worker died (killed, out of memory): the pool is gone
                            summary, broken = _crashed(run, exc), True
                        if summary["status"] == FAILED and attempts[run.key] < RETRIES:
                            attempts[run.key] += 1
                            retry.append(run)
                        else:
                            on_done(run, summary)
            except BaseException:             # Ctrl-C, SIGTERM, or a worker's run stopped by one
                _stop_workers(pool)
                raise
        queue += retry


def _ignore_sigint() -> None:
    """A worker leaves Ctrl-C to the driver (the terminal sends it to the whole process group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """No further run starts; each running one gets SIGTERM (training saves at the next step boundary, anything
    else stops at once) and is waited for, so that the same command resumes it; a second interrupt kills them."""
    workers = list((pool._processes or {}).values())    # no public handle on them before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)
    try:
        for worker in workers:
            worker.join()
    except BaseException:
        for worker in workers:
            worker.kill()
        raise


def run_ray(runs: Sequence[Run], on_done: OnDone, *, address: str | None, gpus_per_run: float = 0.0,
            threads: int = 1) -> None:
    """Each run a Ray task asking for ``threads`` CPUs and ``gpus_per_run`` GPUs (fractions pack several small runs
    on one GPU). ``address``: "auto" for a cluster started with ``ray start``, None for a local instance."""
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install 'basicprop[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=threads, num_gpus=gpus_per_run, max_retries=RETRIES)(execute_pinned)
        attempts = {r.key: 0 for r in runs}
        refs = {task.remote(run): run for run in runs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            run = refs.pop(ready[0])
            try:
                summary = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                summary = _crashed(run, exc)
            if summary["status"] == FAILED and attempts[run.key] < RETRIES:
                attempts[run.key] += 1
                refs[task.remote(run)] = run
            else:
                on_done(run, summary)
    finally:
        if started_here:
            ray.shutdown()
