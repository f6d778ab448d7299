"""``podium trace``: list, show, export and import the runs' traces kept in the conversation database.

A trace is named by its id, its run's id (the latest trace of that run), a unique prefix of either,
``latest``, or -- for ``show`` -- a JSONL file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from podium.cli.errors import EXIT, fail
from podium.store.sqlite import SQLiteStore
from podium.trace import Trace, TraceError

__all__ = ["load_trace", "trace"]

_DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")


def _store(db: Path | None) -> SQLiteStore:
    return SQLiteStore(db) if db is not None else SQLiteStore()


def load_trace(ref: str, db: Path | None) -> Trace:
    """The trace ``ref`` names: a JSONL file when one exists at that path, else a stored trace."""
    path = Path(ref)
    if path.suffix in (".jsonl", ".json") or path.is_file():
        return Trace.load(path)
    with _store(db) as store:
        trace_id = store.traces.find(ref)
        return Trace.from_jsonl("\n".join(store.traces.lines(trace_id)), source=f"trace {trace_id}")


@click.group("trace")
def trace() -> None:
    """The traces of runs: every model request and tool call, with timings and cost."""


@trace.command("list")
@_DB
@click.option("-n", "--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--conversation", help="Only this conversation's traces.")
def list_traces(db: Path | None, limit: int, conversation: str | None) -> None:
    """List the stored traces, newest first."""
    with _store(db) as store:
        rows = store.traces.list(conversation_id=conversation, limit=limit)
    if not rows:
        click.echo("no traces yet: `podium run` and `podium chat` record one per run", err=True)
        return
    for row in rows:
        click.echo(f"{row.run_id[:12]}  {row.started[:19]}  {row.status or 'unfinished':<10} {row.records:>5} records")


@trace.command("show")
@click.argument("ref", default="latest")
@_DB
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines instead of a table.")
def show(ref: str, db: Path | None, as_json: bool) -> None:
    """Show a trace's steps (REF: run id, trace id, prefix, `latest`, or a .jsonl file)."""
    from podium.trace.summary import format_steps, steps

    loaded = _load_or_fail(ref, db)
    if as_json:
        sys.stdout.write(loaded.to_jsonl())
        return
    header = loaded.header
    click.echo(f"run {loaded.run_id}  model {header.get('model')}  started {header.get('started')}")
    click.echo(format_steps(steps(loaded)))


@trace.command("export")
@click.argument("ref", default="latest")
@_DB
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
def export(ref: str, db: Path | None, output: Path | None) -> None:
    """Write a stored trace as JSONL (secrets were scrubbed when it was recorded)."""
    loaded = _load_or_fail(ref, db)
    if output is None:
        sys.stdout.write(loaded.to_jsonl())
        return
    try:
        loaded.save(output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT["usage"])
    click.echo(f"wrote {output} ({len(loaded)} records)", err=True)


@trace.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_DB
def import_trace(file: Path, db: Path | None) -> None:
    """Store a JSONL trace (from `podium trace export` or `Trace.save`)."""
    loaded = _load_or_fail(str(file), db)
    with _store(db) as store:
        trace_id = store.traces.write(loaded.lines)
    click.echo(f"imported run {loaded.run_id} as trace {trace_id} ({len(loaded)} records)", err=True)


def _load_or_fail(ref: str, db: Path | None) -> Trace:
    from podium.store.base import StoreError

    try:
        return load_trace(ref, db)
    except (TraceError, StoreError) as exc:
        fail(str(exc), EXIT["usage"])
