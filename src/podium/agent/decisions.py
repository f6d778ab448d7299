"""The decisions an approval policy, a hook or a person gives a tool call: allow (maybe rewritten), deny, ask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = ["Allow", "Ask", "Decision", "DecisionLike", "Deny", "decision_from"]


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
