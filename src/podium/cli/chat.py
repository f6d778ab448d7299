"""``podium chat``: an interactive chat that streams answers, shows tool calls and asks for approvals.

Ctrl-C during an answer stops that answer and keeps the conversation; Ctrl-D (or /quit) leaves.
Every message is saved as it arrives, so ``podium chat --continue`` picks up where you left off.

On a terminal, a line typed while an answer streams (or tools run) is sent into the running turn
(:mod:`podium.cli.typeahead`): the model sees it in its next request, after the tool results, and a
final answer that was streaming is followed by another one that takes it into account. Commands typed
then (``/cost`` ...) run after the answer; a line that arrives just as the turn ends starts the next turn.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text as RichText

from podium.agent.agent import RunStream
from podium.agent.approval import ApprovalRequest, DecisionLike
from podium.cli.errors import MAX_PROMPT_BYTES, clean_input, error_line
from podium.cli.options import mcp_option, memory_option
from podium.cli.render import EventRenderer, TerminalConsole, compaction_line, format_usage
from podium.cli.session import Session, open_session
from podium.cli.signals import Terminated
from podium.cli.typeahead import TypeAhead, typeahead_supported
from podium.exceptions import PodiumError, RunCancelled, UserError
from podium.messages import Message, dump_messages
from podium.secrets import scrub
from podium.store.base import StoreError

__all__ = ["chat"]

HELP = """Commands:
  /model [provider:name]  show or switch the model
  /undo                   hide the last exchange (it can be redone)
  /redo                   bring back the last undone exchange
  /cost                   tokens and cost of this conversation
  /compact                compact the conversation now (what is sent; the full one stays saved)
  /save [file]            save the conversation as JSON
  /new                    start a new conversation
  /history                show the conversation
  /trace                  the last run's steps: model requests, tool calls, timings, tokens, cost
  /memories [words]       list the notes remembered (with --memory), or those matching the words
  /forget ID              forget a remembered note
  /help                   this help
  /quit                   leave (Ctrl-D works too)
Ctrl-C stops the current answer; the conversation is kept.
Typing while an answer streams adds your line to the running turn: the model sees it next."""


def _show_history(console: Console, messages: list[Message]) -> None:
    for m in messages:
        if m.role == "user":
            console.print(RichText(f"you> {m.text}", style="bold"))
        elif m.role == "assistant":
            for call in m.tool_calls:
                console.print(RichText(f"→ {call.name}({call.args})", style="cyan"))
            if m.text:
                console.print(Markdown(m.text))
        elif m.role == "tool":
            for result in m.tool_results:
                style = "red" if result.is_error else "green"
                console.print(RichText(f"← {result.name}: {result.text[:200]}", style=style))


def _reader() -> Callable[[str], str]:
    """A line reader: prompt_toolkit on a terminal (history, editing), plain input() otherwise."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        class ScrubbedHistory(FileHistory):
            """The line history file, without the known secrets typed or pasted into it."""

            def store_string(self, string: str) -> None:
                super().store_string(scrub(string))

        try:
            import platformdirs

            path = Path(platformdirs.user_state_dir("podium")) / "chat_history"
            path.parent.mkdir(parents=True, exist_ok=True)
            history: InMemoryHistory | FileHistory = ScrubbedHistory(str(path))
        except OSError:
            history = InMemoryHistory()
        session: PromptSession[str] = PromptSession(history=history)
        return lambda prompt: session.prompt(prompt)
    return input


class _TypedLines:
    """Lines typed during a turn: sent into the running run, or kept for after it (commands, lines too late)."""

    def __init__(self) -> None:
        self.later: list[str] = []
        """Lines to handle after the turn, in order: commands, and lines that came as the run ended."""
        self._stream: RunStream[str] | None = None
        self._reader: TypeAhead | None = None

    def start(self, stream: RunStream[str]) -> None:
        """Send what is typed from now on into ``stream`` (on a terminal only)."""
        self._stream = stream
        if typeahead_supported():
            self._reader = TypeAhead(sys.stdin.fileno(), self._line)
            self._reader.__enter__()

    def stop(self) -> None:
        """Stop reading (the turn ended)."""
        if self._reader is not None:
            self._reader.close()
        self._reader = self._stream = None

    def paused(self) -> contextlib.AbstractContextManager[None]:
        """Not reading while the turn asks a question on the terminal."""
        return self._reader.paused() if self._reader is not None else contextlib.nullcontext()

    def _line(self, line: str) -> None:  # on the reader's thread
        text = clean_input(line)[0].strip()
        if not text:
            return
        stream = self._stream
        if text.startswith("/") or stream is None:
            self.later.append(text)
            return
        try:
            stream.send(text)
        except UserError:  # the run has just ended: the line starts the next turn instead
            self.later.append(text)

    @contextlib.contextmanager
    def during_turn(self) -> Iterator[Callable[[RunStream[str]], None]]:
        """The ``on_stream`` callback for one turn; reading stops when the turn ends, however it ends."""
        try:
            yield self.start
        finally:
            self.stop()


def _line_reader(console: Console) -> Callable[[str], str]:
    """``_reader`` whose lines are valid text: bytes that are not UTF-8 become U+FFFD, with a note."""
    read = _reader()

    def line(prompt: str) -> str:
        text, replaced = clean_input(read(prompt))
        if len(text) > MAX_PROMPT_BYTES:
            size = MAX_PROMPT_BYTES // (1024 * 1024)
            console.print(RichText(f"(that line is longer than {size} MiB; it was not sent)", style="red"))
            return ""
        if replaced:
            console.print(
                RichText(f"(that line had {replaced} byte(s) that are not UTF-8; they became U+FFFD)", style="yellow")
            )
        return text

    return line


@click.command("chat")
@click.option("-m", "--model", help="provider:model, e.g. anthropic:claude-sonnet-4-5 or local:/path/model.gguf.")
@click.option("-c", "--continue", "continue_latest", is_flag=True, help="Continue the latest conversation.")
@click.option("--conversation", help="Continue this conversation id.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
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
def chat(
    model: str | None,
    continue_latest: bool,
    conversation: str | None,
    db: Path | None,
    tools: bool,
    only_tools: tuple[str, ...],
    workspace: Path,
    yes: bool,
    memory: bool | None,
    mcp_files: tuple[Path, ...],
) -> None:
    """Chat with a model in the terminal."""
    console = TerminalConsole(highlight=False)
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
    try:
        _chat(console, session, show_history=bool(continue_latest or conversation), yes=yes)
    finally:
        session.store.close()


def _chat(console: Console, session: Session, *, show_history: bool, yes: bool) -> None:
    """The conversation loop, until /quit, Ctrl-D or a terminating signal."""
    for note in session.notes:
        console.print(RichText(note, style="yellow"))
    tools_line = f"tools on in {session.workspace}" if session.tools else "tools off (--tools to enable)"
    if session.memory is not None:
        tools_line += f"; memory on ({session.memory.store.count(session.memory.scope)} notes, /memories)"
    console.print(
        RichText(
            f"model {session.choice.spec} ({session.choice.source}); {tools_line}; "
            f"conversation {session.conversation_id}. /help for commands.",
            style="dim",
        )
    )
    if show_history:
        _show_history(console, session.history())
    read = _line_reader(console)
    typed = _TypedLines()

    def approver(request: ApprovalRequest) -> DecisionLike:
        if yes:
            return True
        try:
            with typed.paused():
                answer = read(EventRenderer(console).approval_prompt(request))
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    paused = session.store.paused_run(session.conversation_id)
    if paused is not None:
        console.print(RichText("This conversation has tool calls waiting for approval.", style="yellow"))
        decisions = {r.call_id: approver(r) for r in paused.pending}
        _turn(console, session, None, approver, typed, resume=paused, approvals=decisions)

    while True:
        if typed.later:  # typed during the last answer: a command, or a line that came as it ended
            line = typed.later.pop(0)
            console.print(RichText(f"you> {line}", style="bold"), soft_wrap=True)
        else:
            try:
                line = read("you> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if not _command(console, session, text):
                break
            continue
        _turn(console, session, text, approver, typed)
    console.print(RichText("bye", style="dim"))


def _turn(
    console: Console,
    session: Session,
    prompt: str | None,
    approver: Callable[[ApprovalRequest], DecisionLike],
    typed: _TypedLines,
    **resume: object,
) -> None:
    renderer = EventRenderer(console)
    with typed.during_turn() as on_stream:
        outcome = session.turn(prompt, renderer, approver, on_stream=on_stream, **resume)  # type: ignore[arg-type]
    renderer.close()
    if outcome.signal is not None:  # SIGTERM/SIGHUP: the turn stopped and was saved; leave
        raise Terminated(outcome.signal)
    for message in outcome.undelivered:
        console.print(RichText(f"(not sent, the answer was stopped first: {message.text!r})", style="yellow"))
    if isinstance(outcome.error, RunCancelled):
        console.print(RichText("[interrupted]", style="yellow"))
    elif outcome.error is not None:
        console.print(RichText(error_line(outcome.error), style="red"), soft_wrap=True)
    elif outcome.result is not None and outcome.result.status == "paused":
        console.print(
            RichText(
                "Some tool calls wait for approval; /continue is not needed: answer them next time "
                "you run `podium chat --continue`.",
                style="yellow",
            )
        )


def _compact(session: Session, say: Callable[[str, str], None]) -> None:
    """``/compact``: compact the conversation with the session's model; the record is saved with it."""
    try:
        result = session.agent.compact(session.history())
    except PodiumError as exc:
        say(f"error: {error_line(exc, name=False)}", "red")
        return
    if not result.compacted:
        say(f"nothing to compact ({result.tokens_before:,} tokens)", "dim")
        return
    session.store.append(session.conversation_id, result.messages[-1])
    say(compaction_line(result.tokens_before, result.tokens_after, result.strategies), "dim")


def _command(console: Console, session: Session, text: str) -> bool:
    """Handle a slash command; False means quit."""
    name, _, arg = text.partition(" ")
    arg = arg.strip()
    store, cid = session.store, session.conversation_id

    def say(line: str, style: str = "") -> None:
        console.print(RichText(line, style=style), soft_wrap=True)

    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/help":
        say(HELP)
    elif name == "/model":
        if arg:
            try:
                session.switch_model(arg)
            except PodiumError as exc:
                say(f"error: {error_line(exc, name=False)}", "red")
                return True
        say(f"model: {session.choice.spec}")
    elif name == "/undo":
        hidden = store.undo(cid)
        if hidden:
            say(f"undone: {hidden[0].text[:80]!r} and {len(hidden) - 1} more message(s)", "dim")
        else:
            say("nothing to undo", "dim")
    elif name == "/redo":
        shown = store.redo(cid)
        if shown:
            say(f"redone: {shown[0].text[:80]!r} and {len(shown) - 1} more message(s)", "dim")
        else:
            say("nothing to redo", "dim")
    elif name == "/cost":
        spent = store.usage(cid)
        say(format_usage(spent.usage, spent.cost) + ("" if spent.cost_complete else " (some prices unknown)"))
    elif name == "/save":
        path = Path(arg or f"podium-{cid}.json")
        try:
            path.write_text(dump_messages(session.history(), indent=2), encoding="utf-8")
        except OSError as exc:
            say(f"error: cannot save to {path}: {exc.strerror or exc}", "red")
            return True
        say(f"saved {path}")
    elif name == "/new":
        session.new_conversation()
        say(f"new conversation {session.conversation_id}", "dim")
    elif name == "/history":
        _show_history(console, session.history())
    elif name == "/compact":
        _compact(session, say)
    elif name == "/trace":
        _show_trace(say, session)
    elif name in ("/memories", "/forget"):
        _memory_command(say, session, name, arg)
    else:
        say(f"unknown command {name}; /help lists them")
    return True


def _show_trace(say: Callable[..., None], session: Session) -> None:
    """``/trace``: the steps of the current or last run, with timings, tokens and cost."""
    from podium.trace.summary import format_steps, steps

    if session.trace is None or not session.trace.records:
        say("no run yet in this session; `podium trace list` shows the stored traces", "dim")
        return
    trace = session.trace
    say(f"run {trace.run_id} ({len(trace)} records; `podium trace show {trace.run_id[:12]}` shows it again):", "dim")
    say(format_steps(steps(trace)))


def _memory_command(say: Callable[..., None], session: Session, name: str, arg: str) -> None:
    """``/memories [words]`` lists (or searches) the notes; ``/forget ID`` deletes one."""
    memory = session.memory
    if memory is None:
        say("memory is off; start podium chat with --memory (or set enabled = true under [memory] in the config)")
        return
    store, scope = memory.store, memory.scope
    try:
        if name == "/forget":
            if not arg:
                say("usage: /forget ID (the ids are in /memories)", "red")
                return
            note = store.delete(arg, scope)
            say(f"forgot {note.id}: {note.text[:80]}", "dim")
            return
        notes = store.search(arg, scope, limit=50) if arg else store.notes(scope, limit=200)
    except StoreError as exc:  # a malformed or unknown id, an unusable query, a failing database
        say(f"error: {exc}", "red")
        return
    if not notes:
        say("no notes match" if arg else f"no notes yet for {scope.user} in {scope.project}", "dim")
        return
    total = store.count(scope)
    shown = "matching" if arg else ("newest first" if len(notes) == total else f"the newest {len(notes)}")
    say(f"{len(notes)} of {total} note(s), {shown}:", "dim")
    for note in notes:
        where = " (all projects)" if note.level == "user" else ""
        say(f"{note.id}  {note.created:%Y-%m-%d %H:%M}{where}  {note.text}")
