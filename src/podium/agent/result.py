"""The result of an agent run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Generic, Literal

from typing_extensions import TypeVar

from podium.exceptions import UserError
from podium.messages import Message
from podium.usage import CostValue, Usage, resolve_cost

if TYPE_CHECKING:
    from podium.agent.approval import ApprovalRequest, PausedRun
    from podium.agent.window import RequestRecord

__all__ = ["OutputT", "RunResult"]

OutputT = TypeVar("OutputT", default=str)


class RunResult(Generic[OutputT]):
    """What a run gives back: finished (``status == "completed"``) or waiting for approvals (``"paused"``)."""

    __slots__ = (
        "_agents",
        "_cost",
        "_output",
        "messages",
        "new_messages",
        "paused",
        "requests",
        "run_id",
        "status",
        "steps",
        "usage",
    )

    def __init__(
        self,
        *,
        output: OutputT | None,
        messages: list[Message],
        new_messages: list[Message],
        usage: Usage,
        cost: CostValue,
        run_id: str,
        steps: int,
        status: Literal["completed", "paused"] = "completed",
        paused: PausedRun | None = None,
        agents: Mapping[str, tuple[Usage, CostValue]] | None = None,
        requests: Sequence[RequestRecord] = (),
    ) -> None:
        self._output = output
        self.messages = messages
        """The whole conversation: the history passed in plus this run's messages."""
        self.new_messages = new_messages
        """The messages this run added (the prompt, responses, tool results)."""
        self.usage = usage
        """Usage summed over the run's requests, and its sub-agents' (see :attr:`usage_by_agent`)."""
        self._cost = cost
        self.run_id = run_id
        """Id of the run."""
        self.steps = steps
        """Number of model requests made."""
        self.status: Literal["completed", "paused"] = status
        """``completed``, or ``paused`` when tool calls wait for a person's approval."""
        self.paused = paused
        """The state to resume from when paused (``agent.run(resume=result.paused, approvals=...)``)."""
        self.requests: list[RequestRecord] = list(requests)
        """Every model request of the run, in order: the prompt tokens counted before it was sent (and the
        window they were checked against) and the usage the provider reported."""
        self._agents = dict(agents) if agents is not None else {"agent": (usage, cost)}

    @property
    def usage_by_agent(self) -> dict[str, Usage]:
        """Usage per agent; the entries sum to :attr:`usage`.

        This run's own usage is under its agent's name (``"agent"`` when it has none), each sub-agent's
        under its path of names (``"main/researcher"``, ``"main/researcher/searcher"``).
        """
        return {name: usage for name, (usage, _) in self._agents.items()}

    @property
    def cost_by_agent(self) -> dict[str, float | None]:
        """Cost in USD per agent, keyed as :attr:`usage_by_agent` (``None`` where a price was unknown)."""
        out: dict[str, float | None] = {}
        for name, (usage, cost) in self._agents.items():
            value = resolve_cost(cost)
            self._agents[name] = (usage, value)
            out[name] = value
        return out

    @property
    def cost(self) -> float | None:
        """Cost in USD, or ``None`` when a price was unknown (worked out on first read)."""
        value = resolve_cost(self._cost)
        self._cost = value
        return value

    @property
    def output(self) -> OutputT:
        """The final output: text, or a validated ``output_type`` instance.

        Raises:
            UserError: the run is paused; answer ``pending_approvals`` and resume it.
        """
        if self.status == "paused":
            raise UserError(
                "the run is paused waiting for approvals (see .pending_approvals); resume it with "
                "agent.run(resume=result.paused, approvals={call_id: True/False})"
            )
        return self._output  # type: ignore[return-value]

    @property
    def pending_approvals(self) -> list[ApprovalRequest]:
        """Calls waiting for a decision (empty unless paused)."""
        return list(self.paused.pending) if self.paused is not None else []

    def __repr__(self) -> str:
        shown = repr(self._output) if self.status == "completed" else f"<paused: {len(self.pending_approvals)} pending>"
        return f"RunResult(output={shown}, steps={self.steps}, usage={self.usage!r})"
