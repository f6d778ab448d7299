"""The ``podium`` command group; each subcommand lives in its own module and is added here."""

from __future__ import annotations

import logging

import click

from podium import __version__
from podium.cli.errors import OutputClosed
from podium.secrets import scrub

__all__ = ["cli"]


class _Group(click.Group):
    """Click exits with 1, silently, on a broken pipe; Podium's entry point says so and exits with 141."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise OutputClosed from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="podium")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Podium: LLM agents that behave the same on every provider."""
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter(tracebacks=verbose >= 2))
    logging.basicConfig(level=level, handlers=[handler])


class _Formatter(logging.Formatter):
    """``LEVEL name: message``; a logged exception shows as one line unless ``-vv`` asked for tracebacks."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not record.exc_info:
            return super().format(record)
        error = record.exc_info[1]
        line = super().format(logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None}))
        if error is None:
            return line
        return scrub(f"{line} ({type(error).__name__}: {error}; -vv shows the traceback)", shapes=True)


def _register() -> None:
    """Add the subcommands (each module defines one click command or group)."""
    import importlib

    for module_name, attr in _SUBCOMMANDS:
        cli.add_command(getattr(importlib.import_module(module_name), attr))


_SUBCOMMANDS: list[tuple[str, str]] = [
    ("podium.cli.chat", "chat"),
    ("podium.cli.run", "run"),
    ("podium.cli.models", "models"),
    ("podium.cli.sandbox", "sandbox"),
    ("podium.cli.mcp", "mcp"),
    ("podium.cli.trace", "trace"),
    ("podium.cli.replay", "replay"),
    ("podium.cli.resume", "resume"),
    ("podium.cli.serve", "serve"),
    ("podium.cli.batch", "batch"),
]

_register()
