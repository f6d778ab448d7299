"""Record mode for users' tests: a test records its model traffic once, then replays it with no provider.

The user's test file runs in a separate pytest process with Podium's plugin, as a user runs it: first
against a real OpenAI-wire model talking HTTP to the local fake provider (record), then with nothing
listening (replay), then with a changed prompt (a clear failure naming what to do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podium import Agent, tool
from podium.exceptions import RateLimitError
from podium.providers.retry import RetryPolicy
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.recording import ModelRecording, RecordingMissing

KEY = "sk-proj-" + "R" * 40

USER_TEST = f'''
import os
from podium import Agent, tool
from podium.testing.fake_server import FakeProviderServer, Reply

@tool
def capital(country: str) -> str:
    """The capital of a country."""
    return {{"France": "Paris"}}.get(country, "?")

def test_capital(podium_recording):
    server = None
    if podium_recording.recording:
        server = FakeProviderServer(Reply.answer("", calls=[("capital", {{"country": "France"}})]),
                                    Reply.answer("The capital is Paris.")).start()
        base = server.url + "/v1"
    else:
        base = "http://127.0.0.1:9/v1"  # nothing listens there: a replay must not send anything
    try:
        model = podium_recording.model("openai:gpt-4o-mini", base_url=base, api_key="{KEY}")
        agent = Agent(model, tools=[capital])
        stream = agent.stream(os.environ.get("PROMPT", "Capital of France? My token is {KEY}"))
        text = "".join(getattr(e, "text", "") for e in stream if type(e).__name__ == "TextDelta")
        assert "Paris" in stream.result.output and "Paris" in text
    finally:
        if server is not None:
            server.stop()
'''


def pytest_run(folder: Path, *args: str, prompt: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_RECORD")}
    if prompt is not None:
        env["PROMPT"] = prompt
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "podium.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            *args,
            str(folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


def test_record_once_then_replay_without_the_provider(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")
    first = pytest_run(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    recording = tmp_path / "recordings" / "test_user" / "test_capital.jsonl"
    text = recording.read_text(encoding="utf-8")
    assert KEY not in text and "[REDACTED" in text  # the secret in the prompt never reaches the file
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["podium_recording"] == 1 and len(lines) == 3  # header + two model answers
    again = pytest_run(tmp_path, "--podium-record=none")
    assert again.returncode == 0, again.stdout + again.stderr
    assert recording.read_text(encoding="utf-8") == text  # a replay writes nothing
    changed = pytest_run(tmp_path, "--podium-record=none", prompt="Capital of Spain?")
    assert changed.returncode == 1
    assert "RecordingMissing" in changed.stdout and "--podium-record=new" in changed.stdout


def test_a_recorded_provider_error_is_replayed_as_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with FakeProviderServer(Reply.error(429, "slow down")) as server:
        recording = ModelRecording(path, "once")
        model = recording.model(
            "openai:gpt-4o", base_url=server.url + "/v1", api_key="x", retry=RetryPolicy(max_retries=0)
        )
        with pytest.raises(RateLimitError):
            Agent(model).run("hi")
        recording.save()
    replayed = ModelRecording(path, "none").model("openai:gpt-4o", base_url="http://127.0.0.1:9/v1", api_key="x")
    with pytest.raises(RateLimitError) as info:
        Agent(replayed).run("hi")
    assert info.value.status == 429


def test_identical_requests_are_answered_in_recorded_order(tmp_path: Path) -> None:
    from podium.testing import ScriptedModel

    path = tmp_path / "rec.jsonl"
    recording = ModelRecording(path, "once")
    agent = Agent(recording.model(ScriptedModel(["first", "second"])))
    assert [agent.run("same").output for _ in range(2)] == ["first", "second"]
    recording.save()
    replay = ModelRecording(path, "none")
    agent = Agent(replay.model(ScriptedModel([])))
    assert [agent.run("same").output for _ in range(2)] == ["first", "second"]
    with pytest.raises(RecordingMissing, match="not in the recording"):
        agent.run("same")  # a third identical request was never recorded


@tool
def echo(text: str) -> str:
    """Echo."""
    return text


def test_modes_new_and_all(tmp_path: Path) -> None:
    from podium.testing import ScriptedModel

    path = tmp_path / "rec.jsonl"
    recording = ModelRecording(path, "once")
    Agent(recording.model(ScriptedModel(["a"]))).run("one")
    recording.save()
    new = ModelRecording(path, "new")
    agent = Agent(new.model(ScriptedModel(["b"])))
    assert agent.run("one").output == "a"  # recorded: replayed
    assert agent.run("two").output == "b"  # not recorded: asked and added
    new.save()
    assert len(path.read_text().splitlines()) == 3
    again = ModelRecording(path, "all")
    assert Agent(again.model(ScriptedModel(["c"]))).run("one").output == "c"
    again.save()
    assert len(path.read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="record mode"):
        ModelRecording(path, "sometimes")  # type: ignore[arg-type]
