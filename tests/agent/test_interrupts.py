"""Ctrl-C interrupts a model request that hangs, and the run ends with a valid history.

Checked for real: a child process runs against a fake provider server that never answers (or stalls in the
middle of a stream), and gets SIGINT. ``agent.run`` / ``agent.stream`` raise ``RunInterrupted`` (a
``RunCancelled`` and a ``KeyboardInterrupt``) at once, with ``.messages`` valid; ``podium run`` exits 130
and its stored conversation is valid. Before, the sync request blocked in the socket read: the CLI's
first Ctrl-C only set a flag, and a plain script got a bare ``KeyboardInterrupt`` with no history.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podium.testing.fake_server import FakeProviderServer, Reply

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import podium
    from podium import Agent, tool
    from podium.exceptions import RunCancelled

    @tool
    def nap(seconds: float) -> str:
        '''Sleep.'''
        open(sys.argv[3], "w").close()  # tell the test the tool is running
        time.sleep(seconds)
        return "rested"

    url, mode = sys.argv[1], sys.argv[2]
    agent = Agent(podium.model("openai:gpt-4o", base_url=url + "/v1", api_key="k"), tools=[nap])
    try:
        if mode == "run":
            agent.run("hello")
        else:
            for _ in agent.stream("hello"):
                pass
        print(json.dumps({"error": None}))
    except RunCancelled as exc:
        print(json.dumps({
            "error": type(exc).__name__,
            "keyboard": isinstance(exc, KeyboardInterrupt),
            "messages": podium.dump_messages(exc.messages),
        }))
    """
)


def interrupt(
    args: list[str], ready: Callable[[], bool], env: dict[str, str] | None = None
) -> tuple[int, str, str, float]:
    """Start ``args``, wait until ``ready()``, send SIGINT; (exit code, stdout, stderr, seconds it took to stop)."""
    child = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # SIGINT at its default in the child even when this test run inherited it ignored (a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the child is now blocked: waiting for the answer, or in the tool
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=15)
        return child.returncode, out, err, time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def child_run(server: FakeProviderServer, mode: str, marker: Path | None = None) -> dict[str, object]:
    """Run the child in ``mode``; SIGINT once its request hangs (or, with ``marker``, once its tool runs)."""
    ready = marker.exists if marker is not None else (lambda: bool(server.requests))
    args = [sys.executable, "-c", CHILD, server.url, mode, str(marker or "")]
    code, out, err, seconds = interrupt(args, ready)
    assert code == 0, err
    assert seconds < 5, f"the interrupt took {seconds:.1f} s"
    result: dict[str, object] = json.loads(out)
    return result


def roles_and_texts(result: dict[str, object]) -> list[tuple[str, str]]:
    from podium.messages import load_messages

    return [(m.role, m.text) for m in load_messages(str(result["messages"]))]


def test_ctrl_c_interrupts_a_request_that_never_answers() -> None:
    with FakeProviderServer(Reply.hang()) as server:
        result = child_run(server, "run")
    assert result["error"] == "RunInterrupted" and result["keyboard"] is True
    assert roles_and_texts(result) == [("user", "hello")]


def test_ctrl_c_interrupts_a_stalled_stream_and_keeps_the_text_seen() -> None:
    with FakeProviderServer(Reply.stall(after=3, text="Hello from the fake server.")) as server:
        result = child_run(server, "stream")
    assert result["error"] == "RunInterrupted"
    roles = roles_and_texts(result)
    assert roles[0] == ("user", "hello")
    assert roles[1][0] == "assistant" and "Hello from the fake server.".startswith(roles[1][1]) and roles[1][1]


def test_ctrl_c_during_a_tool_marks_it_interrupted(tmp_path: Path) -> None:
    with FakeProviderServer(Reply.answer("", calls=[("nap", {"seconds": 30})])) as server:
        result = child_run(server, "run", tmp_path / "napping")
    assert result["error"] == "RunInterrupted"
    from podium.messages import load_messages

    messages = load_messages(str(result["messages"]))
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[2].tool_results[0].interrupted
    assert messages[2].tool_results[0].call_id == messages[1].tool_calls[0].id


@pytest.mark.parametrize("reply", [Reply.hang(), Reply.stall(after=3)], ids=["hang", "stall"])
def test_podium_run_stops_at_the_first_ctrl_c(reply: Reply, tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    with FakeProviderServer(reply) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "k",
            "PODIUM_CONFIG": str(tmp_path / "config.toml"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        args = [sys.executable, "-m", "podium.cli", "run", "--model", "openai:gpt-4o", "--db", str(db), "hello"]
        code, out, err, seconds = interrupt(args, lambda: bool(server.requests), env)
    assert code == 130, err
    assert seconds < 5, f"the interrupt took {seconds:.1f} s"
    assert "cancelled" in err
    from podium.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    latest = store.latest(with_messages=True)
    assert latest is not None
    stored = store.messages(latest.id)
    assert stored[0].role == "user" and stored[0].text == "hello"
    if reply.fault == "stall":  # what had streamed is kept as the (cut) assistant turn
        assert [m.role for m in stored] == ["user", "assistant"] and stored[1].text == out.strip()
    else:
        assert [m.role for m in stored] == ["user"]
