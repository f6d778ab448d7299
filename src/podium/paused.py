"""A run paused for approvals, as plain data: the calls waiting for a person, and the state to resume from.

Core data (no I/O, nothing from the layers above): the agent loop produces a :class:`PausedRun` when a
tool call needs a person's decision, the store keeps its JSON (:meth:`PausedRun.to_json`) so it survives a
restart, and the interfaces show its :attr:`PausedRun.pending` requests. The approval policy that decides
when to pause lives in :mod:`podium.agent.approval`, which re-exports both classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from podium.exceptions import SerializationError
from podium.messages import (
    FORMAT_VERSION,
    Message,
    ToolCall,
    ToolResult,
    load_messages,
    message_to_dict,
    part_from_dict,
    part_to_dict,
)
from podium.usage import Usage

__all__ = ["ApprovalRequest", "PausedRun"]


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for a person's decision (plain data)."""

    call: ToolCall
    """The call, with the arguments it would run with."""
    reason: str = ""
    """Why approval is needed."""
    agent: str = ""
    """The sub-agent that made the call, as a path of names (``"researcher"``, ``"researcher/searcher"``),
    relative to the run that shows the request; empty for the run's own calls."""

    @property
    def call_id(self) -> str:
        """Id of the call."""
        return self.call.id


@dataclass(frozen=True, slots=True)
class PausedRun:
    """A run waiting for approvals, as plain data that survives a restart.

    ``messages`` ends with the assistant message whose calls are pending; ``completed`` holds the
    results of the other calls of that message (run, denied or skipped), kept until the pending ones
    are decided. A sub-agent that paused inside the run is in ``children`` under the id of the call that
    started it, and its pending calls are in ``pending`` too (their ``agent`` names it), so answering
    ``pending`` answers the whole tree.
    """

    messages: list[Message]
    """The conversation, ending with the message whose tool calls wait."""
    pending: list[ApprovalRequest]
    """Calls that need a decision."""
    completed: list[ToolResult] = field(default_factory=list)
    """Results of the other calls of the same message."""
    usage: Usage = field(default_factory=Usage)
    """Usage of the run up to the pause."""
    run_id: str = ""
    """Id of the run that paused."""
    steps: int = 0
    """Model requests made before the pause."""
    cost: float | None = 0.0
    """Cost of the run up to the pause (``None`` when a price was unknown)."""
    queued: list[Message] = field(default_factory=list)
    """User messages sent into the run (``stream.send``) that it had not delivered when it paused; the resumed
    run delivers them after the pending calls' results, before its next model request."""
    children: dict[str, PausedRun] = field(default_factory=dict)
    """Sub-agent runs paused inside this one, by the id of the call (in the last message) that started them."""
    usage_by_agent: dict[str, Usage] = field(default_factory=dict)
    """Usage up to the pause per agent (paths of names, as ``RunResult.usage_by_agent``)."""
    cost_by_agent: dict[str, float | None] = field(default_factory=dict)
    """Cost up to the pause per agent."""
    tool_calls: int = 0
    """Tool calls of the run before the paused turn (the resumed run's ``max_tool_calls`` budget counts them,
    and the paused turn's calls again as it runs them)."""
    seconds: float = 0.0
    """Seconds the run had run before the pause (the resumed run's ``max_seconds`` budget counts them)."""

    @property
    def own_pending(self) -> list[ApprovalRequest]:
        """The pending calls of this run itself (not of its sub-agents)."""
        return [p for p in self.pending if not p.agent]

    def to_json(self) -> str:
        """Versioned JSON of the whole state."""
        return json.dumps(self._doc(), ensure_ascii=False)

    def _doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "kind": "paused_run",
            "messages": [message_to_dict(m) for m in self.messages],
            "pending": [_request_doc(p) for p in self.pending],
            "completed": [part_to_dict(r) for r in self.completed],
            "usage": self.usage.to_dict(),
            "run_id": self.run_id,
            "steps": self.steps,
            "cost": self.cost,
        }
        if self.queued:
            doc["queued"] = [message_to_dict(m) for m in self.queued]
        if self.children:
            doc["children"] = {call_id: child._doc() for call_id, child in self.children.items()}
        if self.usage_by_agent:
            doc["usage_by_agent"] = {name: u.to_dict() for name, u in self.usage_by_agent.items()}
            doc["cost_by_agent"] = dict(self.cost_by_agent)
        if self.tool_calls:
            doc["tool_calls"] = self.tool_calls
        if self.seconds:
            doc["seconds"] = self.seconds
        return doc

    @classmethod
    def from_json(cls, text: str | bytes) -> PausedRun:
        """Inverse of :meth:`to_json`; raises :class:`SerializationError` on bad data."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise SerializationError(f"not JSON: {exc}") from exc
        return cls._from_doc(doc, "")

    @classmethod
    def _from_doc(cls, doc: Any, where: str) -> PausedRun:
        if not isinstance(doc, dict) or doc.get("kind") != "paused_run":
            raise SerializationError(f"{where or 'document'}: not a paused run (kind != 'paused_run')")
        messages = load_messages({"version": doc.get("version"), "messages": doc.get("messages")})
        pending = []
        for i, item in enumerate(doc.get("pending", [])):
            call = part_from_dict(item.get("call"), f"{where}pending[{i}].call")
            if not isinstance(call, ToolCall):
                raise SerializationError(f"{where}pending[{i}].call: expected a tool call")
            pending.append(ApprovalRequest(call, str(item.get("reason", "")), str(item.get("agent", ""))))
        completed = []
        for i, item in enumerate(doc.get("completed", [])):
            result = part_from_dict(item, f"{where}completed[{i}]")
            if not isinstance(result, ToolResult):
                raise SerializationError(f"{where}completed[{i}]: expected a tool result")
            completed.append(result)
        queued = load_messages({"version": doc.get("version"), "messages": doc.get("queued", [])})
        if any(m.role != "user" for m in queued):
            raise SerializationError(f"{where}queued: expected user messages")
        children = doc.get("children", {})
        if not isinstance(children, dict):
            raise SerializationError(f"{where}children: expected an object of paused runs by call id")
        try:
            usage = Usage.from_dict(doc.get("usage", {}))
            by_agent = {str(k): Usage.from_dict(v) for k, v in dict(doc.get("usage_by_agent", {})).items()}
            costs = {str(k): _cost(v) for k, v in dict(doc.get("cost_by_agent", {})).items()}
            tool_calls, seconds = int(doc.get("tool_calls", 0)), float(doc.get("seconds", 0.0))
            if tool_calls < 0 or not 0 <= seconds < float("inf"):
                raise ValueError("tool_calls and seconds must be >= 0")
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"{where}usage: {exc}") from exc
        return cls(
            messages,
            pending,
            completed,
            usage,
            str(doc.get("run_id", "")),
            int(doc.get("steps", 0)),
            _cost(doc.get("cost", 0.0)),
            queued,
            {str(k): cls._from_doc(v, f"{where}children[{k!r}].") for k, v in children.items()},
            by_agent,
            costs,
            tool_calls,
            seconds,
        )

    def request(self, call_id: str) -> ApprovalRequest:
        """The pending request for ``call_id``."""
        for request in self.pending:
            if request.call_id == call_id:
                return request
        raise KeyError(f"no pending approval for call {call_id!r}; pending: {[p.call_id for p in self.pending]}")


def _request_doc(request: ApprovalRequest) -> dict[str, Any]:
    doc: dict[str, Any] = {"call": part_to_dict(request.call), "reason": request.reason}
    if request.agent:
        doc["agent"] = request.agent
    return doc


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise SerializationError(f"cost: expected a number or null, got {value!r}")
