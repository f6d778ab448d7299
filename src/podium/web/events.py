"""Agent events and stored messages as the JSON the web API sends (the ``kind`` of each event names it).

Messages use :func:`podium.messages.message_to_dict` (images and files as base64), with the store's id and
per-message usage and cost added; an event carries the same shapes, so a client renders history and live
events with one code path. Secrets the scrubber knows are removed from everything sent.
"""

from __future__ import annotations

from typing import Any

from podium.agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ContextCompacted,
    MessageDelivered,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    RunPaused,
    RunStarted,
    SubAgentEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallProgress,
    ToolCallStarted,
)
from podium.messages import ToolCall, message_to_dict, part_to_dict
from podium.paused import ApprovalRequest, PausedRun
from podium.secrets import scrub_value
from podium.store.base import StoredMessage
from podium.usage import Usage

__all__ = ["approval_to_dict", "event_to_dict", "stored_to_dict", "usage_to_dict"]


def usage_to_dict(usage: Usage | None, cost: float | None) -> dict[str, Any]:
    """Tokens and cost in USD (``None`` when a price is unknown)."""
    u = usage or Usage()
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens, "cost": cost}


def stored_to_dict(stored: StoredMessage) -> dict[str, Any]:
    """A stored message: its parts, role, id, and (for answers) usage and cost."""
    out: dict[str, Any] = message_to_dict(stored.message)
    out["id"] = stored.id
    out["created"] = stored.created.isoformat()
    return scrub_value(out)  # type: ignore[no-any-return]


def approval_to_dict(request: ApprovalRequest) -> dict[str, Any]:
    """A call waiting for a decision."""
    return scrub_value(  # type: ignore[no-any-return]
        {"call": _call(request.call), "reason": request.reason, "agent": request.agent}
    )


def _call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "args": call.args}


def _paused(paused: PausedRun) -> dict[str, Any]:
    return {"pending": [approval_to_dict(r) for r in paused.pending], "run_id": paused.run_id}


def event_to_dict(event: AgentEvent) -> dict[str, Any]:
    """One event as JSON: ``{"kind": ..., ...}``; a sub-agent's event keeps its kind and adds ``agent``."""
    if isinstance(event, SubAgentEvent):
        inner = event_to_dict(event.event)
        return {**inner, "agent": "/".join(event.path), "parent_call": event.call_path[0]}
    out: dict[str, Any] = {"kind": event.kind}
    if isinstance(event, RunStarted):
        out["run_id"] = event.run_id
    elif isinstance(event, (TextDelta, ThinkingDelta)):
        out["text"] = event.text
    elif isinstance(event, ToolCallDelta):
        out["index"] = event.index
    elif isinstance(event, MessageDelivered):
        out["message"] = message_to_dict(event.message)
    elif isinstance(event, ModelRequestStarted):
        out["step"] = event.step
        out["appended"] = [message_to_dict(m) for m in event.appended]
    elif isinstance(event, ModelResponseFinished):
        message = event.response.to_message()
        out["step"] = event.step
        out["message"] = message_to_dict(message)
        out["usage"] = usage_to_dict(event.response.usage, event.response.cost)
    elif isinstance(event, ToolCallStarted):
        out["call"] = _call(event.call)
    elif isinstance(event, ToolCallProgress):
        out.update(call=_call(event.call), progress=event.progress, total=event.total, message=event.message)
    elif isinstance(event, ToolCallFinished):
        out.update(call=_call(event.call), result=part_to_dict(event.result), duration=round(event.duration, 3))
    elif isinstance(event, ApprovalRequested):
        out["request"] = approval_to_dict(event.request)
    elif isinstance(event, ApprovalDecided):
        out.update(call=_call(event.call), decision=event.decision.kind, source=event.source)
    elif isinstance(event, ContextCompacted):
        out.update(tokens_before=event.tokens_before, tokens_after=event.tokens_after)
    elif isinstance(event, RunPaused):
        out.update(_paused(event.paused))
    elif isinstance(event, RunFinished):
        out["usage"] = usage_to_dict(event.result.usage, event.result.cost)
    return scrub_value(out)  # type: ignore[no-any-return]
