"""Approval and governance of tool calls: allow, ask, deny, or rewrite each call.

An :class:`ApprovalPolicy` (:mod:`podium.agent.rules`) decides per call from ordered :class:`Rule` s and a
default. A shell command line is judged per unit -- every program it runs and every file it writes or
reads -- and the verdicts combine fail-closed (any deny -> deny, else any ask -> ask, else allow), so
``ls; rm -rf ~`` is not allowed by ``Rule("allow", command="ls*")``. Commands are parsed by a recognizer
that understands a small subset of bash exactly and marks everything else opaque (``$(..)``, ``eval``,
``python -c``, ``xargs`` ...); an opaque unit is never allowed by a ``command`` rule. Redirections are
writes to files, judged by the path rules, and writes to protected paths (``.git/``, ``.envrc``, hooks,
start-up files) can be singled out with ``Rule("ask", paths="protected", access="write")``. The full
account is ``docs/approval.md``.

Tools say which of their parameters are paths or commands through their ``metadata``:
``@tool(metadata={"path_params": ("path",), "path_access": "write", "command_param": "command"})``.

"ask" pauses the run unless an ``approver`` callback answers at once: the run returns a result with
``status == "paused"`` and its :class:`PausedRun` (plain data, JSON-serializable) is resumed later,
in this or another process, with ``agent.run(resume=paused, approvals={call_id: decision})``. An
approval answers exactly the pending call it names: same id, tool and arguments as shown in
``paused.pending``, in that paused run only; calls of later model turns are judged afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from podium.agent.decisions import Allow, Ask, Decision, DecisionLike, Deny, decision_from
from podium.paused import ApprovalRequest, PausedRun

if TYPE_CHECKING:
    from podium.agent.rules import ApprovalPolicy, Rule

__all__ = [
    "Allow",
    "ApprovalPolicy",
    "ApprovalRequest",
    "Approver",
    "Ask",
    "Decision",
    "DecisionLike",
    "Deny",
    "PausedRun",
    "Rule",
    "decision_from",
]


Approver: TypeAlias = Callable[[ApprovalRequest], "DecisionLike"]
"""A callback that decides at once (a terminal prompt, a UI); returning ``Ask`` pauses the run."""


def __getattr__(name: str) -> Any:
    # the rules engine is loaded when a policy is first named: an agent without one does not pay for it
    if name in ("ApprovalPolicy", "Rule"):
        from podium.agent import rules

        value = getattr(rules, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
