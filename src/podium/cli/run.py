"""``podium run "prompt"``: one turn, plain text to stdout (or JSON), exit codes for scripts.

The prompt is the arguments joined by spaces; with no argument (or ``-``) it is read from stdin. Bytes that
are not UTF-8 become U+FFFD (with a note), so any input is handled.

Exit codes: 0 done; 1 unexpected error; 2 bad usage or configuration (including a conversation database
that is damaged, not Podium's or read-only); 3 provider error (network, authentication, rate limit ...);
4 the run stopped without an answer (step limit, failing tools, invalid output); 5 paused: a tool call
waits for approval; 130 interrupted (Ctrl-C); 141 the output was closed (``| head -1``); 128+N terminated
by signal N (143 SIGTERM, 129 SIGHUP). A stopped run is recorded as cancelled; the conversation stays valid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text as RichText

from podium.agent.approval import ApprovalRequest, Ask, DecisionLike
from podium.agent.cancel import CancelToken
from podium.agent.events import AgentEvent, ToolCallFinished, ToolCallStarted
from podium.cli.errors import (
    EXIT,
    MAX_PROMPT_BYTES,
    clean_input,
    error_exit_code,
    error_line,
    exit_broken_pipe,
    fail,
    say,
)
from podium.cli.options import mcp_option, memory_option
from podium.cli.render import EventRenderer, TerminalConsole, format_usage
from podium.cli.session import Session, TurnOutcome, open_session
from podium.messages import message_to_dict
from podium.secrets import scrub_value
from podium.store.base import StoreError
from podium.streaming import TextDelta

__all__ = ["EXIT", "MAX_PROMPT_BYTES", "exit_code", "read_prompt", "run"]


def exit_code(outcome: TurnOutcome) -> int:
    """The process exit code for how a turn ended."""
    if outcome.signal is not None:
        return 128 + outcome.signal
    if outcome.error is None:
        assert outcome.result is not None
        return EXIT["paused"] if outcome.result.status == "paused" else EXIT["ok"]
    return error_exit_code(outcome.error)


def read_prompt(words: tuple[str, ...]) -> str:
    """The prompt: the words given, or stdin when there are none (or just ``-``); cleaned to valid text."""
    if words and words != ("-",):
        text = " ".join(words)
        source = "the prompt"
    elif sys.stdin is None or sys.stdin.isatty():
        fail('give a prompt: podium run "your question" (or pipe it on stdin)', EXIT["usage"])
    else:
        data = sys.stdin.buffer.read(MAX_PROMPT_BYTES + 1)
        if len(data) > MAX_PROMPT_BYTES:
            fail(
                f"the prompt on stdin is larger than {MAX_PROMPT_BYTES // (1024 * 1024)} MiB; "
                "give the model a file to read with --tools instead",
                EXIT["usage"],
            )
        text = data.decode("utf-8", "surrogateescape")
        source = "stdin"
    text, replaced = clean_input(text)
    if replaced:
        say(f"podium: {source} had {replaced} byte(s) that are not UTF-8; they were replaced with U+FFFD")
    if not text.strip():
        fail("the prompt is empty; give a question or pipe one on stdin", EXIT["usage"])
    return text


@click.command("run")
@click.argument("prompt", nargs=-1)
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
@mcp_option
@memory_option
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
@click.option("-c", "--continue", "continue_latest", is_flag=True, help="Continue the latest conversation.")
@click.option("--conversation", help="Continue this conversation id.")
@click.option(
    "--key",
    help="Idempotency key: run once per key. Run again with the same key, it prints the first run's answer "
    "(or finishes that run, when its process died) instead of starting another.",
)
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
    memory: bool | None,
    mcp_files: tuple[Path, ...],
    key: str | None,
) -> None:
    """Run one prompt and print the answer (the prompt comes from stdin when none is given)."""
    text = read_prompt(prompt)
    err = TerminalConsole(stderr=True, soft_wrap=True)
    session = open_session(  # errors go to the entry point: one line, exit code 2 (or 3 for a provider)
        model=model,
        db=db,
        conversation=conversation,
        continue_latest=continue_latest,
        tools=tools,
        workspace=workspace,
        include=only_tools or None,
        memory=memory,
        mcp=mcp_files,
    )
    for note in session.notes:
        err.print(RichText(note, style="yellow"))
    if key is not None and session.store.traces.find_key(key) is not None:
        _keyed(session, key, as_json=as_json, yes=yes)

    renderer = EventRenderer(err, markdown=False)
    printed: list[str] = []
    token = CancelToken()
    closed: list[OSError] = []

    def on_event(event: AgentEvent) -> None:
        if as_json or closed:
            return
        try:
            if isinstance(event, TextDelta):
                printed.append(event.text)
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
                renderer(event)
        except OSError as exc:  # the reader went away (`| head`), a full disk: stop the run, keep what it did
            closed.append(exc)
            token.cancel("the output could not be written")

    def approver(request: ApprovalRequest) -> DecisionLike:
        if yes:
            return True
        if sys.stdin.isatty() and not as_json:
            return click.confirm(renderer.approval_prompt(request).removesuffix(" [y/N] "), default=False, err=True)
        return Ask("no terminal to ask on; rerun with --yes or approve in `podium chat --continue`")

    outcome = session.turn(text, on_event, approver, cancel=token, key=key)
    try:
        if closed:
            raise closed[0]
        _report(session, outcome, err, as_json=as_json, printed=printed)
    except BrokenPipeError:
        session.store.close()
        exit_broken_pipe()
    except OSError as exc:
        session.store.close()
        fail(f"cannot write the answer: {exc.strerror or exc}; the run was stopped and saved", EXIT["error"])
    session.store.close()
    if outcome.signal is not None:
        say(f"podium: terminated by {_signal_name(outcome.signal)}; the run was stopped and saved")
    sys.exit(exit_code(outcome))


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _keyed(session: Session, key: str, *, as_json: bool, yes: bool) -> None:
    """``--key`` already used: print that run's answer, or finish it when its process died; then exit."""
    from podium.agent.durable import resume_stream

    store = session.store
    info = store.traces.info(store.traces.find_key(key) or "")
    if not store.messages(session.conversation_id):
        store.delete(session.conversation_id)  # the conversation opened for this invocation is not needed
    if info.status is None:
        say(f"podium: the run with key {key!r} ({info.run_id}) did not finish; resuming it")
        try:  # refused while the process that runs it is alive
            stream = resume_stream(session.agent, info.run_id, store=store, approver=(lambda r: True) if yes else None)
            for event in stream:
                if isinstance(event, TextDelta) and not as_json:
                    sys.stdout.write(event.text)
        except StoreError as exc:
            fail(str(exc), EXIT["usage"])
        result = stream.result
        output = result.output if result.status == "completed" else None
    elif info.status == "completed":
        from podium.trace import Trace
        from podium.trace.codec import decode

        end = Trace.from_jsonl("\n".join(store.traces.lines(info.id))).end or {}
        output = decode(end.get("output"))
        if not as_json:
            sys.stdout.write(str(output))
    else:
        fail(
            f"the run with key {key!r} ({info.run_id}) ended {info.status}; use another key to run again", EXIT["usage"]
        )
    if as_json:
        click.echo(
            json.dumps(scrub_value({"status": "completed", "output": output, "run_id": info.run_id, "key": key}))
        )
    else:
        sys.stdout.write("\n")
        say(f"podium: answer of the run already made with key {key!r} ({info.run_id})")
    store.close()
    raise SystemExit(EXIT["ok"])


def _report(session: Session, outcome: TurnOutcome, err: Console, *, as_json: bool, printed: list[str]) -> None:
    """Print the result: JSON, or the end of the answer and a status line on stderr."""
    if as_json:
        result = outcome.result
        doc = {
            "status": "error" if outcome.error else (result.status if result else "error"),
            "output": result.output if result and result.status == "completed" else None,
            "error": error_line(outcome.error) if outcome.error else None,
            "conversation_id": session.conversation_id,
            "run_id": result.run_id if result else None,
            "model": session.choice.spec,
            "usage": result.usage.to_dict() if result else None,
            "cost": result.cost if result else None,
            "messages": [message_to_dict(m) for m in session.history()],
            "pending_approvals": [
                {"call_id": r.call_id, "tool": r.call.name, "args": r.call.args, "reason": r.reason, "agent": r.agent}
                for r in (result.pending_approvals if result else [])
            ],
        }
        click.echo(json.dumps(scrub_value(doc), ensure_ascii=False, indent=2))
        return
    if printed and not printed[-1].endswith("\n"):
        sys.stdout.write("\n")
        sys.stdout.flush()
    if outcome.error is not None:
        err.print(RichText(error_line(outcome.error), style="red"))
    elif outcome.result is not None and outcome.result.status == "paused":
        for request in outcome.result.pending_approvals:
            who = f"[sub-agent {request.agent}] " if request.agent else ""
            line = f"waiting for approval: {who}{request.call.name}({request.call.args}) {request.reason}"
            err.print(RichText(str(scrub_value(line)), style="yellow"))
    elif outcome.result is not None:
        err.print(RichText(format_usage(outcome.result.usage, outcome.result.cost), style="dim"))
