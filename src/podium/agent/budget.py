"""Budgets per run: limits that end a run cleanly, with a typed error and a valid history.

``Agent(..., budget=Budget(max_cost=0.50, max_tool_calls=20))`` or ``agent.run(..., budget=...)`` (a run's
budget replaces the agent's). Limits are checked at the loop's own boundaries, so whatever the driver:

* before each model request: requests made (``max_requests``), input and output tokens so far
  (``max_input_tokens``, ``max_output_tokens``, from the usage the provider reported), cost so far
  (``max_cost``; a response whose price is unknown adds nothing, and the docs say so), wall time since the
  run started (``max_seconds``);
* before the tool calls of a model turn run: the calls of the run so far plus this turn's
  (``max_tool_calls``); calls over the budget are not started, and each gets a result saying why, so the
  history stays valid (every call has its result).

The run then raises :class:`~podium.exceptions.BudgetExceeded` naming the budget, its limit and the value
reached, with ``.messages`` holding the history.

A paused run resumed later is the same run: its tokens, cost, tool calls and seconds before the pause count
(``PausedRun`` carries them, in JSON too).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from podium.exceptions import UserError

__all__ = ["Budget"]


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits of one run (``None``: no limit)."""

    max_requests: int | None = None
    """Model requests."""
    max_input_tokens: int | None = None
    """Input tokens summed over the run's requests."""
    max_output_tokens: int | None = None
    """Output tokens summed over the run's requests."""
    max_cost: float | None = None
    """Cost in USD (responses whose price is unknown count as free)."""
    max_tool_calls: int | None = None
    """Tool calls started."""
    max_seconds: float | None = None
    """Wall time from the start of the run."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise UserError(f"Budget({f.name}={value!r}): give a number >= 0, or None for no limit")
