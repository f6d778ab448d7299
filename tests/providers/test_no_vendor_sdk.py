"""The vendor SDKs are off the run path: no module of Podium imports one, and every provider works without them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "podium"

SDKS = ("openai", "anthropic", "google.genai", "boto3", "mistralai", "cohere", "ollama", "groq", "aiobotocore")
"""Top-level packages of the vendor SDKs (google.genai: the Gemini SDK, not google-auth)."""

PROVIDERS = [
    "openai:gpt-4o-mini",
    "openai-responses:gpt-4o-mini",
    "azure:gpt-4o-mini",
    "anthropic:claude-sonnet-4-5",
    "google:gemini-2.5-flash",
    "google-vertex:gemini-2.5-flash",
    "bedrock:us.amazon.nova-micro-v1:0",
    "mistral:mistral-small-latest",
    "cohere:command-a-03-2025",
    "groq:llama-3.3-70b-versatile",
    "ollama:llama3.2",
    "openrouter:openai/gpt-4o-mini",
    "deepseek:deepseek-chat",
]


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
    return out


def test_no_podium_module_imports_a_vendor_sdk() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for line, name in _imported(ast.parse(path.read_text(), str(path))):
            if any(name == sdk or name.startswith(sdk + ".") for sdk in SDKS):
                found.append(f"{path.relative_to(SRC.parent)}:{line}: import {name}")
    assert found == [], "vendor SDKs imported by Podium:\n" + "\n".join(found)


BLOCKED_RUN = """
import importlib.abc, json, sys

SDKS = {sdks!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == s or name.startswith(s + ".") for s in SDKS):
            raise ImportError(f"{{name}} is blocked: Podium must not need it")
        return None

sys.meta_path.insert(0, Block())
import asyncio
from podium import Message
from podium.testing.fake_server import FakeProviderServer, Reply

out = {{}}
with FakeProviderServer(default=Reply.answer("hello from every provider")) as server:
    for spec in {providers!r}:
        model = server.model(spec)
        whole = model.request([Message.user("hi")]).text
        streamed = [e for e in model.stream([Message.user("hi")])][-1].text
        awaited = asyncio.run(model.arequest([Message.user("hi")])).text
        out[spec] = [whole, streamed, awaited]
print(json.dumps({{"answers": out, "sdks": sorted(m for m in sys.modules if m.split(".")[0] in SDKS)}}))
"""


@pytest.mark.parametrize("chunk", [PROVIDERS[:7], PROVIDERS[7:]], ids=["first-half", "second-half"])
def test_every_provider_answers_with_the_vendor_sdks_unimportable(chunk: list[str]) -> None:
    script = BLOCKED_RUN.format(sdks=SDKS, providers=chunk)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["sdks"] == []
    for spec in chunk:
        assert result["answers"][spec] == ["hello from every provider"] * 3, spec
