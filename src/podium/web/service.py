"""What the web API does, without HTTP: conversations, turns, approvals, models (one instance per server).

It holds the store, the workspace and the agents, one per model in use, built by the function it is given
(``podium serve`` gives the one of ``podium chat``: the built-in tools, the approval policy, MCP servers,
memory), so the web layer imports nothing from the CLI. Each conversation runs its turns through a
:class:`~podium.web.live.Live`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.agent.agent import Agent
from podium.agent.decisions import Ask, DecisionLike
from podium.exceptions import UserError
from podium.paused import ApprovalRequest
from podium.store.base import NotFoundError
from podium.store.sqlite import SQLiteStore
from podium.web.events import approval_to_dict, stored_to_dict, usage_to_dict
from podium.web.live import Live, TurnRequest

__all__ = ["Busy", "WebService"]

logger = logging.getLogger("podium.web")


class Busy(UserError):
    """The conversation has a turn in progress (stop it first)."""


@dataclass
class WebService:
    """The server's state and operations (thread-safe; called from the event loop)."""

    store: SQLiteStore
    """The conversation database."""
    workspace: Path
    """The workspace the tools and the file view are confined to (resolved)."""
    default_model: str
    """The model new conversations use."""
    make_agent: Callable[[str], Agent[Any]]
    """Builds the agent for a model string (``podium serve`` gives the one ``podium chat`` uses: the built-in
    tools, the approval policy, MCP servers, memory); raises ``UserError`` for a model that cannot be used."""
    offered_models: list[dict[str, str]] = field(default_factory=list)
    """What the model picker offers besides the default (``{"id": "provider:model", "label": ...}``)."""
    tools: bool = False
    """Whether the agent has the built-in workspace tools (shown to the user)."""
    notes: list[str] = field(default_factory=list)
    """Notes to show the user (the embedded model's limits ...)."""
    agents: dict[str, Agent[Any]] = field(default_factory=dict)
    """Agents by model string (``test:echo`` ...), built on first use."""
    lives: dict[str, Live] = field(default_factory=dict)
    always: set[tuple[str, str]] = field(default_factory=set)
    """(tool, reason) pairs the user chose to always allow for the server's lifetime."""
    loop: asyncio.AbstractEventLoop | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _turns: threading.Lock = field(default_factory=threading.Lock)
    """Held while a turn is being started, so two requests never start two turns in one conversation."""

    # -- agents and models

    def agent_for(self, spec: str) -> Agent[Any]:
        """The agent for model ``spec``, built once by :attr:`make_agent` (a bad name is a ``UserError``)."""
        with self._lock:
            agent = self.agents.get(spec)
        if agent is not None:
            return agent
        agent = self.make_agent(spec)
        with self._lock:
            return self.agents.setdefault(spec, agent)

    def model_of(self, conversation_id: str) -> str:
        """The model a conversation runs with."""
        return self.store.get(conversation_id).model or self.default_model

    def models(self) -> dict[str, Any]:
        """What the model picker offers: the default model first, then :attr:`offered_models`."""
        offered: list[dict[str, str]] = [{"id": self.default_model, "label": f"{self.default_model} (default)"}]
        offered += [m for m in self.offered_models if m["id"] != self.default_model]
        return {"default": self.default_model, "models": offered}

    # -- conversations

    def live(self, conversation_id: str) -> Live:
        """The live state of a conversation (created on first use)."""
        assert self.loop is not None, "the service is used before the server started"
        with self._lock:
            live = self.lives.get(conversation_id)
            if live is None:
                live = self.lives[conversation_id] = Live(conversation_id, self.loop)
            return live

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """A conversation with its visible messages, pending approvals, usage and whether a turn runs."""
        conv = self.store.get(conversation_id)
        messages = [stored_to_dict(m) for m in self.store.stored_messages(conv.id)]
        paused = self.store.paused_run(conv.id)
        spent = self.store.usage(conv.id)
        live = self.lives.get(conv.id)
        return {
            **_summary(conv),
            "messages": messages,
            "pending": [approval_to_dict(r) for r in paused.pending] if paused else [],
            "usage": {**usage_to_dict(spent.usage, spent.cost), "cost_complete": spent.cost_complete},
            "running": bool(live and live.running),
            "durations": dict(live.durations) if live else {},
            "can_redo": self._can_redo(conv.id),
        }

    def _can_redo(self, conversation_id: str) -> bool:
        with self.store.db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT 1 FROM messages WHERE conversation_id = ? AND undo_step IS NOT NULL AND discarded = 0 LIMIT 1",
                (conversation_id,),
            ).fetchone()
        return row is not None

    def conversations(self, query: str = "", limit: int = 200) -> list[dict[str, Any]]:
        """Conversations, newest first; with ``query``, those whose title or messages contain it."""
        summaries = self.store.list_conversations(limit=limit)
        items = [{**_summary(s.conversation), "messages": s.message_count, "preview": s.preview} for s in summaries]
        if not query.strip():
            return items
        ids = self._search(query.strip(), limit)
        return [item for item in items if item["id"] in ids]

    def _search(self, query: str, limit: int) -> set[str]:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.store.db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT c.id FROM conversations c WHERE c.title LIKE ?1 ESCAPE '\\' OR EXISTS ("
                "SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.undo_step IS NULL "
                "AND m.discarded = 0 AND m.role IN ('user', 'assistant') "
                "AND (m.preview LIKE ?1 ESCAPE '\\' OR m.data LIKE ?1 ESCAPE '\\')) LIMIT ?2",
                (pattern, limit),
            ).fetchall()
        return {r[0] for r in rows}

    def create(self, model: str | None = None) -> dict[str, Any]:
        """A new, empty conversation."""
        if model:
            self.agent_for(model)  # refuse a model that cannot be resolved
        return _summary(self.store.create(model=model or self.default_model))

    def update(self, conversation_id: str, *, title: str | None, model: str | None) -> dict[str, Any]:
        """Rename, or switch the model (from the next turn on)."""
        if title is not None and not title.strip():
            raise UserError("a conversation title cannot be empty")
        if model is not None:
            self.agent_for(model)
        return _summary(self.store.update(conversation_id, title=title, model=model))

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation (not while a turn runs in it)."""
        self._idle(conversation_id, "delete it")
        self.store.delete(conversation_id)
        with self._lock:
            self.lives.pop(conversation_id, None)

    def fork(self, conversation_id: str, up_to: str | None) -> dict[str, Any]:
        """A copy of the conversation up to message ``up_to`` (default: all)."""
        return _summary(self.store.fork(conversation_id, up_to=up_to))

    def undo(self, conversation_id: str) -> int:
        """Hide the last exchange; the number of messages hidden."""
        self._idle(conversation_id, "undo")
        return len(self.store.undo(conversation_id))

    def redo(self, conversation_id: str) -> int:
        """Bring back the last undone exchange; the number of messages shown again."""
        self._idle(conversation_id, "redo")
        return len(self.store.redo(conversation_id))

    def _idle(self, conversation_id: str, doing: str) -> None:
        self.store.get(conversation_id)
        live = self.lives.get(conversation_id)
        if live is not None and live.running:
            raise Busy(f"a turn is running in this conversation; stop it before you {doing}")

    # -- turns

    def post(self, conversation_id: str, parts: list[Any]) -> str:
        """Send a user message: into the running turn (``"sent"``), or as a new turn (``"started"``)."""
        with self._turns:
            return self._post(conversation_id, parts)

    def _post(self, conversation_id: str, parts: list[Any]) -> str:
        conv = self.store.get(conversation_id)
        live = self.live(conv.id)
        deadline = time.monotonic() + 5.0
        while live.running:
            if live.send(parts):
                return "sent"
            if time.monotonic() > deadline:
                raise Busy("the turn in progress cannot take a message now; try again")
            time.sleep(0.02)  # the turn is starting (no stream yet) or ending
        if self.store.paused_run(conv.id) is not None:
            raise Busy("tool calls wait for your approval; allow or deny them first")
        model = conv.model or self.default_model
        live.start(self.store, self.agent_for(model), model, TurnRequest(parts), self._approver, self._ended)
        return "started"

    def stop(self, conversation_id: str) -> bool:
        """Interrupt the running turn; False when none runs."""
        self.store.get(conversation_id)
        live = self.lives.get(conversation_id)
        return bool(live and live.cancel())

    def decide(self, conversation_id: str, decisions: dict[str, str]) -> dict[str, Any]:
        """Record decisions (``allow``, ``deny``, ``always``) for pending calls; resume once all have one.

        ``always`` allows the call and, for the server's lifetime, every later call of the same tool that
        asks for the same reason (the same rule of the policy).
        """
        with self._turns:
            return self._decide(conversation_id, decisions)

    def _decide(self, conversation_id: str, decisions: dict[str, str]) -> dict[str, Any]:
        conv = self.store.get(conversation_id)
        paused = self.store.paused_run(conv.id)
        if paused is None:
            raise NotFoundError("no tool call in this conversation waits for approval")
        live = self.live(conv.id)
        if live.running:
            raise Busy("the run is resuming already")
        pending = {r.call_id: r for r in paused.pending}
        for call_id, decision in decisions.items():
            if call_id not in pending:
                raise NotFoundError(f"no pending call {call_id!r}; pending: {', '.join(pending) or 'none'}")
            if decision not in ("allow", "deny", "always"):
                raise UserError(f"a decision is 'allow', 'deny' or 'always', not {decision!r}")
        for call_id, decision in decisions.items():
            if decision == "always":
                request = pending[call_id]
                self.always.add((request.call.name, request.reason))
            live.decisions[call_id] = decision != "deny"
        waiting = [c for c in pending if c not in live.decisions]
        if waiting:
            return {"status": "waiting", "waiting": waiting}
        approvals = {c: live.decisions[c] for c in pending}
        model = conv.model or self.default_model
        turn = TurnRequest(resume=paused, approvals=approvals)
        live.start(self.store, self.agent_for(model), model, turn, self._approver, self._ended)
        return {"status": "resumed", "waiting": []}

    def _approver(self, request: ApprovalRequest) -> DecisionLike:
        if (request.call.name, request.reason) in self.always:
            return True
        return Ask("waiting for a decision in the web UI")

    def _ended(self) -> None:
        """After a turn: nothing to do yet (the clients reload what they show)."""

    def close_streams(self) -> None:
        """End every client's event stream (the server is stopping); safe from a signal handler."""
        for live in list(self.lives.values()):
            live.publish({"kind": "server_stopping"}, keep=False)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every running turn and wait for them (each is recorded as cancelled)."""
        lives = list(self.lives.values())
        for live in lives:
            live.cancel()
        for live in lives:
            live.join(timeout)


def _summary(conv: Any) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "model": conv.model,
        "created": conv.created.isoformat(),
        "updated": conv.updated.isoformat(),
        "parent_id": conv.parent_id,
    }
