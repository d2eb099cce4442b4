"""The checkpoint loop of the scripts that read checkpoints given on their command line (code_share, code_layout,
mnist_rho_ceiling), and the check of those that read a C-InfoGAN trained on MNIST."""
from __future__ import annotations

from typing import Callable, Iterator

from basicprop.clitools import fail
from gan_models.checkpoint import load_checkpoint


def each_scored(paths: list[str], score: Callable) -> Iterator[tuple[str, object]]:
    """(path, score(loaded checkpoint)) for each path in turn; a checkpoint that cannot be read or that ``score``
    refuses (ValueError) ends the script with one error line and exit 2."""
    for path in paths:
        try:
            result = score(load_checkpoint(path))
        except (ValueError, OSError) as exc:
            fail(f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}")
        yield path, result


def require_mnist_cinfogan(model, continuous: bool = False) -> None:
    """ValueError unless ``model`` (a loaded checkpoint) is a C-InfoGAN trained on MNIST, with continuous codes if
    ``continuous``."""
    if model.dataset_meta.get("kind") != "mnist" or not model.spec.cond or (continuous and not model.spec.cont):
        wanted = " with continuous codes" if continuous else ""
        raise ValueError(f"needs a C-InfoGAN checkpoint trained on MNIST{wanted} (this one: dataset "
                         f"{model.dataset_meta.get('dataset')!r}, label classes {model.spec.cond}, continuous codes "
                         f"{model.spec.cont})")
