"""Package-level promises: a light import, a complete export list, the network guard."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

import podium
from podium.testing.pytest_plugin import NetworkBlockedError

HEAVY = (
    "openai",
    "anthropic",
    "google",
    "mistralai",
    "groq",
    "ollama",
    "boto3",
    "botocore",
    "cohere",
    "llama_cpp",
    "httpx",
    "httpx2",
    "pydantic",
    "asyncio",
    "click",
    "rich",
    "podium.cli",
    "podium.web",
    "podium.providers.openai",
    "genai_prices",
    "logging",
    "dataclasses",
    "threading",
    "podium.secrets",
    "podium.exceptions",
)


def test_import_podium_is_light() -> None:
    code = "import sys, json, podium; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(("podium.cli", "podium.web")))
    assert heavy == [], f"import podium pulled in {heavy}"


def test_defining_an_agent_and_tools_does_not_import_pydantic_yet() -> None:
    code = (
        "import sys, json\n"
        "from podium import Agent, tool\n"
        "@tool\n"
        "def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "heavy = ('pydantic', 'openai', 'httpx', 'httpx2')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_an_agent_without_a_policy_does_not_import_the_sandbox_or_the_command_recognizer() -> None:
    code = (
        "import sys, json\n"
        "from podium import Agent\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('podium.tools.sandbox', "
        "'podium.tools.commands', 'podium.tools.shell_syntax', 'subprocess', 'ctypes')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_exports_are_complete_and_resolve() -> None:
    assert podium.__all__ == sorted(podium.__all__)
    assert set(podium.__all__) == {*podium._EXPORTS, "__version__"}
    for name in podium.__all__:
        assert getattr(podium, name) is not None, name
    with pytest.raises(AttributeError):
        _ = podium.DoesNotExist  # type: ignore[attr-defined]
    public_modules = ["podium.messages", "podium.usage", "podium.exceptions", "podium.settings", "podium.streaming"]
    exported = set(podium.__all__)
    for module_name in public_modules:
        module = __import__(module_name, fromlist=["__all__"])
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name} in __all__ but missing"
    assert {"Agent", "tool", "Message", "ModelSettings", "RunResult", "model"} <= exported


def test_network_guard_blocks_real_hosts() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlockedError, match="must not reach real providers"):
            sock.connect(("192.0.2.1", 443))
    finally:
        sock.close()


def test_network_guard_allows_loopback() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    try:
        client.connect(server.getsockname())
    finally:
        client.close()
        server.close()


@pytest.mark.allow_network
def test_network_guard_opt_in() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(0.01)
    try:
        with pytest.raises(OSError) as info:  # TEST-NET-1 is unroutable: a real attempt, not the guard
            sock.connect(("192.0.2.1", 9))
        assert not isinstance(info.value, NetworkBlockedError)
    finally:
        sock.close()
