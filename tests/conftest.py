"""Shared test fixtures. Real MNIST is read from ../shared/data/mnist (never a copy in the repo)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("BASICPROP_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))


def pytest_configure(config):
    """Under pytest-xdist (``make test``: one worker per core) each worker computes on one thread, and so do the
    commands it starts: workers with a thread per core each would fight over the cores."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """The tests marked slow first, so that the workers do not end with one of them running while the others
    idle. The same order in every worker, as pytest-xdist requires."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture(autouse=True, scope="session")
def _interrupts_reach_the_tests():
    """A suite started in the background (``make test &``) inherits SIGINT ignored, and so would every command the
    tests start: the interrupt tests need it delivered. A Python handler here is reset to the default in children."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep caches (unpacked MNIST, factor classifiers) out of the user's home during tests,
    unless BASICPROP_CACHE is already set (CI may point it at a persistent directory)."""
    if "BASICPROP_CACHE" not in os.environ:
        os.environ["BASICPROP_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.setdefault("BASICPROP_MNIST_DIR", str(MNIST_DIR))
    yield


@pytest.fixture
def one_torch_thread():
    """Tiny batches: one thread is as fast on an idle machine and far faster on a shared one."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
