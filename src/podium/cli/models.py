"""``podium models``: what runs offline here and which providers have keys set."""

from __future__ import annotations

import os

import click
from rich.markup import escape
from rich.table import Table

from podium.cli.config import KEY_DEFAULTS, choose_model
from podium.cli.render import TerminalConsole

__all__ = ["models"]


@click.command("models")
def models() -> None:
    """List the models available offline and the providers whose API keys are set."""
    console = TerminalConsole()
    table = Table(title="Offline (no key, no network)")
    table.add_column("model")
    table.add_column("status")
    try:
        from podium.providers.local import default_model_path

        path = default_model_path()
        table.add_row("local:  (SmolLM2-135M-Instruct, embedded)", f"[green]installed[/green] {escape(str(path))}")
    except Exception as exc:  # the local extra is missing
        table.add_row("local:  (SmolLM2-135M-Instruct, embedded)", f"[red]not installed[/red]: {escape(str(exc))}")
    table.add_row("local:/path/to/model.gguf", "any GGUF chat model you have downloaded")
    table.add_row("test:echo", "repeats your message (for trying the CLI)")
    console.print(table)

    keys = Table(title="Providers")
    keys.add_column("provider")
    keys.add_column("API key")
    keys.add_column("default model")
    seen: set[str] = set()
    for variable, provider, default in KEY_DEFAULTS:
        if provider in seen and not os.environ.get(variable):
            continue
        seen.add(provider)
        has_key = "[green]set[/green]" if os.environ.get(variable) else f"[dim]{variable} not set[/dim]"
        keys.add_row(provider, has_key, default)
    console.print(keys)
    choice = choose_model(None)
    console.print(f"Default model now: [bold]{escape(choice.spec)}[/bold] ({escape(choice.source)})")
