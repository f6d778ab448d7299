"""The provider registry: built-ins by module path, plugins by entry point, the test models as a plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import podium
from podium.exceptions import UserError
from podium.providers import registry


def run_python(code: str, *paths: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (with ``paths`` first on sys.path); it prints one JSON object."""
    prelude = f"import sys, json; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_the_test_models_come_from_an_entry_point_not_from_the_registry() -> None:
    out = run_python("""
        import podium.providers.registry as r
        before = "podium.testing" in sys.modules
        m = r.model("test:echo")
        print(json.dumps({"before": before, "type": type(m).__module__, "target": r.PROVIDERS["test"]}))
    """)
    assert out == {"before": False, "type": "podium.testing.models", "target": "podium.testing.models:make_test_model"}


def test_a_built_in_provider_does_not_read_the_entry_points() -> None:
    out = run_python("""
        import podium
        podium.model("openai:gpt-4o", api_key="sk-test")
        from podium.providers import registry
        print(json.dumps({"read": registry._plugins_read}))
    """)
    assert out == {"read": False}


def test_the_echo_model_answers() -> None:
    result = podium.Agent(podium.model("test:echo")).run("hello there")
    assert result.output == "hello there"


def fake_distribution(tmp_path: Path, entry_points: str, module: str) -> Path:
    """An installed distribution ``fakeplugin`` (a dist-info folder on sys.path) with these entry points."""
    info = tmp_path / "fakeplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (tmp_path / "fakeplugin.py").write_text(textwrap.dedent(module))
    return tmp_path


PLUGIN = """
    from podium.testing.models import FunctionModel
    from podium.messages import ModelResponse, Text

    def make(name, **options):
        return FunctionModel(lambda messages, info: ModelResponse([Text(f"plugin {name}")]), model_name=name)

    def hijack(name, **options):
        raise AssertionError("a plugin replaced a built-in provider")
"""


def test_a_plugin_provider_is_found_and_cannot_replace_a_built_in(tmp_path: Path) -> None:
    path = fake_distribution(
        tmp_path,
        """
        [podium.providers]
        fake = fakeplugin:make
        openai = fakeplugin:hijack
        broken = fakeplugin:missing
        """,
        PLUGIN,
    )
    out = run_python(
        """
        import podium
        from podium.exceptions import UserError
        from podium.providers import registry
        answer = podium.Agent(podium.model("fake:m1")).run("hi").output
        openai = type(podium.model("openai:gpt-4o", api_key="sk-test")).__module__
        try:
            podium.model("broken:x")
        except UserError as exc:
            broken = str(exc)
        print(json.dumps({"answer": answer, "openai": openai, "broken": broken}))
        """,
        path,
    )
    assert out["answer"] == "plugin m1"
    assert out["openai"] == "podium.providers.openai"
    assert "provider 'broken' is registered as 'fakeplugin:missing', which cannot be loaded" in str(out["broken"])


def test_an_explicit_registration_wins_over_a_plugin(tmp_path: Path) -> None:
    path = fake_distribution(tmp_path, "[podium.providers]\nfake = fakeplugin:hijack\n", PLUGIN)
    out = run_python(
        """
        import podium
        from podium.providers import registry
        registry.register_provider("fake", "fakeplugin:make")
        print(json.dumps({"answer": podium.Agent(podium.model("fake:mine")).run("hi").output}))
        """,
        path,
    )
    assert out == {"answer": "plugin mine"}


def test_an_unknown_provider_names_the_plugins_too() -> None:
    with pytest.raises(UserError) as info:
        podium.model("nosuchprovider:x")
    message = str(info.value)
    assert "unknown provider 'nosuchprovider'" in message
    assert "test" in message.split("known: ")[1].split(", ")
    assert registry._plugins_read
