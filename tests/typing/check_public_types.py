"""Static checks of the public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

from podium import Agent, AgentHooks, RunResult, tool
from podium.messages import ToolCall, ToolResult
from podium.testing import ScriptedModel
from podium.tools import RunContext


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


class AsyncAudit(AgentHooks):
    """Hooks may be written as coroutines: they type-check as overrides."""

    async def on_run_start(self, ctx: RunContext[Any]) -> None:
        return None

    async def before_tool_call(self, ctx: RunContext[Any], call: ToolCall) -> ToolCall | None:
        return call

    async def after_tool_call(self, ctx: RunContext[Any], call: ToolCall, result: ToolResult) -> ToolResult:
        return result


class SyncAudit(AgentHooks):
    """Plain hooks still type-check."""

    def on_run_end(self, ctx: RunContext[Any], result: RunResult[Any]) -> None:
        return None


@tool
def wait_a_bit(ctx: RunContext[None], seconds: float) -> bool:
    """A long tool that stops when its call is abandoned."""
    return ctx.abandoned.wait(seconds)


def check_hooks_and_context() -> None:
    Agent(ScriptedModel(["x"]), hooks=[AsyncAudit(), SyncAudit()], tools=[wait_a_bit])


async def check_steering() -> None:
    from podium.messages import Image, Message

    stream = Agent(ScriptedModel(["x"])).stream("hi")
    assert_type(stream.send("also this"), None)
    stream.send(["look", Image(data=b"x", media_type="image/png")], interrupt=True)
    stream.send(Message.user("as a message"))
    assert_type(stream.undelivered, tuple[Message, ...])
    astream = Agent(ScriptedModel(["x"])).astream("hi")
    assert_type(await astream.send("also this"), None)
