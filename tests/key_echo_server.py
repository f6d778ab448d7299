"""A real HTTP server on localhost that answers every request with an error repeating the caller's key.

Like a careless proxy or provider: the error body holds the ``Authorization`` / ``x-api-key`` header it
received, verbatim, in the message and in a headers dump.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["key_echo_server"]


class _Handler(BaseHTTPRequestHandler):
    status = 401

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        key = self.headers.get("authorization") or self.headers.get("x-api-key") or "(none)"
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}",
                    "type": "authentication_error",
                    "headers_received": dict(self.headers.items()),
                }
            }
        ).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def key_echo_server(status: int = 401) -> Iterator[str]:
    """Serve on a free localhost port; yields the base URL (``http://127.0.0.1:PORT``)."""
    handler = type("Handler", (_Handler,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
