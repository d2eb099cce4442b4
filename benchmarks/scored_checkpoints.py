"""The checkpoint loop of the scripts that read checkpoints given on their command line (code_share, code_layout)."""
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
