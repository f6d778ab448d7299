"""``podium batch tasks.jsonl``: run many agent tasks, locally or on Ray, with a progress bar (see docs/batch.md).

Exit codes: 0 every task completed; 2 bad usage (a bad tasks file: every bad line is named, nothing runs);
4 some tasks failed (after their retries; ``--retry-failed`` runs them again); 130 interrupted (Ctrl-C) and
143 terminated (SIGTERM): finished tasks are kept, the same command continues the batch.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from podium.cli.errors import EXIT, say

__all__ = ["batch", "default_agent"]

INSTRUCTIONS = "You are a helpful assistant. Answer briefly and accurately."


def default_agent(model: str) -> Any:
    """The agent of a batch without ``--agent``: ``model`` and short instructions, no tools."""
    from podium.agent import Agent

    return Agent(model, instructions=INSTRUCTIONS)


def _info(stats: Any) -> str:
    cost = f"${stats.cost:.4f}"
    limited = stats.limits.get("rate_limited", stats.rate_limited)
    rate = stats.limits.get("rate")
    backoff = f" | 429s {limited} (rate {rate if rate is not None else 'free'}/s)" if limited else ""
    return (
        f"failed {stats.failed} | running {stats.running} | {stats.throughput:.1f}/s | {cost}{backoff}"
        f"{f' | skipped {stats.skipped}' if stats.skipped else ''}"
    )


@click.command("batch")
@click.argument("tasks", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("-n", "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Tasks at once.")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Results file (default: TASKS.results.jsonl)."
)
@click.option("--address", help="Ray cluster to join (ray://host:10001, host:6379 or auto); default: a local one.")
@click.option("--workers", type=click.IntRange(min=1), help="Ray actors (default: the cluster's CPUs).")
@click.option("-m", "--model", help="provider:model for tasks that name none (default: as podium run).")
@click.option("--agent", help='"module:function" returning the Agent (instead of a plain agent on --model).')
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True, help="Retries per task.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Model requests per second at most.")
@click.option("--retry-failed", is_flag=True, help="Run again the tasks an earlier run left failed.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
@click.option(
    "--env",
    "env_names",
    multiple=True,
    help="Pass this environment variable to the Ray workers (repeatable; e.g. --env OPENAI_API_KEY).",
)
@click.option("--no-store", is_flag=True, help="Write only the results file, not the conversation database.")
def batch(
    tasks: Path,
    engine: str,
    concurrency: int,
    out: Path | None,
    address: str | None,
    workers: int | None,
    model: str | None,
    agent: str | None,
    retries: int,
    rate: float | None,
    retry_failed: bool,
    db: Path | None,
    no_store: bool,
    env_names: tuple[str, ...],
) -> None:
    """Run every task of a JSONL file (one {"prompt": ...} per line) and write a result line per task."""
    import os

    from podium.batch import run
    from podium.batch.tasks import load_tasks
    from podium.cli.config import choose_model
    from podium.cli.signals import Terminated
    from podium.exceptions import UserError
    from podium.store import SQLiteStore

    missing = [name for name in env_names if name not in os.environ]
    if missing:
        raise UserError(f"--env {', '.join(missing)}: not set in this environment; set it or drop the option")
    listed = load_tasks(tasks)  # a bad file fails here (exit 2), before a model, a store or Ray
    if agent is not None and engine == "local":  # a bad reference fails now, not once per task
        from podium.batch.worker import resolve_factory

        resolve_factory(agent)
    factory: Any = agent if agent is not None else functools.partial(default_agent, choose_model(model).spec)
    out = out if out is not None else tasks.with_name(tasks.name.removesuffix(".jsonl") + ".results.jsonl")
    store = None if no_store else (SQLiteStore(db, synchronous="NORMAL") if db else SQLiteStore(synchronous="NORMAL"))
    err = Console(stderr=True)
    running = run(
        factory,
        listed,
        engine=engine,  # type: ignore[arg-type]
        concurrency=concurrency,
        out=out,
        store=store,
        retries=retries,
        rate=rate,
        address=address,
        workers=workers,
        batch_id=str(out.resolve()),
        retry_failed=retry_failed,
        worker_env={name: os.environ[name] for name in env_names},
    )
    stats = running.stats
    if stats.skipped:
        say(f"podium: {stats.skipped} task(s) already finished in {out} are skipped")
    progress = Progress(
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        refresh_per_second=4,
    )
    bar = progress.add_task("batch", total=stats.total, completed=stats.skipped, info="")
    code = 0
    try:
        with progress:
            for _ in running:
                progress.update(bar, completed=stats.skipped + stats.finished, info=_info(stats))
            progress.update(bar, completed=stats.skipped + stats.finished, info=_info(stats))
    except (KeyboardInterrupt, Terminated) as exc:
        running.stop()
        running.join(30)
        code = exc.exit_code if isinstance(exc, Terminated) else EXIT["cancelled"]
        say(f"podium: stopped; {stats.summary()}; run the same command again to finish the batch")
    finally:
        if store is not None:
            store.close()
    if code:
        sys.exit(code)
    say(f"podium: {stats.summary()}; results in {out}")
    sys.exit(EXIT["stopped"] if stats.failed else EXIT["ok"])
