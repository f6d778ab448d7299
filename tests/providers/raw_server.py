"""A loopback HTTP server that sends exactly the bytes a test scripts, whatever the path (synthetic exchanges).

The fake provider server renders answers from text; this one is for the shapes it does not make, such as
an SSE ``event: error`` inside a 200 stream. ``model`` is the fake server's: the real provider class,
pointed here.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from podium.testing.fake_server import FakeProviderServer


@dataclass(frozen=True)
class Raw:
    """One scripted answer."""

    status: int
    content_type: str
    body: bytes


def sse(*events: tuple[str | None, str]) -> bytes:
    """An SSE body of ``(event name or None, data)`` pairs."""
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {data}\n\n")
    return "".join(out).encode()


class RawServer:
    """Serves scripted :class:`Raw` answers in order, for any path; records the paths asked for."""

    model = FakeProviderServer.model

    def __init__(self, *answers: Raw) -> None:
        self._answers = deque(answers)
        self.paths: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def __enter__(self) -> RawServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                owner.paths.append(self.path)
                answer = owner._answers.popleft() if owner._answers else Raw(599, "text/plain", b"script used up")
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
