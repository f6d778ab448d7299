"""The ``podium`` command line (an interface layer: it only consumes events and serialized shapes)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``podium`` command."""
    try:
        from podium.cli.app import cli
    except ImportError as exc:  # the CLI extra is missing
        sys.stderr.write(
            f"podium: the command line needs extra packages ({exc.name} is missing).\n"
            "Install them with:  pip install 'podium[cli]'\n"
        )
        raise SystemExit(2) from exc
    cli()
