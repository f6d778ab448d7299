"""``podium resume RUN``: finish a run whose process died (killed, crashed, the machine rebooted).

The run's trace in the conversation database says how far it got. The recorded part is replayed (no model
request or finished tool call is repeated), a tool call that was in flight runs again only if its tool is
idempotent (else the model gets an error result saying it may or may not have happened), and the run goes
on live from there, writing the rest of the same trace and conversation. The agent is rebuilt as the
recorded run's command built it (its model, ``--tools``/``--tool``, workspace and memory); options given
here win. Exit codes as ``podium run``: 0 done, 2 nothing to resume or bad usage, 3 provider error, 4 the run
stopped without an answer, 5 paused waiting for approval.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.text import Text as RichText

from podium.agent.approval import ApprovalRequest, Ask, DecisionLike
from podium.agent.events import AgentEvent, ToolCallFinished, ToolCallStarted
from podium.cli.errors import EXIT, error_exit_code, error_line, fail
from podium.cli.options import memory_option
from podium.cli.render import EventRenderer, TerminalConsole, format_usage
from podium.cli.replay import agent_for
from podium.exceptions import PodiumError
from podium.messages import message_to_dict
from podium.secrets import scrub_value
from podium.streaming import TextDelta

__all__ = ["resume"]


@click.command("resume")
@click.argument("ref", default="latest")
@click.option("-m", "--model", help="Model to go on with (default: the recorded run's).")
@click.option("--tools/--no-tools", default=None, help="Offer the built-in workspace tools (default: as recorded).")
@click.option("--tool", "only_tools", multiple=True, help="Offer only this built-in tool (repeatable).")
@click.option(
    "-w", "--workspace", type=click.Path(file_okay=False, path_type=Path), default=None, help="Tools' directory."
)
@memory_option
@click.option("-y", "--yes", is_flag=True, help="Approve every tool call the policy would ask about.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
def resume(
    ref: str,
    model: str | None,
    tools: bool | None,
    only_tools: tuple[str, ...],
    workspace: Path | None,
    memory: bool | None,
    yes: bool,
    as_json: bool,
    db: Path | None,
) -> None:
    """Finish a run whose process died (RUN: run id, prefix, or `latest`), from its trace."""
    from podium.agent.durable import resume_stream
    from podium.store.base import StoreError
    from podium.store.sqlite import SQLiteStore
    from podium.trace import Trace, TraceError

    store = SQLiteStore(db) if db is not None else SQLiteStore()
    try:
        info = store.traces.info(store.traces.find(ref))
        trace = Trace.from_jsonl("\n".join(store.traces.lines(info.id)), source=f"trace {info.id}")
    except (StoreError, TraceError) as exc:
        store.close()
        fail(str(exc), EXIT["usage"])
    agent = agent_for(trace, model=model, tools=tools, only_tools=only_tools, workspace=workspace, memory=memory, db=db)
    err = TerminalConsole(stderr=True, soft_wrap=True)
    renderer = EventRenderer(err, markdown=False)

    def approver(request: ApprovalRequest) -> DecisionLike:
        if yes:
            return True
        if sys.stdin.isatty() and not as_json:
            return click.confirm(renderer.approval_prompt(request).removesuffix(" [y/N] "), default=False, err=True)
        return Ask("no terminal to ask on; rerun with --yes")

    def on_event(event: AgentEvent) -> None:
        if as_json:
            return
        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
            renderer(event)

    try:
        stream = resume_stream(agent, info.run_id, store=store, approver=approver)
        for event in stream:
            on_event(event)
        result = stream.result
    except (PodiumError, StoreError) as exc:
        store.close()
        if not as_json:
            sys.stdout.write("\n")
        err.print(RichText(error_line(exc), style="red"))
        raise SystemExit(EXIT["usage"] if _nothing_to_resume(exc) else error_exit_code(exc)) from None
    if as_json:
        doc = {
            "status": result.status,
            "output": result.output if result.status == "completed" else None,
            "run_id": result.run_id,
            "conversation_id": stream.conversation_id,
            "usage": result.usage.to_dict(),
            "cost": result.cost,
            "messages": [message_to_dict(m) for m in result.messages],
        }
        click.echo(json.dumps(scrub_value(doc), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write("\n")
        err.print(RichText(f"resumed run {result.run_id}: " + format_usage(result.usage, result.cost), style="dim"))
    store.close()
    raise SystemExit(EXIT["paused"] if result.status == "paused" else EXIT["ok"])


def _nothing_to_resume(exc: BaseException) -> bool:
    text = str(exc)
    return "nothing to resume" in text or "cannot be resumed" in text or "no trace" in text
