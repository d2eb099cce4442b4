"""Command-line plumbing shared by every package: user errors end in one line and exit code 2.

A CLI command is a thin layer over a library function. Library code raises ``ValueError`` (or an ``OSError``
such as ``FileExistsError``) with a readable message; :class:`Group` turns that into ``error: <message>`` on
stderr and exit status 2, never a traceback. Set ``BASICPROP_DEBUG=1`` to see the traceback instead.
"""
from __future__ import annotations

import os
import sys

import click

USER_ERRORS = (ValueError, OSError, click.ClickException)
EXIT_USER_ERROR = 2
# click >= 8.2 raises this for a group called without a command (older versions print the help themselves)
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


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
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:  # --help, --version
            sys.exit(exc.exit_code)
        except _NO_ARGS_IS_HELP as exc:  # a bare group: its help is the answer, not an error
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except USER_ERRORS as exc:
            if os.environ.get("BASICPROP_DEBUG"):
                raise
            fail(_one_line(exc))
        # click returns the exit code for Exit-style results in non-standalone mode
        sys.exit(rv if isinstance(rv, int) else 0)
