"""Podium: LLM agents that behave the same on every provider.

``import podium`` is light: names are imported from their modules on first use, and no vendor SDK,
CLI or web code is imported until asked for.

Example::

    from podium import Agent, tool

    @tool
    def add(a: int, b: int) -> int:
        \"\"\"Add two numbers.\"\"\"
        return a + b

    agent = Agent("openai:gpt-4o", tools=[add])
    print(agent.run("What is 2 + 3?").output)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


if TYPE_CHECKING:
    from podium.agent.agent import Agent, AsyncRunStream, RunStream
    from podium.agent.budget import Budget
    from podium.agent.cancel import CancelToken
    from podium.agent.compaction import Compaction
    from podium.agent.decisions import Allow, Ask, Deny
    from podium.agent.events import (
        AgentEvent,
        ContextCompacted,
        MessageDelivered,
        ModelRequestStarted,
        ModelResponseFinished,
        RunFinished,
        RunStarted,
        SubAgentEvent,
        ToolCallFinished,
        ToolCallProgress,
        ToolCallStarted,
    )
    from podium.agent.hooks import AgentHooks
    from podium.agent.memory import Memory
    from podium.agent.result import RunResult
    from podium.agent.rules import ApprovalPolicy, Rule
    from podium.exceptions import (
        AgentRunError,
        ApprovalRequired,
        BudgetExceeded,
        IncompleteStreamError,
        InvalidResponseError,
        MaxStepsExceeded,
        ModelRetry,
        PodiumError,
        ProviderError,
        RunCancelled,
        RunInterrupted,
        UserError,
    )
    from podium.messages import (
        CachePoint,
        File,
        Image,
        Message,
        ModelResponse,
        ProviderPart,
        Text,
        Thinking,
        ToolCall,
        ToolResult,
        dump_messages,
        load_messages,
    )
    from podium.paused import ApprovalRequest, PausedRun
    from podium.providers.base import Model
    from podium.providers.fallback import FallbackModel
    from podium.providers.profiles import ModelProfile
    from podium.providers.registry import model
    from podium.providers.retry import RetryPolicy
    from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
    from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
    from podium.tools.context import RunContext
    from podium.tools.schema import Injected
    from podium.tools.tool import Tool, tool
    from podium.tools.toolset import ToolList, Toolset
    from podium.usage import Usage

_EXPORTS: dict[str, str] = {
    "Agent": "podium.agent.agent",
    "FallbackModel": "podium.providers.fallback",
    "AgentEvent": "podium.agent.events",
    "AgentHooks": "podium.agent.hooks",
    "AgentRunError": "podium.exceptions",
    "Allow": "podium.agent.decisions",
    "ApprovalPolicy": "podium.agent.rules",
    "ApprovalRequest": "podium.paused",
    "ApprovalRequired": "podium.exceptions",
    "Ask": "podium.agent.decisions",
    "AsyncRunStream": "podium.agent.agent",
    "CachePoint": "podium.messages",
    "CancelToken": "podium.agent.cancel",
    "Compaction": "podium.agent.compaction",
    "ContextCompacted": "podium.agent.events",
    "Deny": "podium.agent.decisions",
    "File": "podium.messages",
    "Image": "podium.messages",
    "IncompleteStreamError": "podium.exceptions",
    "Injected": "podium.tools.schema",
    "InvalidResponseError": "podium.exceptions",
    "MaxStepsExceeded": "podium.exceptions",
    "Memory": "podium.agent.memory",
    "Budget": "podium.agent.budget",
    "BudgetExceeded": "podium.exceptions",
    "Message": "podium.messages",
    "MessageDelivered": "podium.agent.events",
    "Model": "podium.providers.base",
    "ModelProfile": "podium.providers.profiles",
    "ModelRequestStarted": "podium.agent.events",
    "ModelResponse": "podium.messages",
    "ModelResponseFinished": "podium.agent.events",
    "ModelRetry": "podium.exceptions",
    "ModelSettings": "podium.settings",
    "OutputSchema": "podium.settings",
    "PausedRun": "podium.paused",
    "PodiumError": "podium.exceptions",
    "ProviderError": "podium.exceptions",
    "ProviderPart": "podium.messages",
    "RetryPolicy": "podium.providers.retry",
    "Rule": "podium.agent.rules",
    "RunCancelled": "podium.exceptions",
    "RunContext": "podium.tools.context",
    "RunFinished": "podium.agent.events",
    "RunInterrupted": "podium.exceptions",
    "RunResult": "podium.agent.result",
    "RunStarted": "podium.agent.events",
    "RunStream": "podium.agent.agent",
    "SubAgentEvent": "podium.agent.events",
    "Text": "podium.messages",
    "TextDelta": "podium.streaming",
    "Thinking": "podium.messages",
    "ThinkingDelta": "podium.streaming",
    "Timeouts": "podium.settings",
    "Tool": "podium.tools.tool",
    "ToolCall": "podium.messages",
    "ToolCallDelta": "podium.streaming",
    "ToolCallFinished": "podium.agent.events",
    "ToolCallProgress": "podium.agent.events",
    "ToolCallStarted": "podium.agent.events",
    "ToolDefinition": "podium.settings",
    "ToolList": "podium.tools.toolset",
    "ToolResult": "podium.messages",
    "Toolset": "podium.tools.toolset",
    "Usage": "podium.usage",
    "UserError": "podium.exceptions",
    "dump_messages": "podium.messages",
    "load_messages": "podium.messages",
    "model": "podium.providers.registry",
    "tool": "podium.tools.tool",
}

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentHooks",
    "AgentRunError",
    "Allow",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalRequired",
    "Ask",
    "AsyncRunStream",
    "Budget",
    "BudgetExceeded",
    "CachePoint",
    "CancelToken",
    "Compaction",
    "ContextCompacted",
    "Deny",
    "FallbackModel",
    "File",
    "Image",
    "IncompleteStreamError",
    "Injected",
    "InvalidResponseError",
    "MaxStepsExceeded",
    "Memory",
    "Message",
    "MessageDelivered",
    "Model",
    "ModelProfile",
    "ModelRequestStarted",
    "ModelResponse",
    "ModelResponseFinished",
    "ModelRetry",
    "ModelSettings",
    "OutputSchema",
    "PausedRun",
    "PodiumError",
    "ProviderError",
    "ProviderPart",
    "RetryPolicy",
    "Rule",
    "RunCancelled",
    "RunContext",
    "RunFinished",
    "RunInterrupted",
    "RunResult",
    "RunStarted",
    "RunStream",
    "SubAgentEvent",
    "Text",
    "TextDelta",
    "Thinking",
    "ThinkingDelta",
    "Timeouts",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallProgress",
    "ToolCallStarted",
    "ToolDefinition",
    "ToolList",
    "ToolResult",
    "Toolset",
    "Usage",
    "UserError",
    "__version__",
    "dump_messages",
    "load_messages",
    "model",
    "tool",
]


def __getattr__(name: str) -> Any:
    if name == "secrets":  # the module (importing it installs the log scrubbing; podium.exceptions does too)
        return importlib.import_module("podium.secrets")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
