"""Replaying recorded HTTP exchanges (vcrpy YAML cassettes) on a local HTTP server.

The official vendor SDKs are pointed at :class:`ReplayServer` (``base_url=server.url``) and receive
the recorded responses byte for byte, over real HTTP. Requests are matched on method and
percent-decoded path, ignoring the query; interactions with the same path are served in recorded
order. Every received request is kept in :attr:`ReplayServer.received` so tests can compare what
Podium sent with what was recorded (:func:`normalize` applies the recorders' string normalization).

Needs PyYAML (``pip install podium[dev]``).
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import unicodedata
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Cassette", "Interaction", "ReceivedRequest", "RecordedRequest", "ReplayServer", "normalize"]

logger = logging.getLogger("podium.testing.cassette")

_DROP_HEADERS = frozenset({"transfer-encoding", "connection", "content-encoding", "content-length", "date", "server"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as recorded."""

    method: str
    """HTTP method."""
    uri: str
    """Full recorded URI."""
    path: str
    """Percent-decoded path without the query."""
    headers: dict[str, list[str]]
    """Recorded headers (values as text)."""
    body: Any
    """Parsed JSON body when it was JSON, else the text (or ``None``)."""


@dataclass(frozen=True, slots=True)
class Interaction:
    """One recorded request and its response."""

    request: RecordedRequest
    """What was sent."""
    status: int
    """Response status code."""
    headers: dict[str, str]
    """Response headers to send back."""
    body: bytes
    """Response body bytes (decompressed)."""

    @property
    def json(self) -> Any:
        """The response body parsed as JSON (raises if it is not JSON)."""
        return json.loads(self.body)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _path_of(uri: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(uri).path)


def _body_of(raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        raw = raw.get("string", "")
    text = _text(raw)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(slots=True)
class Cassette:
    """A loaded cassette."""

    path: Path
    """Where it was loaded from."""
    interactions: list[Interaction] = field(default_factory=list)
    """The exchanges, in recorded order."""

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a vcrpy YAML cassette (``parsed_body`` and ``!!binary`` bodies understood)."""
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        p = Path(path)
        with p.open("rb") as fh:
            doc = yaml.load(fh, Loader=loader)
        interactions = []
        for item in doc["interactions"]:
            req, resp = item["request"], item["response"]
            body = req["parsed_body"] if "parsed_body" in req else _body_of(req.get("body"))
            request = RecordedRequest(
                method=str(req["method"]).upper(),
                uri=str(req["uri"]),
                path=_path_of(str(req["uri"])),
                headers={str(k).lower(): [_text(v) for v in vs] for k, vs in (req.get("headers") or {}).items()},
                body=body,
            )
            headers: dict[str, str] = {}
            gzipped = False
            for name, values in (resp.get("headers") or {}).items():
                lname = str(name).lower()
                value = _text(values[0]) if isinstance(values, list) and values else _text(values)
                if lname == "content-encoding" and "gzip" in value:
                    gzipped = True
                if lname in _DROP_HEADERS or value.endswith("-XXX"):
                    continue
                headers[lname] = value
            if "parsed_body" in resp:
                data = json.dumps(resp["parsed_body"]).encode()
            else:
                raw = (resp.get("body") or {}).get("string", b"")
                data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
                if gzipped or data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
            interactions.append(Interaction(request, int(resp["status"]["code"]), headers, data))
        return cls(p, interactions)

    def for_host(self, host_part: str) -> list[Interaction]:
        """Interactions whose recorded URI contains ``host_part`` (to skip side downloads)."""
        return [i for i in self.interactions if host_part in i.request.uri]


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request the replay server received."""

    method: str
    """HTTP method."""
    path: str
    """Percent-decoded path."""
    query: str
    """Raw query string."""
    headers: dict[str, str]
    """Headers (lower-case names)."""
    body: bytes
    """Raw body."""
    matched: Interaction | None
    """The interaction served, or ``None`` when nothing matched."""

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class ReplayServer:
    """A local HTTP server that serves a cassette's responses in order.

    Use as a context manager::

        with ReplayServer(Cassette.load(path)) as server:
            client = OpenAI(base_url=server.url + "/v1", api_key="x")
    """

    def __init__(
        self,
        cassette: Cassette | str | Path,
        *,
        host_filter: str | None = None,
        extra_headers: Mapping[int, Mapping[str, str]] | None = None,
        path_rewrite: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare to serve ``cassette``.

        Args:
            cassette: The cassette or its path.
            host_filter: Only serve interactions whose URI contains this (skips side downloads).
            extra_headers: Headers to add to the response of interaction ``n`` (0-based).
            path_rewrite: Prefix replacements applied to recorded paths before matching.
        """
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        items = self.cassette.interactions
        if host_filter:
            items = [i for i in items if host_filter in i.request.uri]
        self.interactions = items
        self._extra = {k: dict(v) for k, v in (extra_headers or {}).items()}
        self._rewrite = dict(path_rewrite or {})
        self._served: set[int] = set()
        self._lock = threading.Lock()
        self.received: list[ReceivedRequest] = []
        """Requests received, in order."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _recorded_path(self, interaction: Interaction) -> str:
        path = interaction.request.path
        for old, new in self._rewrite.items():
            if path.startswith(old):
                path = new + path[len(old) :]
        return path

    def match(self, method: str, path: str) -> tuple[int, Interaction] | None:
        """The first unserved interaction for ``method`` and ``path`` (marks it served)."""
        with self._lock:
            for index, interaction in enumerate(self.interactions):
                if index in self._served:
                    continue
                if interaction.request.method == method and self._recorded_path(interaction) == path:
                    self._served.add(index)
                    return index, interaction
        return None

    @property
    def url(self) -> str:
        """Base URL, such as ``http://127.0.0.1:54321``."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{_text(host)}:{port}"

    @property
    def unplayed(self) -> list[Interaction]:
        """Interactions not served yet."""
        return [i for n, i in enumerate(self.interactions) if n not in self._served]

    def start(self) -> ReplayServer:
        """Start serving on a free loopback port."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="podium-replay", daemon=True
        )  # a short poll interval: stop() returns in ~50 ms instead of 500 ms
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_json(self) -> Iterator[Any]:
        """Bodies of the received requests, parsed as JSON."""
        for request in self.received:
            yield request.json


def _make_handler(replay: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("replay: %s", format % args)

        def _handle(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            found = replay.match(self.command, path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            replay.received.append(
                ReceivedRequest(self.command, path, split.query, headers, body, found[1] if found else None)
            )
            if found is None:
                payload = json.dumps({"error": f"no recorded interaction left for {self.command} {path}"}).encode()
                self.send_response(599)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            index, interaction = found
            self.send_response(interaction.status)
            for name, value in {**interaction.headers, **replay._extra.get(index, {})}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(interaction.body)))
            self.end_headers()
            self.wfile.write(interaction.body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    return Handler


_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2014": "--",
    "\u2026": "...",
}


def normalize(value: Any) -> Any:
    """Apply the string normalization the pydantic-ai recorder used (smart quotes, dashes, NFKC).

    Compare ``normalize(sent) == normalize(recorded)`` to check a request against a cassette.
    """
    if isinstance(value, str):
        for old, new in _REPLACEMENTS.items():
            value = value.replace(old, new)
        return unicodedata.normalize("NFKC", value)
    if isinstance(value, Mapping):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value
