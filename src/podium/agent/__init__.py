"""The agent: the sans-IO loop, its drivers, events, hooks and results."""

from podium.agent.agent import Agent, AsyncRunStream, RunStream
from podium.agent.cancel import CancelToken
from podium.agent.hooks import AgentHooks
from podium.agent.result import RunResult

__all__ = ["Agent", "AgentHooks", "AsyncRunStream", "CancelToken", "RunResult", "RunStream"]
