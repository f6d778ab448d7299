"""Recording real HTTP exchanges into a cassette that :class:`~podium.testing.cassette.ReplayServer` replays.

:class:`RecordingProxy` is a local HTTP server that forwards every request to the real service and
writes each exchange to a vcrpy-style YAML cassette, the format of ``tests/cassettes/``. Point any SDK at
it with ``base_url`` -- it does not patch an HTTP library, so it works the same whatever client the SDK
uses. Credentials never reach the file: request headers that carry them are dropped, and every known secret
(:mod:`podium.secrets`) is scrubbed from what is written. Responses are forwarded whole once they are
read (a streamed answer arrives at the client in one piece; the recorded bytes are the same)::

    with RecordingProxy("https://api.openai.com", "tests/cassettes/openai_chat/my_case.yaml") as proxy:
        model = podium.model("openai:gpt-4o-mini", base_url=proxy.url + "/v1")
        model.request([Message.user("Say hi")])

Needs PyYAML (``pip install podium[dev]``). Recording reaches the network: run it as a script, not in
the test suite (whose plugin blocks non-loopback connections).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from podium.secrets import scrub

__all__ = ["SECRET_HEADERS", "RecordingProxy"]

logger = logging.getLogger("podium.testing.recorder")

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "x-amz-security-token", "proxy-authorization"}
)
"""Request headers that are forwarded but never written to the cassette."""

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
)


class RecordingProxy:
    """Forwards requests to ``upstream`` and records each exchange into ``cassette`` when it stops.

    Args:
        upstream: The real service's origin, such as ``"https://api.openai.com"`` (a path is kept as a prefix).
        cassette: The YAML file to write (its folder is created).
        host: Local address to listen on.
        timeout: Seconds to wait for the real service.
    """

    def __init__(self, upstream: str, cassette: str | Path, *, host: str = "127.0.0.1", timeout: float = 300) -> None:
        self.upstream = upstream.rstrip("/")
        self.cassette = Path(cassette)
        self.timeout = timeout
        self.interactions: list[dict[str, Any]] = []
        """The exchanges recorded so far, as they will be written."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to point the client (``http://127.0.0.1:<port>``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RecordingProxy:
        """Start serving in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="podium-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and write the cassette."""
        self._server.shutdown()
        self._server.server_close()
        self.save()

    def save(self) -> Path:
        """Write the cassette now (also done by :meth:`stop`)."""
        import yaml

        self.cassette.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            interactions = list(self.interactions)
        doc = {"interactions": interactions, "version": 1}
        self.cassette.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        logger.info("recorded %d exchange(s) into %s", len(interactions), self.cassette)
        return self.cassette

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str], bytes]:
        """Send one request upstream; record it; return status, reason, headers and body for the client."""
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        sent["accept-encoding"] = "identity"  # recorded bodies stay readable
        request = urllib.request.Request(self.upstream + path, data=body or None, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, reason, data = response.status, response.reason, response.read()
                answer = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            status, reason, data = error.code, str(error.reason), error.read()
            answer = {k.lower(): v for k, v in error.headers.items()}
        self._record(method, path, headers, body, status, reason, answer, data)
        return status, reason, {k: v for k, v in answer.items() if k not in _HOP_BY_HOP}, data

    def _record(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
        reason: str,
        answer: dict[str, str],
        data: bytes,
    ) -> None:
        kept = {k.lower(): [scrub(v)] for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
        item = {
            "request": {
                "method": method,
                "uri": scrub(self.upstream + path),
                "headers": kept,
                "body": {"string": _text(body)},
            },
            "response": {
                "status": {"code": status, "message": reason},
                "headers": {k: [scrub(v)] for k, v in answer.items() if k != "set-cookie"},
                "body": {"string": _text(data)},
            },
        }
        with self._lock:
            self.interactions.append(item)


def _text(data: bytes) -> str | bytes:
    """Text bodies as scrubbed text; anything that is not UTF-8 as bytes (YAML ``!!binary``)."""
    try:
        return scrub(data.decode("utf-8"))
    except UnicodeDecodeError:
        return data


def _handler(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("recorder: %s", format % args)

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, reason, headers, data = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
            except (OSError, urllib.error.URLError) as exc:
                logger.error("recorder: %s %s failed upstream: %s", self.command, self.path, exc)
                self.send_error(502, f"upstream failed: {exc}")
                return
            self.send_response(status, reason)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    return Handler
