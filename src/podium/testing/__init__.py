"""Test doubles shipped with Podium: scripted and function models, a fake provider server, a network guard.

``ScriptedModel`` replays prepared responses; ``FunctionModel`` computes them from the messages.
``FakeProviderServer`` answers the real provider classes over HTTP in each vendor's wire format, with
scripted faults (cut streams, HTML pages, hangs, resets, rate limits); see :mod:`podium.testing.fake_server`.
The pytest plugin (``-p podium.testing.pytest_plugin``) fails any connection to a non-loopback host
unless the test is marked ``@pytest.mark.allow_network``.
``FaultPlan`` injects seeded, reproducible faults at the model, tool and store boundaries
(:mod:`podium.testing.faults`).
"""

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
    "Reply",
    "ScriptedModel",
    "StoreFault",
    "ToolFault",
    "call",
]
