"""Command-line plumbing shared by every package: user errors end in one line and exit code 2.

A CLI command is a thin layer over a library function. Library code raises ``ValueError`` (or an ``OSError``
such as ``FileExistsError``) with a readable message; :class:`Group` turns that into ``error: <message>`` on
stderr and exit status 2, never a traceback. Set ``BASICPROP_DEBUG=1`` to see the traceback instead.

Ctrl-C ends a command with one line and status 130. SIGTERM (what ``timeout``, schedulers and container stops send)
is raised as :class:`Terminated` in the main thread, so ``finally`` blocks and atomic writers clean up their temp
files exactly as for Ctrl-C, and ends with status 143. A command that wants to stop gracefully instead (``train``
saves at the next step boundary) installs its own handlers for its duration.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import click

from basicprop.resources import keep_freed_memory

USER_ERRORS = (ValueError, OSError, click.ClickException)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
# click >= 8.2 raises this for a group called without a command (older versions print the help themselves)
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException like KeyboardInterrupt, so only clean-up code sees it."""


def _raise_terminated(signum, frame):
    raise Terminated()


class StopOnSignal:
    """SIGINT / SIGTERM handlers for a training loop, and its ``should_stop``.

    Once the loop polls ``should_stop``, the first signal asks it to stop at the next step boundary; before that,
    or for a second signal, the handler raises at once (KeyboardInterrupt / Terminated: the atomic writers remove
    their temp files and ``ckpt.pt`` stays whole). A signal ignored on entry (a background job's SIGINT, a study
    worker's) stays ignored.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self.looping = False
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self.handle) for s in self.SIGNALS
                              if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def handle(self, signum, frame) -> None:
        if self.looping and self.signum is None:
            self.signum = signum
            return
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()

    def __call__(self) -> bool:
        self.looping = True
        return self.signum is not None


@contextlib.contextmanager
def raising_on_sigterm():
    """SIGTERM raised as :class:`Terminated` in the main thread while inside (elsewhere: nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail(message: str) -> None:
    """Print one error line and exit with status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USER_ERROR)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, click.ClickException):
        text = exc.format_message()
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


class Group(click.Group):
    """A click group whose user errors print a single line and exit with status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        keep_freed_memory()
        try:
            with raising_on_sigterm():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:  # --help, --version
            sys.exit(exc.exit_code)
        except _NO_ARGS_IS_HELP as exc:  # a bare group: its help is the answer, not an error
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("aborted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Terminated:
            click.echo("terminated", err=True)
            sys.exit(EXIT_TERMINATED)
        except USER_ERRORS as exc:
            if os.environ.get("BASICPROP_DEBUG"):
                raise
            fail(_one_line(exc))
        # click returns the exit code for Exit-style results in non-standalone mode
        sys.exit(rv if isinstance(rv, int) else 0)
