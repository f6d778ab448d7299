"""Helpers shared by the Mistral, Ollama and Cohere provider tests: cassettes, synthetic exchanges, servers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer, normalize

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def cassette(provider: str, name: str) -> Cassette:
    """A recorded cassette by provider folder and file name."""
    return Cassette.load(CASSETTES / provider / name)


def recorded_bodies(c: Cassette) -> list[Any]:
    """The recorded request bodies, in order."""
    return [i.request.body for i in c.interactions]


def synthetic(path: str, responses: Sequence[tuple[int, dict[str, str], bytes | str | dict[str, Any]]]) -> Cassette:
    """A cassette made here (not recorded): ``responses`` served in order for ``POST path``."""
    interactions = []
    for status, headers, body in responses:
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            headers = {"content-type": "application/json", **headers}
        else:
            data = body.encode() if isinstance(body, str) else body
        request = RecordedRequest("POST", f"http://127.0.0.1{path}", path, {}, None)
        interactions.append(Interaction(request, status, headers, data))
    return Cassette(Path("synthetic"), interactions)


def assert_same_body(sent: Any, recorded: Any) -> None:
    """``sent`` equals ``recorded`` as parsed JSON, after the recorder's string normalization."""
    left, right = normalize(sent), normalize(recorded)
    assert left == right, _diff(left, right)


def _diff(left: Any, right: Any, path: str = "$") -> str:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left:
                return f"{path}.{key}: missing in sent, recorded {right[key]!r:.300}"
            if key not in right:
                return f"{path}.{key}: extra in sent: {left[key]!r:.300}"
            if left[key] != right[key]:
                return _diff(left[key], right[key], f"{path}.{key}")
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return f"{path}: {len(left)} items sent, {len(right)} recorded"
        for n, (a, b) in enumerate(zip(left, right, strict=False)):
            if a != b:
                return _diff(a, b, f"{path}[{n}]")
    return f"{path}: sent {left!r:.300} != recorded {right!r:.300}"


def sse(events: Sequence[dict[str, Any]], *, event_names: bool = False, done: bool = True) -> bytes:
    """An SSE body of ``events`` (``data:`` lines, optionally with ``event:`` lines from their ``type``)."""
    lines = []
    for event in events:
        if event_names:
            lines.append(f"event: {event['type']}")
        lines.append(f"data: {json.dumps(event)}\n")
    if done:
        lines.append("data: [DONE]\n")
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (for timeout tests)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conns.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(1)
        for conn in conns:
            conn.close()
        listener.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (for connection-error tests)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def imported_after_import_podium(module: str) -> bool:
    """Whether ``import podium`` (and touching a few names) imports ``module``, in a fresh interpreter."""
    code = f"import sys, podium\npodium.Message; podium.ModelSettings; podium.model\nprint({module!r} in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


__all__ = [
    "CASSETTES",
    "ReplayServer",
    "assert_same_body",
    "cassette",
    "closed_port_url",
    "imported_after_import_podium",
    "recorded_bodies",
    "silent_server",
    "sse",
    "synthetic",
]
