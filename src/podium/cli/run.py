"""``podium run "prompt"``: one turn, plain text to stdout (or JSON), exit codes for scripts.

Exit codes: 0 done; 1 unexpected error; 2 bad usage or configuration; 3 provider error (network,
authentication, rate limit ...); 4 the run stopped without an answer (step limit, failing tools, invalid
output); 5 paused: a tool call waits for approval; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from podium.agent.approval import ApprovalRequest, Ask, DecisionLike
from podium.agent.events import AgentEvent, ToolCallFinished, ToolCallStarted
from podium.cli.render import EventRenderer, format_usage
from podium.cli.session import TurnOutcome, open_session
from podium.exceptions import AgentRunError, PodiumError, ProviderError, RunCancelled, UserError
from podium.messages import message_to_dict
from podium.streaming import TextDelta

__all__ = ["EXIT", "run"]

EXIT = {"ok": 0, "error": 1, "usage": 2, "provider": 3, "stopped": 4, "paused": 5, "cancelled": 130}


def exit_code(outcome: TurnOutcome) -> int:
    """The process exit code for how a turn ended."""
    if outcome.error is None:
        assert outcome.result is not None
        return EXIT["paused"] if outcome.result.status == "paused" else EXIT["ok"]
    error = outcome.error
    if isinstance(error, RunCancelled):
        return EXIT["cancelled"]
    if isinstance(error, ProviderError):
        return EXIT["provider"]
    if isinstance(error, UserError):
        return EXIT["usage"]
    if isinstance(error, AgentRunError):
        return EXIT["stopped"]
    return EXIT["error"]


@click.command("run")
@click.argument("prompt", nargs=-1, required=True)
@click.option("-m", "--model", help="provider:model, e.g. anthropic:claude-sonnet-4-5 or local:/path/model.gguf.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (output, messages, usage, cost).")
@click.option("--tools/--no-tools", default=False, help="Give the model the built-in workspace tools.")
@click.option(
    "--tool", "only_tools", multiple=True, help="Offer only this built-in tool (repeatable; implies --tools)."
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Directory the tools work in (default: the current one).",
)
@click.option("-y", "--yes", is_flag=True, help="Approve every tool call the policy would ask about.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
@click.option("-c", "--continue", "continue_latest", is_flag=True, help="Continue the latest conversation.")
@click.option("--conversation", help="Continue this conversation id.")
def run(
    prompt: tuple[str, ...],
    model: str | None,
    as_json: bool,
    tools: bool,
    only_tools: tuple[str, ...],
    workspace: Path,
    yes: bool,
    db: Path | None,
    continue_latest: bool,
    conversation: str | None,
) -> None:
    """Run one prompt and print the answer."""
    err = Console(stderr=True)
    try:
        session = open_session(
            model=model,
            db=db,
            conversation=conversation,
            continue_latest=continue_latest,
            tools=tools,
            workspace=workspace,
            include=only_tools or None,
        )
    except PodiumError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT["usage"] if isinstance(exc, UserError) else EXIT["error"])
    for note in session.notes:
        err.print(f"[yellow]{note}[/yellow]")

    renderer = EventRenderer(err, markdown=False)
    printed: list[str] = []

    def on_event(event: AgentEvent) -> None:
        if as_json:
            return
        if isinstance(event, TextDelta):
            printed.append(event.text)
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
            renderer(event)

    def approver(request: ApprovalRequest) -> DecisionLike:
        if yes:
            return True
        if sys.stdin.isatty() and not as_json:
            return click.confirm(renderer.approval_prompt(request).removesuffix(" [y/N] "), default=False, err=True)
        return Ask("no terminal to ask on; rerun with --yes or approve in `podium chat --continue`")

    outcome = session.turn(" ".join(prompt), on_event, approver)
    code = exit_code(outcome)
    if as_json:
        result = outcome.result
        doc = {
            "status": "error" if outcome.error else (result.status if result else "error"),
            "output": result.output if result and result.status == "completed" else None,
            "error": f"{type(outcome.error).__name__}: {outcome.error}" if outcome.error else None,
            "conversation_id": session.conversation_id,
            "run_id": result.run_id if result else None,
            "model": session.choice.spec,
            "usage": result.usage.to_dict() if result else None,
            "cost": result.cost if result else None,
            "messages": [message_to_dict(m) for m in session.history()],
            "pending_approvals": [
                {"call_id": r.call_id, "tool": r.call.name, "args": r.call.args, "reason": r.reason}
                for r in (result.pending_approvals if result else [])
            ],
        }
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        if printed and not printed[-1].endswith("\n"):
            sys.stdout.write("\n")
        if outcome.error is not None:
            err.print(f"[red]{type(outcome.error).__name__}:[/red] {outcome.error}")
        elif outcome.result is not None and outcome.result.status == "paused":
            for request in outcome.result.pending_approvals:
                err.print(
                    f"[yellow]waiting for approval:[/yellow] {request.call.name}({request.call.args}) {request.reason}"
                )
        elif outcome.result is not None:
            err.print(f"[dim]{format_usage(outcome.result.usage, outcome.result.cost)}[/dim]")
    session.store.close()
    sys.exit(code)
