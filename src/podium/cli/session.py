"""What ``podium run`` and ``podium chat`` share: the model, the store, the conversation, one turn."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.agent.agent import Agent, RunStream
from podium.agent.approval import ApprovalPolicy, ApprovalRequest, DecisionLike, Rule
from podium.agent.cancel import CancelToken
from podium.agent.events import AgentEvent
from podium.agent.memory import MEMORY_TOOLS, Memory
from podium.agent.recording import RunRecorder
from podium.agent.result import RunResult
from podium.cli.config import ModelChoice, choose_model, config_path, memory_config
from podium.cli.errors import clean_input
from podium.cli.signals import stop_on_signals
from podium.exceptions import UserError
from podium.messages import Message
from podium.providers.base import Model
from podium.store import MemoryStore, SQLiteStore, StoreError
from podium.trace import Trace

__all__ = ["EMBEDDED_NOTE", "Session", "TurnOutcome", "build_agent", "open_session"]


EMBEDDED_NOTE = (
    "Using the embedded model SmolLM2-135M (no API key set; runs offline). It is tiny: it answers simple "
    "questions, repeats itself over long chats and often gets tools wrong. For better answers set an API key "
    "(e.g. ANTHROPIC_API_KEY) or run a stronger GGUF such as Qwen2.5-Coder-1.5B-Instruct with "
    "--model local:/path/to/model.gguf (26/26 tool calls in our tests; see docs/local-models.md)."
)

INSTRUCTIONS = "You are a helpful assistant. Answer briefly and accurately."
# Short on purpose: small local models copy words from the instructions into tool arguments (a directory name
# given here ended up in file paths).
TOOL_INSTRUCTIONS = "You are a helpful assistant. Use the tools when the request needs them, then answer briefly."


PROTECTED_WRITE_REASON = (
    "writing here can run code later (version-control internals, git hooks, direnv, editor settings, shell "
    "start-up files ...); see docs/approval.md"
)


def default_policy(workspace: Path) -> ApprovalPolicy:
    """The CLI's policy: reading and writing inside the workspace is allowed; protected writes, commands ask.

    Writes to protected paths (:func:`podium.tools.protected.protected_reason`: ``.git/``, ``.envrc``,
    ``.vscode/``, ``.bashrc`` ..., also through symlinks, ``..`` or another letter case) ask, as do shell
    commands and fetches; paths outside the workspace are refused.
    """
    return ApprovalPolicy(
        [
            Rule("deny", paths="outside", reason="the path is outside the workspace"),
            Rule("ask", paths="protected", access="write", reason=PROTECTED_WRITE_REASON),
            Rule("allow", tool="read_*"),
            Rule("allow", tool="list_*"),
            Rule("allow", tool="find_*"),
            Rule("allow", tool="search_*"),
            Rule("allow", tool="todo*"),
            *(Rule("allow", tool=name) for name in MEMORY_TOOLS),
            Rule("allow", tool="write_file", paths="inside"),
            Rule("allow", tool="edit_file", paths="inside"),
        ],
        default="ask",
        workspace=workspace,
    )


def builtin_tools(workspace: Path, include: Sequence[str] | None = None) -> list[Any]:
    """The built-in workspace tools (files, search, shell, Python) confined to ``workspace``."""
    from podium.tools.builtin import workspace_tools

    return [workspace_tools(workspace, include=list(include) if include else None)]


@dataclass(slots=True)
class TurnOutcome:
    """How one turn ended."""

    result: RunResult[str] | None = None
    """The result (completed or paused), if the run ended normally."""
    error: BaseException | None = None
    """The error that stopped it (``RunCancelled`` after Ctrl-C, a provider error ...)."""
    signal: int | None = None
    """The terminating signal (SIGTERM, SIGHUP) that stopped the turn, if one did."""
    undelivered: tuple[Message, ...] = ()
    """Messages sent into the turn (typed during the answer) that it never delivered (it failed or was cancelled)."""

    @property
    def cancelled(self) -> bool:
        """Whether the user interrupted the turn."""
        from podium.exceptions import RunCancelled

        return isinstance(self.error, RunCancelled)


@dataclass(slots=True)
class Session:
    """A model, an agent and a stored conversation."""

    store: SQLiteStore
    choice: ModelChoice
    model: Model
    agent: Agent
    conversation_id: str
    workspace: Path
    tools: bool
    notes: list[str] = field(default_factory=list)
    include: Sequence[str] | None = None
    memory: Memory | None = None
    mcp_servers: list[Any] = field(default_factory=list)
    """Connected MCP servers (``--mcp``, ``[mcp_servers]``), their tools prefixed with their names."""
    trace: Trace | None = None
    """The trace of the current (or last) turn's run; every run's trace is also in the store."""

    def history(self) -> list[Message]:
        """The conversation so far (valid to continue from)."""
        return self.store.messages(self.conversation_id)

    def switch_model(self, spec: str) -> None:
        """Use another model from the next turn on."""
        from podium.providers.registry import model as resolve

        self.model = resolve(spec)
        self.choice = ModelChoice(spec, "/model")
        self.agent = build_agent(self.model, self.tools, self.workspace, self.include, self.memory, self.mcp_servers)

    def new_conversation(self) -> None:
        """Start a fresh conversation."""
        self.conversation_id = self.store.create(model=self.choice.spec).id

    def turn(
        self,
        prompt: str | None,
        on_event: Callable[[AgentEvent], None],
        approver: Callable[[ApprovalRequest], DecisionLike] | None,
        *,
        resume: Any = None,
        approvals: dict[str, DecisionLike] | None = None,
        cancel: CancelToken | None = None,
        on_stream: Callable[[RunStream[str]], None] | None = None,
        key: str | None = None,
    ) -> TurnOutcome:
        """Run one turn, recording every message as it becomes final.

        Ctrl-C cancels the turn only; SIGTERM and SIGHUP cancel it and set ``outcome.signal`` (see
        :mod:`podium.cli.signals`). ``cancel`` lets the caller stop the turn too (its output was closed).
        ``on_stream`` gets the run's stream as it starts, to send messages into it (typed during the answer).
        """
        token = cancel or CancelToken()
        outcome = TurnOutcome()
        meta = {
            "model": self.choice.spec,
            "tools": self.tools,
            "include": list(self.include or ()),
            "memory": self.memory is not None,
            "workspace": str(self.workspace),
            "conversation": self.conversation_id,
        }
        run_id = getattr(resume, "run_id", None) or os.urandom(16).hex()  # a resumed paused run keeps its id
        trace_id = self.store.traces.start(run_id, self.conversation_id, key=key)  # KeyTaken: the key was used
        sink = self.store.traces.sink(self.conversation_id, trace_id=trace_id)
        self.trace = trace = Trace(sinks=[sink], meta=meta, durable=True)
        with stop_on_signals(token) as signals:
            try:
                with RunRecorder(self.store, self.conversation_id, model=self.choice.spec) as recorder:
                    if resume is not None:
                        stream = self.agent.stream(
                            None,
                            resume=resume,
                            approvals=approvals,
                            cancel=token,
                            approver=approver,
                            trace=trace,
                            _run_id=run_id,
                        )
                    else:
                        stream = self.agent.stream(
                            prompt,
                            message_history=self.history(),
                            cancel=token,
                            approver=approver,
                            trace=trace,
                            _run_id=run_id,
                        )
                    if on_stream is not None:
                        on_stream(stream)
                    try:
                        for event in stream:
                            recorder.record(event)
                            on_event(event)
                    finally:
                        outcome.undelivered = stream.undelivered
                    outcome.result = stream.result
            except Exception as exc:  # reported by the caller; the store already holds a valid history
                outcome.error = exc
        outcome.signal = signals.signum
        return outcome


def build_agent(
    model: Model,
    tools: bool,
    workspace: Path,
    include: Sequence[str] | None = None,
    memory: Memory | None = None,
    mcp_servers: Sequence[Any] = (),
) -> Agent:
    """The agent of ``podium chat``, ``run`` and ``serve``: the built-in tools and the CLI's policy when asked."""
    if tools or mcp_servers:
        policy = default_policy(workspace)
        if mcp_servers:  # a server's tools may be named like built-in ones: every MCP call asks (or -y)
            asks = [
                Rule("ask", tool=f"{s.prefix}_*", reason=f"a tool of the MCP server {s.name!r}") for s in mcp_servers
            ]
            policy = dataclasses.replace(policy, rules=[*asks, *policy.rules])
        return Agent(
            model,
            tools=[*(builtin_tools(workspace, include) if tools else []), *mcp_servers],
            instructions=TOOL_INSTRUCTIONS,
            policy=policy,
            max_steps=20,
            memory=memory,
        )
    return Agent(model, instructions=INSTRUCTIONS, max_steps=20, memory=memory)


def open_memory(option: bool | None, db: Path, workspace: Path) -> Memory | None:
    """The memory of ``--memory`` / ``--no-memory``, else of ``[memory] enabled`` in the config file.

    The notes go in the conversation database unless the config gives ``db``; the user is the OS user and
    the project the workspace's resolved path, unless the config gives ``user`` / ``project`` keys;
    ``recall`` notes are recalled into the instructions at the start of each turn (0: none).
    """
    config = memory_config()
    enabled = option if option is not None else bool(config.get("enabled", False))
    if not enabled:
        return None
    if "db" not in config:
        store = MemoryStore(db)
    else:
        try:
            store = MemoryStore(Path(config["db"]).expanduser())
        except StoreError as exc:  # its messages speak of "the conversation database": say which file this is
            raise UserError(f"[memory] db = {config['db']!r} in {config_path()} cannot be used: {exc}") from exc
    return Memory(
        store,
        user=config.get("user"),
        project=config.get("project", str(workspace)),
        auto_recall=config.get("recall", 5),
    )


def open_session(
    *,
    model: str | None,
    db: Path | None,
    conversation: str | None,
    continue_latest: bool,
    tools: bool,
    workspace: Path,
    include: Sequence[str] | None = None,
    memory: bool | None = None,
    mcp: Sequence[Path] = (),
) -> Session:
    """Resolve the model, open the store and pick (or create) the conversation (and the memory, if on)."""
    from podium.providers.registry import model as resolve

    choice = choose_model(model)
    notes = []
    if choice.is_embedded_default:
        notes.append(EMBEDDED_NOTE)
    resolved = resolve(choice.spec)
    store = SQLiteStore(db) if db is not None else SQLiteStore()
    if conversation is not None:
        conversation_id = store.get(clean_input(conversation)[0]).id  # bytes that are not UTF-8 match no id
    elif continue_latest:
        latest = store.latest(with_messages=True)
        if latest is None:
            raise UserError("there is no conversation to continue yet; start one without --continue")
        conversation_id = latest.id
    else:
        conversation_id = store.create(model=choice.spec).id
    workspace = workspace.resolve()
    tools = tools or bool(include)
    if tools and not include and choice.is_embedded_default:
        notes.append(
            "The embedded model gets confused by many tools: offer only what the task needs, e.g. --tool write_file."
        )
    try:
        notes_memory = open_memory(memory, store.path, workspace)
        from podium.cli.mcp import open_servers

        servers = open_servers(mcp)
    except BaseException:
        store.close()
        raise
    for server in servers:
        notes.append(f"MCP server {server.name!r}: {len(server.get_tools())} tools, named {server.prefix}_*")
    agent = build_agent(resolved, tools, workspace, include, notes_memory, servers)
    return Session(
        store, choice, resolved, agent, conversation_id, workspace, tools, notes, include, notes_memory, servers
    )
