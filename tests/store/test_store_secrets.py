"""No known secret reaches the database file: a real run against a server that echoes the key, injected values.

Every check reads the raw bytes of the database and its WAL files, and every text column of every table.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from tests.key_echo_server import key_echo_server

import podium
import podium.secrets as secrets
from podium import Agent, Injected, Message, tool
from podium.agent.recording import RunRecorder
from podium.exceptions import AuthenticationError
from podium.store import SQLiteStore
from podium.testing import ScriptedModel
from podium.testing.models import call

KEY = "sk-live-4c1f0a9e7b2d4e6f8a1c3b5d7e9f0a2b"


def raw_bytes(db_path: Path) -> bytes:
    """The database file and its WAL and shared-memory files, as stored on disk."""
    return b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))


def text_cells(db_path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text value in every table."""
    conn = sqlite3.connect(db_path)
    try:
        cells = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                cells += [(table, c, v) for c, v in zip(columns, row, strict=True) if isinstance(v, str)]
        return cells
    finally:
        conn.close()


def assert_no_secret(db_path: Path, secret: str) -> None:
    assert secret.encode() not in raw_bytes(db_path)
    leaks = [(t, c) for t, c, v in text_cells(db_path) if secret in v]
    assert leaks == []


@pytest.fixture
def forget() -> Iterator[list[str]]:
    values: list[str] = []
    yield values
    for value in values:
        secrets.unregister(value)


def _run_recorded(store: SQLiteStore, agent: Agent, prompt: str) -> BaseException | None:
    conv = store.create(title=None)
    error: BaseException | None = None
    try:
        with RunRecorder(store, conv.id, model="under-test") as recorder:
            for event in agent.stream(prompt):
                recorder.record(event)
    except Exception as exc:
        error = exc
    return error


@pytest.mark.parametrize(
    ("spec", "path", "env"),
    [
        ("openai:gpt-4o-mini", "/v1", "OPENAI_API_KEY"),
        ("anthropic:claude-sonnet-4-5", "", "ANTHROPIC_API_KEY"),
        ("openai-responses:gpt-5", "/v1", "OPENAI_API_KEY"),
    ],
)
def test_a_key_echoed_in_an_error_body_is_not_stored_nor_logged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    spec: str,
    path: str,
    env: str,
) -> None:
    monkeypatch.setenv(env, KEY)
    caplog.set_level(logging.DEBUG)
    db_path = tmp_path / "podium.db"
    with key_echo_server() as url, SQLiteStore(db_path) as store:
        agent = Agent(podium.model(spec, base_url=url + path))
        error = _run_recorded(store, agent, "hello")
        assert isinstance(error, AuthenticationError), error
        assert KEY not in str(error) and KEY not in json.dumps(error.body, default=str)
        assert f"[REDACTED:{env}]" in str(error)
        [run] = store.runs(store.latest().id)  # type: ignore[union-attr]
        assert run.status == "failed"
        assert run.error is not None and f"[REDACTED:{env}]" in run.error
    assert_no_secret(db_path, KEY)
    assert KEY not in caplog.text


def test_an_explicit_api_key_echoed_back_is_not_stored(tmp_path: Path, forget: list[str]) -> None:
    explicit = "explicit-key-7a6b5c4d3e2f1a0b"
    forget.append(explicit)
    db_path = tmp_path / "podium.db"
    with key_echo_server() as url, SQLiteStore(db_path) as store:
        agent = Agent(podium.model("openai:gpt-4o-mini", base_url=url + "/v1", api_key=explicit))
        error = _run_recorded(store, agent, "hello")
        assert isinstance(error, AuthenticationError)
        assert "[REDACTED:openai:api_key]" in str(error)
    assert_no_secret(db_path, explicit)


def test_an_injected_value_a_tool_echoes_is_scrubbed_in_the_store(tmp_path: Path, forget: list[str]) -> None:
    token = "injected-db-token-0a1b2c3d4e5f"
    forget.append(token)

    @tool
    def query(sql: str, token: Annotated[str, Injected()]) -> str:
        """Run SQL.

        Args:
            sql: The query.
        """
        raise RuntimeError(f"connection refused for token {token}")  # a careless tool, as an error

    @tool
    def whoami(token: Annotated[str, Injected("token")]) -> dict[str, Any]:
        """Who am I."""
        return {"user": "me", "token": token}  # and as a result

    model = ScriptedModel([[call("query", {"sql": "select 1"}), call("whoami")], "done"])
    db_path = tmp_path / "podium.db"
    with SQLiteStore(db_path) as store:
        agent = Agent(model, tools=[query, whoami], inject={"token": token})
        assert _run_recorded(store, agent, "go") is None
        stored = store.messages(store.latest().id)  # type: ignore[union-attr]
        results = [r.text for m in stored for r in m.tool_results]
        assert any("[REDACTED:injected:token]" in text for text in results), results
    assert_no_secret(db_path, token)


def test_every_column_the_store_writes_is_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget: list[str]
) -> None:
    from podium.agent.approval import ApprovalPolicy, Rule

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    db_path = tmp_path / "podium.db"

    @tool
    def deploy(target: str) -> str:
        """Deploy.

        Args:
            target: Where.
        """
        return "deployed"

    model = ScriptedModel([[call("deploy", {"target": f"prod with {KEY}"})]])
    agent = Agent(model, tools=[deploy], policy=ApprovalPolicy([Rule("ask", tool="deploy")]))
    with SQLiteStore(db_path) as store:
        conv = store.create(title=f"about {KEY}", model=f"m-{KEY}", metadata={"k": KEY, KEY: [KEY]})
        store.update(conv.id, metadata={"again": KEY})
        store.append(conv.id, Message.user(f"my key is {KEY}"))  # title and preview come from it too
        with RunRecorder(store, conv.id, model=f"openai:{KEY}") as recorder:
            for event in agent.stream(f"use {KEY}", message_history=store.messages(conv.id)):
                recorder.record(event)
        paused = store.paused_run(conv.id)
        assert paused is not None  # the paused run's JSON (with the messages) is stored scrubbed, still valid
        assert paused.pending[0].call.args == {"target": "prod with [REDACTED:GEMINI_API_KEY]"}
        other = store.create()
        run = store.start_run(other.id)
        store.fail_run(run.id, f"boom: Authorization: Bearer {KEY}")
        store.fork(conv.id, title=f"fork {KEY}")
    assert_no_secret(db_path, KEY)
    markers = {t for t, c, v in text_cells(db_path) if "[REDACTED:GEMINI_API_KEY]" in v}
    assert markers == {"conversations", "messages", "runs"}


def test_lone_surrogates_are_stored_losslessly_and_nul_bytes_survive(tmp_path: Path) -> None:
    text = "caf\udce9 \x00 end"  # an argument decoded with surrogateescape, and a NUL
    with SQLiteStore(tmp_path / "podium.db") as store:
        conv = store.create()
        store.append(conv.id, Message.user(text))
        assert store.messages(conv.id)[0].text == text
        summary = store.list_conversations()[0]
        assert summary.preview == "caf\ufffd \x00 end"
        assert store.get(conv.id).title == "caf\ufffd \x00 end"
        run = store.start_run(conv.id)
        assert store.fail_run(run.id, "bad \udcff byte").error == "bad \ufffd byte"


@pytest.mark.parametrize(
    ("module", "cls", "path"),
    [
        ("podium.providers.openai", "OpenAIChatModel", "/v1"),
        ("podium.providers.groq", "GroqModel", ""),
        ("podium.providers.mistral", "MistralModel", ""),
    ],
)
def test_a_key_given_to_a_provider_class_is_a_secret(
    tmp_path: Path, forget: list[str], module: str, cls: str, path: str
) -> None:
    """A key handed straight to a provider class (not through podium.model) is scrubbed as well."""
    import importlib

    explicit = f"class-key-{cls.lower()}-9f8e7d6c5b4a"
    forget.append(explicit)
    model_cls = getattr(importlib.import_module(module), cls)
    db_path = tmp_path / "podium.db"
    with key_echo_server() as url, SQLiteStore(db_path) as store:
        agent = Agent(model_cls("some-model", base_url=url + path, api_key=explicit))
        error = _run_recorded(store, agent, "hello")
        assert error is not None
        assert explicit not in str(error)
    assert_no_secret(db_path, explicit)


@pytest.mark.parametrize(
    ("module", "cls"),
    [
        ("podium.providers.openai", "OpenAIChatModel"),
        ("podium.providers.groq", "GroqModel"),
        ("podium.providers.mistral", "MistralModel"),
        ("podium.providers.cohere", "CohereModel"),
        ("podium.providers.ollama", "OllamaModel"),
        ("podium.providers.google", "GoogleModel"),
        ("podium.providers.anthropic", "AnthropicModel"),
        ("podium.providers.openai_responses", "OpenAIResponsesModel"),
    ],
)
def test_provider_classes_register_their_key(forget: list[str], module: str, cls: str) -> None:
    import importlib

    explicit = f"plain-key-{cls.lower()}-1a2b3c4d"
    forget.append(explicit)
    getattr(importlib.import_module(module), cls)("some-model", api_key=explicit)
    assert explicit not in secrets.scrub(f"the text {explicit} in a body")
