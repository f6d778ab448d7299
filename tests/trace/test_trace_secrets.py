"""Secrets never reach a trace: API keys, credential shapes (Authorization headers), injected tool values.

The checks read the JSONL and the store rows, i.e. what would be shared; a replay of the scrubbed trace still
matches the run (the replay scrubs what it compares the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from podium import Agent, Injected, tool
from podium.agent.replay import replay
from podium.secrets import unregister
from podium.store.sqlite import SQLiteStore
from podium.testing import ScriptedModel
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.trace import Trace

API_KEY = "sk-proj-" + "k3y" * 12
TOKEN = "tok-injected-9f8e7d6c5b4a"
BEARER = "Authorization: Bearer abcdefghijklmnop0123456789"


@tool
def lookup(query: str, token: Annotated[str, Injected()]) -> str:
    """Look something up (the token is injected, never shown to the model)."""
    return f"{query}: found with {token}; headers were {BEARER}"


def test_no_secret_reaches_the_jsonl_or_the_store(tmp_path: Path) -> None:
    replies = [Reply.answer("", calls=[("lookup", {"query": f"key {API_KEY}"})]), Reply.answer("done")]
    try:
        with FakeProviderServer(*replies) as server, SQLiteStore(tmp_path / "c.db") as store:
            model = server.model("openai:gpt-4o", api_key=API_KEY)
            agent = Agent(model, tools=[lookup], inject={"token": TOKEN})
            trace = Trace(sinks=[store.traces.sink()])
            agent.run(f"use the key {API_KEY}", trace=trace)
            stored = "\n".join(store.traces.lines(store.traces.find("latest")))
        text = trace.to_jsonl()
        for shared in (text, stored):
            assert API_KEY not in shared
            assert TOKEN not in shared
            assert "abcdefghijklmnop0123456789" not in shared
            assert "[REDACTED:openai:api_key]" in shared and "[REDACTED:injected:token]" in shared
            assert "[REDACTED:credential]" in shared
        again = replay(Agent(ScriptedModel([]), tools=[lookup], inject={"token": TOKEN}), Trace.from_jsonl(text))
        list(again)
        assert again.result.output == "done"
    finally:
        unregister(API_KEY)


def test_a_trace_of_its_own_secrets_scrubs_them() -> None:
    trace = Trace(secrets=["my-own-secret-value"])
    Agent(ScriptedModel(["the value is my-own-secret-value"])).run("tell me", trace=trace)
    assert "my-own-secret-value" not in trace.to_jsonl()
    assert trace.end is not None and "[REDACTED:secret]" in trace.to_jsonl()


def test_a_hostile_trace_cannot_make_replay_exit_or_import() -> None:
    from podium.trace.codec import ReplayedError, decode, decode_error

    assert isinstance(decode_error({"type": "builtins:SystemExit", "message": "x"}), ReplayedError)
    assert isinstance(decode_error({"type": "builtins:KeyboardInterrupt", "message": "x"}), ReplayedError)
    assert isinstance(decode_error({"type": "os:system", "message": "x"}), ReplayedError)
    assert decode({"$": "os:system", "v": 1}) == {"v": 1}  # not a class: data
    assert decode({"$": "enum", "type": "os:system", "v": "ls"}) == "ls"
