"""How a person's approval binds to exactly one call.

Tool call ids are made unique in the conversation as responses arrive; approvals are checked against the
pending calls of the paused run they answer; and the call about to run is checked against the call shown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from podium.agent.approval import Allow, ApprovalRequest, Decision, PausedRun
from podium.exceptions import UserError
from podium.messages import ModelResponse, Part, ToolCall
from podium.tools.tool import Tool
from podium.usage import stored_cost

if TYPE_CHECKING:
    from podium.agent.rules import ApprovalPolicy

__all__ = ["bind", "check_unique_ids", "pending_approvals", "unique_ids"]

logger = logging.getLogger("podium.agent")


def unique_ids(response: ModelResponse, seen: set[str]) -> ModelResponse:
    """``response`` with every tool call id unique in the conversation (an empty or repeated id is replaced).

    ``seen`` holds the ids used so far and gains the new ones. A call's result always uses the call's
    (possibly new) id, so approvals, results and providers all see one id per call.
    """
    parts: list[Part] = []
    changed = False
    for part in response.parts:
        if isinstance(part, ToolCall):
            if not part.id or part.id in seen:
                stem = part.id or "call"
                n = 2 if part.id else 1
                while f"{stem}_{n}" in seen:
                    n += 1
                logger.info("tool call id %r is empty or used before; using %s_%d", part.id, stem, n)
                part = replace(part, id=f"{stem}_{n}")
                changed = True
            seen.add(part.id)
        parts.append(part)
    return replace(response, parts=tuple(parts), cost=stored_cost(response)) if changed else response


def check_unique_ids(calls: Sequence[ToolCall]) -> None:
    """Unanswered calls from a history must have distinct, non-empty ids (Podium's own runs always do)."""
    ids = [c.id for c in calls]
    if "" in ids or len(set(ids)) != len(ids):
        raise UserError(
            f"the last message has tool calls with empty or repeated ids {ids}; each call needs its own id "
            "before it can be run or approved (Podium gives new calls unique ids, so this history came from "
            "elsewhere): fix the ids in the history"
        )


def pending_approvals(
    resume: PausedRun | None, approvals: Mapping[str, Decision], unanswered: Sequence[ToolCall]
) -> dict[str, tuple[ApprovalRequest, Decision]]:
    """The person's decisions, each with the pending request it answers; a clear error for any mismatch."""
    if resume is None:
        if approvals:
            raise UserError(
                "approvals= answers the pending calls of a paused run: pass resume=result.paused as well "
                "(an approval never applies to calls the model makes later)"
            )
        return {}
    ids = [r.call_id for r in resume.own_pending]  # a sub-agent's pending calls go to its own run
    batch = {c.id for c in unanswered}
    if len(set(ids)) != len(ids) or not set(ids) <= batch:
        raise UserError(
            "the paused run is inconsistent: its pending calls are not the unanswered calls of its last "
            f"message (pending {ids}, unanswered {sorted(batch)}); it cannot be resumed"
        )
    every = [r.call_id for r in resume.pending]
    unknown = sorted(set(approvals) - set(every))
    if unknown:
        raise UserError(f"approvals for calls that are not pending: {unknown}; pending: {every}")
    requests = {r.call_id: r for r in resume.own_pending}
    return {call_id: (requests[call_id], decision) for call_id, decision in approvals.items() if call_id in requests}


def bind(call: ToolCall, tool: Tool[..., Any], request: ApprovalRequest, policy: ApprovalPolicy | None) -> ToolCall:
    """The call as the person saw it, after checking it is the call the run is about to make.

    The person approved ``request.call``: the same id, tool and arguments (after hooks, and after a rewrite by
    the policy). Anything else raises :class:`UserError` before any call of the message runs.
    """
    shown = request.call
    if call.id == shown.id and call.name == shown.name:
        if call.args == shown.args and call.raw_args == shown.raw_args:
            return shown
        if policy is not None:
            decision = policy.decide(call, tool)
            if isinstance(decision, Allow) and decision.args is not None and dict(decision.args) == shown.args:
                return shown
    raise UserError(
        f"the approval for call {shown.id!r} was given for {shown.name}({_args_text(shown)}), but the paused "
        f"run's call is {call.name}({_args_text(call)}); nothing was run. Answer the pending calls again "
        "from the paused run as stored."
    )


def _args_text(call: ToolCall) -> str:
    text = call.raw_args if call.raw_args is not None else json.dumps(call.args, sort_keys=True)
    return text if len(text) < 300 else text[:300] + "..."
