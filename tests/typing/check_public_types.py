"""Static checks of the public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from pydantic import BaseModel
from typing_extensions import assert_type

from podium import Agent, RunResult, tool
from podium.testing import ScriptedModel


class City(BaseModel):
    name: str


@tool
def add(a: int, b: int) -> int:
    """Add."""
    return a + b


@tool(timeout=1)
async def fetch(url: str) -> str:
    """Fetch."""
    return url


def check() -> None:
    model = ScriptedModel(["x"])
    assert_type(Agent(model).run("hi"), RunResult[str])
    assert_type(Agent(model).run("hi").output, str)
    assert_type(Agent(model, output_type=City).run("hi").output, City)
    assert_type(add(1, 2), int)
    assert_type(add.fn(1, 2), int)
    assert_type(Agent(model, tools=[add, fetch]), Agent[str])
