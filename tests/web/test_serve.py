"""The ``podium serve`` command: what it prints, its errors, how it stops."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.cli.conftest import podium
from tests.web.conftest import Served, start_server, stop_server


def test_a_bad_model_or_a_busy_port_is_one_clear_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = podium(["serve", "--port", "0", "-m", "nosuch:model"], cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "nosuch" in result.stderr
    assert "Traceback" not in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = podium(["serve", "--port", str(port), "-m", "test:echo"], cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_url_is_printed_and_the_server_stops_cleanly_with_open_streams(tmp_path: Path) -> None:
    served: Served = start_server(tmp_path)
    assert served.base.startswith("http://127.0.0.1:")
    assert len(served.token) >= 40
    cid = served.conversation()
    client = served.client()
    stream = client.stream("GET", f"/api/conversations/{cid}/events")
    response = stream.__enter__()
    lines = response.iter_lines()
    assert next(lines) == ": connected"
    started = time.monotonic()
    stop_server(served)
    assert time.monotonic() - started < 5  # an open event stream does not hold the server up
    assert served.process.returncode == 143  # terminated by SIGTERM, as every podium command
    rest = list(lines)
    assert any('"server_stopping"' in line for line in rest)
    stream.__exit__(None, None, None)
    client.close()
    assert "Traceback" not in (served.process.stderr.read() if served.process.stderr else "")


def test_a_turn_running_when_the_server_stops_is_recorded_as_cancelled(tmp_path: Path) -> None:
    served = start_server(tmp_path, model="test:slow")
    cid = served.conversation()
    with served.client() as c:
        c.post(f"/api/conversations/{cid}/messages", json={"text": " ".join(["word"] * 100)})
        time.sleep(1)
    stop_server(served)
    again = start_server(tmp_path, model="test:echo")
    try:
        doc = again.wait_idle(cid)
        assert doc["messages"][0]["parts"][0]["text"].startswith("word")
        with again.client() as c:  # the conversation goes on
            assert c.post(f"/api/conversations/{cid}/messages", json={"text": "next"}).status_code == 202
        assert "next" in again.wait_idle(cid)["messages"][-1]["parts"][0]["text"]
    finally:
        stop_server(again)
