"""Test doubles shipped with Podium: scripted and function models, a fake provider server, a network guard.

``ScriptedModel`` replays prepared responses; ``FunctionModel`` computes them from the messages.
``FakeProviderServer`` answers the real provider classes over HTTP in each vendor's wire format, with
scripted faults (cut streams, HTML pages, hangs, resets, rate limits); see :mod:`podium.testing.fake_server`.
The pytest plugin (``-p podium.testing.pytest_plugin``) fails any connection to a non-loopback host
unless the test is marked ``@pytest.mark.allow_network``, and gives the ``podium_recording`` fixture (record
a test's model traffic once, replay it in CI: :mod:`podium.testing.recording`). ``replay(agent, trace)``
runs an agent again from a recorded trace, offline (:mod:`podium.agent.replay`). ``FaultPlan`` injects
seeded, reproducible faults at the model, tool and store boundaries (:mod:`podium.testing.faults`).
"""

from typing import Any

from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.faults import FaultPlan, FaultRecord, ModelFault, StoreFault, ToolFault
from podium.testing.models import AgentInfo, FunctionModel, ScriptedModel, call

__all__ = [
    "AgentInfo",
    "FakeProviderServer",
    "FaultPlan",
    "FaultRecord",
    "FunctionModel",
    "ModelFault",
    "ModelRecording",
    "ReplayMismatch",
    "Reply",
    "ScriptedModel",
    "StoreFault",
    "ToolFault",
    "areplay",
    "call",
    "replay",
]

_LAZY = {
    "replay": "podium.agent.replay",
    "areplay": "podium.agent.replay",
    "ReplayMismatch": "podium.agent.replay",
    "ModelRecording": "podium.testing.recording",
}


def __getattr__(name: str) -> Any:
    """The replay and recording helpers, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'podium.testing' has no attribute {name!r}")
