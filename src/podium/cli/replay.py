"""``podium replay TRACE``: run a recorded run again with no model called, and say where it differs.

The agent is built as ``podium run`` builds it (the same ``--tools``, ``--tool``, ``-w`` and ``--memory``
options; the model the trace names, or ``--model``), so a replay checks that today's code and settings
still ask for what the recording did. Tool calls are answered from the trace unless ``--run-tools`` (all)
or ``--run-tool NAME`` runs them again. Exit codes: 0 the replay matched; 1 it differed (both sides are
printed); 2 bad usage or an unreadable trace.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.text import Text as RichText

from podium.cli.errors import EXIT, fail
from podium.cli.options import memory_option
from podium.cli.render import EventRenderer, TerminalConsole
from podium.cli.trace import load_trace
from podium.exceptions import PodiumError
from podium.streaming import TextDelta
from podium.trace import Trace

__all__ = ["agent_for", "replay"]


@click.command("replay")
@click.argument("ref")
@click.option("-m", "--model", help="Model to build the agent with (default: the recorded run's).")
@click.option(
    "--tools/--no-tools", default=None, help="Offer the built-in workspace tools (default: as the recorded run did)."
)
@click.option("--tool", "only_tools", multiple=True, help="Offer only this built-in tool (repeatable).")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Tools' directory (default: the recorded run's, if it exists, else the current one).",
)
@memory_option
@click.option("--run-tools", is_flag=True, help="Run every tool again instead of answering from the trace.")
@click.option("--run-tool", "run_tool", multiple=True, help="Run this tool again (repeatable).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
def replay(
    ref: str,
    model: str | None,
    tools: bool | None,
    only_tools: tuple[str, ...],
    workspace: Path | None,
    memory: bool | None,
    run_tools: bool,
    run_tool: tuple[str, ...],
    db: Path | None,
) -> None:
    """Replay a trace (a .jsonl file, or a stored run: id, prefix, `latest`) offline and compare."""
    from podium.agent.replay import ReplayMismatch
    from podium.agent.replay import replay as replay_run
    from podium.store.base import StoreError
    from podium.trace import TraceError

    try:
        trace = load_trace(ref, db)
        trace.header  # noqa: B018 - a trace without its `run` record is refused here
    except (TraceError, StoreError) as exc:
        fail(str(exc), EXIT["usage"])
    agent = agent_for(trace, model=model, tools=tools, only_tools=only_tools, workspace=workspace, memory=memory, db=db)
    err = TerminalConsole(stderr=True, soft_wrap=True)
    renderer = EventRenderer(err, markdown=False)
    mode = "run" if run_tools else {name: "run" for name in run_tool}
    started = time.perf_counter()
    events = 0
    try:
        for event in replay_run(agent, trace, tools=mode):  # type: ignore[arg-type]
            events += 1
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            else:
                renderer(event)
    except ReplayMismatch as exc:
        sys.stdout.write("\n")
        err.print(RichText(f"podium: the replay differs from the trace: {exc}", style="red"), soft_wrap=True)
        raise SystemExit(EXIT["error"]) from None
    except PodiumError as exc:  # the recorded run failed the same way: that is a match
        ended: dict[str, Any] = (trace.end or {}).get("error") or {}
        if not str(ended.get("type", "")).endswith(f":{type(exc).__name__}"):
            err.print(RichText(f"podium: the replay failed: {type(exc).__name__}: {exc}", style="red"), soft_wrap=True)
            raise SystemExit(EXIT["error"]) from None
        err.print(RichText(f"(the recorded run ended the same way: {type(exc).__name__})", style="dim"))
    sys.stdout.write("\n")
    seconds = time.perf_counter() - started
    err.print(
        RichText(f"replayed run {trace.run_id}: {events} events, {seconds:.3f} s, matches the trace", style="green")
    )


def agent_for(
    trace: Trace,
    *,
    model: str | None,
    tools: bool | None,
    only_tools: tuple[str, ...],
    workspace: Path | None,
    memory: bool | None,
    db: Path | None,
) -> Any:
    """The agent the recorded run had, as ``podium run``/``chat`` build it from the trace's notes; options win."""
    header = trace.header
    meta = header.get("meta") or {}
    spec = model or str(meta.get("model") or header.get("model") or "test:echo")
    if tools is None and "tools" in meta:
        tools = bool(meta["tools"])
    if not only_tools and meta.get("include"):
        only_tools = tuple(str(t) for t in meta["include"])
    if memory is None and "memory" in meta:
        memory = bool(meta["memory"])
    if workspace is None:
        recorded = Path(str(meta.get("workspace", ".")))
        workspace = recorded if recorded.is_dir() else Path(".")
    return _build_agent(spec, tools, only_tools, workspace, memory, db, trace)


def _build_agent(
    spec: str,
    tools: bool | None,
    only_tools: tuple[str, ...],
    workspace: Path,
    memory: bool | None,
    db: Path | None,
    trace: object,
) -> object:
    """The agent ``podium run`` would build with these options (its model is never called)."""
    from podium.cli.session import build_agent, open_memory
    from podium.providers.registry import model as resolve
    from podium.store.sqlite import default_db_path

    try:
        resolved = resolve(spec)
    except PodiumError as exc:
        fail(f"cannot build the model {spec!r} the trace names ({exc}); give one with --model", EXIT["usage"])
    recorded_tools = _recorded_tool_names(trace)
    offer = tools if tools is not None else bool(recorded_tools - {"remember", "recall", "forget", "list_memories"})
    workspace = workspace.resolve()
    notes = open_memory(memory, db or default_db_path(), workspace)
    return build_agent(resolved, offer or bool(only_tools), workspace, only_tools or None, notes)


def _recorded_tool_names(trace: object) -> set[str]:
    from podium.trace import Trace

    assert isinstance(trace, Trace)
    requests = trace.of_kind("request")
    return {str(t.get("name")) for t in trace.request_tools(requests[0])} if requests else set()
