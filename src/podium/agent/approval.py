"""Approval and governance of tool calls: allow, ask, deny, or rewrite each call.

An :class:`ApprovalPolicy` decides per call from ordered :class:`Rule` s (first match wins) and a
default. Rules match on the tool name (glob), on argument values (regular expressions), on paths
inside or outside the workspace (resolved real paths), and on shell commands *parsed into argv*
(``rm  -rf /``, ``/bin/rm -rf /``, ``FOO=1 sudo rm -rf /`` and ``bash -c 'rm -rf /'`` all match the
rule ``command="rm -rf*"``; substrings do not; see :func:`podium.tools.commands.parse_command`). A
command with parts that cannot be known before it runs (``eval``, unparseable quoting) is asked about
when a command rule cannot rule it out.

Tools say which of their parameters are paths or commands through their ``metadata``:
``@tool(metadata={"path_params": ("path",), "command_param": "command"})``.

"ask" pauses the run unless an ``approver`` callback answers at once: the run returns a result with
``status == "paused"`` and its :class:`PausedRun` (plain data, JSON-serializable) is resumed later,
in this or another process, with ``agent.run(resume=paused, approvals={call_id: decision})``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

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
from podium.tools.commands import parse_command
from podium.tools.tool import Tool
from podium.usage import Usage

__all__ = [
    "Allow",
    "ApprovalPolicy",
    "ApprovalRequest",
    "Approver",
    "Ask",
    "Decision",
    "Deny",
    "PausedRun",
    "Rule",
    "decision_from",
]


@dataclass(frozen=True, slots=True)
class Allow:
    """Run the call (with ``args`` instead of the model's, when given)."""

    args: Mapping[str, Any] | None = None
    """Replacement arguments (a rewrite), or ``None`` to keep the model's."""
    reason: str = ""
    """Why, for the trace."""
    kind: Literal["allow"] = "allow"


@dataclass(frozen=True, slots=True)
class Deny:
    """Do not run the call; the model gets an error result with ``reason``."""

    reason: str = "denied"
    """Sent to the model."""
    kind: Literal["deny"] = "deny"


@dataclass(frozen=True, slots=True)
class Ask:
    """A person must decide."""

    reason: str = ""
    """Shown to the person."""
    kind: Literal["ask"] = "ask"


Decision: TypeAlias = Allow | Deny | Ask
DecisionLike: TypeAlias = "Decision | bool | Literal['allow', 'deny']"


def decision_from(value: DecisionLike) -> Decision:
    """Normalize ``True``/``False``/``"allow"``/``"deny"`` or a decision object."""
    if isinstance(value, (Allow, Deny, Ask)):
        return value
    if value is True or value == "allow":
        return Allow(reason="approved")
    if value is False or value == "deny":
        return Deny("denied by the user")
    raise ValueError(f"not an approval decision: {value!r}; use True/False, 'allow'/'deny', Allow(...) or Deny(...)")


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for a person's decision (plain data)."""

    call: ToolCall
    """The call, with the arguments it would run with."""
    reason: str = ""
    """Why approval is needed."""

    @property
    def call_id(self) -> str:
        """Id of the call."""
        return self.call.id


Approver: TypeAlias = Callable[[ApprovalRequest], "DecisionLike"]
"""A callback that decides at once (a terminal prompt, a UI); returning ``Ask`` pauses the run."""


# --------------------------------------------------------------------------- argv matching


def _argv_matches(pattern: Sequence[str], argv: Sequence[str]) -> bool:
    """Program glob, then each further glob matched by some later argument, in order."""
    if not argv or not fnmatch.fnmatchcase(argv[0], pattern[0]):
        return False
    position = 1
    for glob in pattern[1:]:
        while position < len(argv) and not fnmatch.fnmatchcase(argv[position], glob):
            position += 1
        if position >= len(argv):
            return False
        position += 1
    return True


# --------------------------------------------------------------------------- rules and policy


@dataclass(frozen=True, slots=True)
class Rule:
    """One governance rule; every condition given must hold for it to match."""

    decision: Literal["allow", "ask", "deny"]
    """What to do with a matching call."""
    tool: str = "*"
    """Glob on the tool name."""
    args: Mapping[str, str] = field(default_factory=dict)
    """Argument name -> regular expression searched in the argument's value (as text)."""
    paths: Literal["inside", "outside"] | None = None
    """Match when any path argument resolves inside (or outside) the workspace."""
    command: str | None = None
    """Argv pattern such as ``"rm -rf*"`` or ``"git push*"``, matched on the parsed command."""
    reason: str = ""
    """Shown to the model (deny) or the person (ask)."""
    rewrite: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    """For ``allow``: change the arguments before the call runs."""

    def matches(self, call: ToolCall, tool: Tool[..., Any] | None, workspace: Path | None) -> bool | str:
        """True/False, or a reason string when the call must be asked about because it cannot be judged."""
        if not fnmatch.fnmatchcase(call.name, self.tool):
            return False
        for name, pattern in self.args.items():
            if name not in call.args or not re.search(pattern, _as_text(call.args[name])):
                return False
        metadata: Mapping[str, Any] = getattr(tool, "metadata", None) or {}
        if self.paths is not None:
            params = metadata.get("path_params", ())
            values = [call.args[p] for p in params if isinstance(call.args.get(p), str)]
            if not values or workspace is None:
                return False
            inside = [_is_inside(v, workspace) for v in values]
            if self.paths == "inside" and not all(inside):
                return False
            if self.paths == "outside" and all(inside):
                return False
        if self.command is not None:
            param = metadata.get("command_param")
            value = call.args.get(param) if isinstance(param, str) else None
            if not isinstance(value, str):
                return False
            parsed = parse_command(value)
            argv_pattern = self.command.split()
            if not any(_argv_matches(argv_pattern, argv) for argv in parsed.commands):
                if parsed.opaque:
                    return "the command has parts that cannot be checked before it runs (substitution, eval)"
                return False
        return True


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _is_inside(value: str, workspace: Path) -> bool:
    root = workspace.resolve()
    candidate = Path(value)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == root or root in resolved.parents


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Ordered rules (first match wins) and a default decision.

    Example::

        policy = ApprovalPolicy(
            [
                Rule("deny", command="rm -rf*", reason="no recursive deletes"),
                Rule("ask", tool="write_file", paths="outside"),
                Rule("allow", tool="read_*"),
            ],
            default="ask",
            workspace=Path("ws"),
        )
    """

    rules: Sequence[Rule] = ()
    """The rules, in order."""
    default: Literal["allow", "ask", "deny"] = "allow"
    """Decision when no rule matches."""
    workspace: Path | None = None
    """The workspace that ``paths`` rules are relative to."""

    def decide(self, call: ToolCall, tool: Tool[..., Any] | None = None) -> Decision:
        """The decision for one call."""
        for rule in self.rules:
            matched = rule.matches(call, tool, self.workspace)
            if isinstance(matched, str):
                return Ask(matched)
            if not matched:
                continue
            if rule.decision == "deny":
                return Deny(rule.reason or f"the policy does not allow {call.name}")
            if rule.decision == "ask":
                return Ask(rule.reason or f"the policy asks before {call.name}")
            args = dict(rule.rewrite(call.args)) if rule.rewrite is not None else None
            return Allow(args, rule.reason)
        if self.default == "deny":
            return Deny(f"the policy does not allow {call.name}")
        if self.default == "ask":
            return Ask(f"the policy asks before {call.name}")
        return Allow()


# --------------------------------------------------------------------------- paused runs


@dataclass(frozen=True, slots=True)
class PausedRun:
    """A run waiting for approvals, as plain data that survives a restart.

    ``messages`` ends with the assistant message whose calls are pending; ``completed`` holds the
    results of the other calls of that message (run, denied or skipped), kept until the pending ones
    are decided.
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

    def to_json(self) -> str:
        """Versioned JSON of the whole state."""
        doc = {
            "version": FORMAT_VERSION,
            "kind": "paused_run",
            "messages": [message_to_dict(m) for m in self.messages],
            "pending": [{"call": part_to_dict(p.call), "reason": p.reason} for p in self.pending],
            "completed": [part_to_dict(r) for r in self.completed],
            "usage": self.usage.to_dict(),
            "run_id": self.run_id,
            "steps": self.steps,
            "cost": self.cost,
        }
        return json.dumps(doc, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> PausedRun:
        """Inverse of :meth:`to_json`; raises :class:`SerializationError` on bad data."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise SerializationError(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("kind") != "paused_run":
            raise SerializationError("not a paused run (kind != 'paused_run')")
        messages = load_messages({"version": doc.get("version"), "messages": doc.get("messages")})
        pending = []
        for i, item in enumerate(doc.get("pending", [])):
            call = part_from_dict(item.get("call"), f"pending[{i}].call")
            if not isinstance(call, ToolCall):
                raise SerializationError(f"pending[{i}].call: expected a tool call")
            pending.append(ApprovalRequest(call, str(item.get("reason", ""))))
        completed = []
        for i, item in enumerate(doc.get("completed", [])):
            result = part_from_dict(item, f"completed[{i}]")
            if not isinstance(result, ToolResult):
                raise SerializationError(f"completed[{i}]: expected a tool result")
            completed.append(result)
        return cls(
            messages,
            pending,
            completed,
            Usage.from_dict(doc.get("usage", {})),
            str(doc.get("run_id", "")),
            int(doc.get("steps", 0)),
            _cost(doc.get("cost", 0.0)),
        )

    def request(self, call_id: str) -> ApprovalRequest:
        """The pending request for ``call_id``."""
        for request in self.pending:
            if request.call_id == call_id:
                return request
        raise KeyError(f"no pending approval for call {call_id!r}; pending: {[p.call_id for p in self.pending]}")


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise SerializationError(f"cost: expected a number or null, got {value!r}")


def pending_ids(requests: Iterable[ApprovalRequest]) -> list[str]:
    """The call ids of ``requests``."""
    return [r.call_id for r in requests]
