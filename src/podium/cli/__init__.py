"""The ``podium`` command line (an interface layer: it only consumes events and serialized shapes)."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``podium`` command: no traceback reaches the terminal (see ``podium.cli.errors``)."""
    try:
        from podium.cli.app import cli
    except ImportError as exc:  # a broken install: the command's packages are base dependencies
        sys.stderr.write(
            f"podium: the installation is incomplete ({exc.name} is missing).\n"
            "Reinstall it with:  pip install --force-reinstall podium\n"
        )
        raise SystemExit(2) from exc
    from podium.cli.errors import EXIT, OutputClosed, error_exit_code, error_line, exit_broken_pipe, fail, logger, say
    from podium.cli.signals import Terminated, install_handlers
    from podium.exceptions import PodiumError

    _prepare_streams()
    install_handlers()
    try:
        import click

        try:
            code = cli.main(standalone_mode=False)
        except click.exceptions.Abort:
            say("podium: interrupted")
            raise SystemExit(EXIT["cancelled"]) from None
        except click.ClickException as exc:
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise SystemExit(code if isinstance(code, int) else 0)
    except Terminated as exc:
        say(f"podium: {exc}; stopped")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        say("podium: interrupted")
        raise SystemExit(EXIT["cancelled"]) from None
    except (BrokenPipeError, OutputClosed):
        exit_broken_pipe()
    except OSError as exc:  # the system refused something (a full disk, a missing file): not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", EXIT["error"])
    except PodiumError as exc:
        fail(error_line(exc, name=False), error_exit_code(exc))
    except Exception as exc:
        logger.debug("unexpected error", exc_info=True)
        fail(f"unexpected {error_line(exc)} (this is a bug in Podium; -vv shows the traceback)", EXIT["error"])


def _prepare_streams() -> None:
    """Never fail on text that is not valid in the stream's encoding: read bytes as escapes, write replacements.

    A standard stream that was closed when ``podium`` started (``>&-``) reads or writes nothing.
    """
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - lives as long as podium
    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stdout, "replace"), (sys.stderr, "replace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors=errors)
