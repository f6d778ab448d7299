"""The result of an agent run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

from typing_extensions import TypeVar

from podium.messages import Message
from podium.usage import Usage

__all__ = ["OutputT", "RunResult"]

OutputT = TypeVar("OutputT", default=str)


@dataclass(frozen=True, slots=True)
class RunResult(Generic[OutputT]):
    """What a finished run gives back."""

    output: OutputT
    """The final output: text, or a validated ``output_type`` instance."""
    messages: list[Message]
    """The whole conversation: the history passed in plus this run's messages."""
    new_messages: list[Message]
    """The messages this run added (the prompt, responses, tool results)."""
    usage: Usage
    """Usage summed over the run's requests."""
    cost: float | None
    """Cost in USD, or ``None`` when a price was unknown."""
    run_id: str
    """Id of the run."""
    steps: int
    """Number of model requests made."""
