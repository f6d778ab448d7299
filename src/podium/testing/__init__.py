"""Test doubles shipped with Podium: scripted and function models, and a network guard for pytest.

``ScriptedModel`` replays prepared responses; ``FunctionModel`` computes them from the messages.
The pytest plugin (``-p podium.testing.pytest_plugin``) fails any connection to a non-loopback host
unless the test is marked ``@pytest.mark.allow_network``.
"""

from podium.testing.models import AgentInfo, FunctionModel, ScriptedModel

__all__ = ["AgentInfo", "FunctionModel", "ScriptedModel"]
