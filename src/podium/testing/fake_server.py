"""A fake model provider on localhost: scripted answers in each vendor's wire format, and network faults.

It answers whichever API a request is for (OpenAI Chat Completions and Responses, Anthropic, Gemini and
Vertex, Bedrock Converse, Cohere, Ollama; Groq, Mistral and the OpenAI-compatible servers speak Chat
Completions), streamed or not as the request asks, so one script runs against every provider::

    from podium.testing.fake_server import FakeProviderServer, Reply

    with FakeProviderServer() as server:
        server.script(Reply.truncated(), Reply.answer("Hello"))   # served in order, one per request
        model = server.model("anthropic:claude-sonnet-4-5")        # the real provider class, pointed here
        print(model.request([Message.user("Hi")]).text)

Faults (see :class:`Reply`): a stream cut before its end marker or in the middle of a JSON event, a 200
with ``text/html`` (a captive portal), a hang before the headers or in the middle of a stream, a slow
drip, a connection reset, and error statuses (429, 5xx) with ``retry-after``. Requests are recorded in
:attr:`FakeProviderServer.requests`. A hang ends when the server stops.

Use it in tests, or to see how an application copes with a flaky provider.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeAlias

from podium.testing.fake_wire import Call, Rendered, Vendor, error_body, render, vendor_of

__all__ = ["FakeProviderServer", "FakeRequest", "Fault", "Reply"]

logger = logging.getLogger("podium.testing.fake_server")

Fault: TypeAlias = Literal["truncate", "cut_json", "html", "hang", "stall", "drip", "reset", "error"]
"""What a :class:`Reply` does wrong (``None``: nothing)."""

HTML = b"<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body>Captive portal</body></html>"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: content, and optionally a fault. Build them with the class methods."""

    text: str = "Hello from the fake server."
    """The answer's text."""
    calls: tuple[Call, ...] = ()
    """Tool calls: ``(name, arguments)`` pairs."""
    fault: Fault | None = None
    """What goes wrong, if anything."""
    status: int = 200
    """HTTP status (for ``error`` and ``html``)."""
    after: int = 1
    """Stream pieces sent before a ``stall``, ``reset`` or ``cut_json``."""
    delay: float = 0.0
    """Seconds between pieces (``drip``), or how long a ``hang``/``stall`` lasts (0: until the server stops)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers."""

    @classmethod
    def answer(cls, text: str = "Hello from the fake server.", calls: Sequence[Call] = ()) -> Reply:
        """A correct answer: ``text`` and tool ``calls``."""
        return cls(text, tuple(calls))

    @classmethod
    def truncated(cls, text: str = "Hello from the fake server.") -> Reply:
        """A stream that ends cleanly but without its end marker (``[DONE]``, ``message_stop`` ...).

        A non-streamed answer is cut in half instead (a JSON body that does not parse).
        """
        return cls(text, fault="truncate")

    @classmethod
    def cut_mid_json(cls, after: int = 2, text: str = "Hello from the fake server.") -> Reply:
        """A stream that ends in the middle of the JSON of its piece number ``after`` (0-based)."""
        return cls(text, fault="cut_json", after=after)

    @classmethod
    def html(cls, status: int = 200) -> Reply:
        """An HTML page (``text/html``) instead of the API's answer, as a captive portal or proxy sends."""
        return cls(fault="html", status=status)

    @classmethod
    def hang(cls, seconds: float = 0.0) -> Reply:
        """Accept the request and send nothing, not even headers (for ``seconds``; 0: until the server stops)."""
        return cls(fault="hang", delay=seconds)

    @classmethod
    def stall(cls, after: int = 2, seconds: float = 0.0, text: str = "Hello from the fake server.") -> Reply:
        """Send the headers and ``after`` stream pieces, then nothing (for ``seconds``; 0: until stopped)."""
        return cls(text, fault="stall", after=after, delay=seconds)

    @classmethod
    def drip(cls, delay: float, text: str = "Hello from the fake server.") -> Reply:
        """A correct answer sent slowly: ``delay`` seconds before each stream piece (or each 16 body bytes)."""
        return cls(text, fault="drip", delay=delay)

    @classmethod
    def reset(cls, after: int = 2, text: str = "Hello from the fake server.") -> Reply:
        """Send the headers and ``after`` stream pieces, then reset the connection (TCP RST).

        With ``after`` past the last piece, the whole stream (end marker included) is sent before the reset.
        """
        return cls(text, fault="reset", after=after)

    @classmethod
    def error(cls, status: int, message: str = "", retry_after: float | None = None) -> Reply:
        """An error status with the vendor's error body (and ``retry-after`` when given)."""
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        return cls(message or f"fake error {status}", fault="error", status=status, headers=headers)


@dataclass(frozen=True)
class FakeRequest:
    """A request the server received."""

    method: str
    """HTTP method."""
    path: str
    """Path, percent-decoded, without the query."""
    headers: Mapping[str, str]
    """Headers, names lower-cased."""
    body: bytes
    """Raw body."""
    vendor: Vendor | None
    """The API the path belongs to."""
    stream: bool
    """Whether a stream was asked for."""

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class FakeProviderServer:
    """A threaded HTTP server on a free loopback port that plays a script of :class:`Reply` objects."""

    def __init__(self, *replies: Reply, default: Reply | None = None, host: str = "127.0.0.1") -> None:
        """Prepare the server (start it with ``with`` or :meth:`start`).

        Args:
            *replies: Replies served in order, one per request.
            default: Served once the script is used up (``None``: a 400 error saying so).
            host: Address to listen on.
        """
        self._script: deque[Reply] = deque(replies)
        self.default = default
        self.host = host
        self.requests: list[FakeRequest] = []
        """Every request received, in order."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()

    # -- control

    def script(self, *replies: Reply) -> FakeProviderServer:
        """Add ``replies`` to the end of the script."""
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def url(self) -> str:
        """Base URL, such as ``http://127.0.0.1:54321``."""
        assert self._server is not None, "the server is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def start(self) -> FakeProviderServer:
        """Start serving in a background thread."""
        server = ThreadingHTTPServer((self.host, 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="podium-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests that hang are released and their connections closed."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close_quietly(sock)

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def model(self, spec: str, **options: Any) -> Any:
        """The real Podium model for ``spec`` (``"anthropic:claude-x"``), pointed at this server.

        Base URL, a dummy key and what else the provider needs to reach a local server (a region for
        Bedrock, a project and a token for Vertex) are filled in; ``options`` override them.
        """
        from podium.providers.registry import model as resolve

        provider = spec.partition(":")[0]
        defaults: dict[str, Any] = {"base_url": self.url, "api_key": "fake-key"}
        if provider in ("openai", "openai-responses", *_OPENAI_PRESETS):
            defaults["base_url"] = self.url + "/v1"
        elif provider == "bedrock":  # AWS keys: a Bedrock API key (bearer) needs HTTPS
            del defaults["api_key"]
            defaults.update(region="us-east-1", aws_access_key_id="fake", aws_secret_access_key="fake")
        elif provider == "google-vertex":
            from google.oauth2.credentials import Credentials

            del defaults["api_key"]
            token = Credentials(token="fake")  # type: ignore[no-untyped-call]
            defaults.update(project="fake-project", location="us-central1", credentials=token)
        return resolve(spec, **{**defaults, **options})

    # -- serving

    def _next(self) -> Reply | None:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._sockets.add if add else self._sockets.discard)(sock)

    def _wait(self, seconds: float) -> None:
        """Hang: until ``seconds`` pass (0: until the server stops)."""
        self._stopping.wait(seconds if seconds > 0 else None)


_OPENAI_PRESETS = ("openrouter", "deepseek", "vllm", "llamacpp", "together", "xai", "openai-compatible")


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _wants_stream(vendor: Vendor | None, path: str, body: Any) -> bool:
    if vendor == "google":
        return path.endswith(":streamGenerateContent")
    if vendor == "bedrock":
        return path.endswith("/converse-stream")
    stream = body.get("stream") if isinstance(body, dict) else None
    if vendor in ("ollama", "ollama-generate"):
        return stream is not False
    return bool(stream)


def _model_of(vendor: Vendor | None, path: str, body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    if vendor == "google":
        return path.rsplit("/", 1)[-1].split(":", 1)[0]
    if vendor == "bedrock":
        return urllib.parse.unquote(path.split("/model/", 1)[-1].rsplit("/", 1)[0])
    return "fake-model"


def _handler(server: FakeProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("fake provider: %s", format % args)

        def _handle(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            vendor = vendor_of(path)
            stream = _wants_stream(vendor, path, body)
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.requests.append(FakeRequest(self.command, path, headers, raw, vendor, stream))
            reply = server._next()
            server._track(self.connection, True)
            try:
                self._reply(reply, vendor, stream, _model_of(vendor, path, body))
            except OSError:  # the client went away (a timeout on its side): nothing to do
                self.close_connection = True
            finally:
                server._track(self.connection, False)

        def _reply(self, reply: Reply | None, vendor: Vendor | None, stream: bool, model: str) -> None:
            if reply is None:
                data, extra = error_body(vendor, 400, "the fake server has no scripted reply left")
                return self._send(400, "application/json", data, extra)
            if reply.fault == "hang":
                self.close_connection = True
                return server._wait(reply.delay)
            if reply.fault == "error":
                data, extra = error_body(vendor, reply.status, reply.text)
                return self._send(reply.status, "application/json", data, {**extra, **reply.headers})
            if reply.fault == "html":
                return self._send(reply.status, "text/html; charset=utf-8", HTML, dict(reply.headers))
            if vendor is None:
                data, extra = error_body(None, 404, f"the fake server does not know the API of {self.path}")
                return self._send(404, "application/json", data, extra)
            rendered = render(vendor, reply.text, reply.calls, stream=stream, model=model)
            if stream:
                return self._stream(reply, rendered)
            body = rendered.body
            if reply.fault in ("truncate", "cut_json"):
                body = body[: len(body) // 2]
            if reply.fault in ("stall", "reset"):
                return self._broken_body(reply, rendered)
            self._send(200, rendered.content_type, body, dict(reply.headers), drip=reply.delay)

        def _send(
            self, status: int, content_type: str, body: bytes, headers: Mapping[str, str], drip: float = 0.0
        ) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if drip <= 0:
                self.wfile.write(body)
                return
            for start in range(0, len(body), 16):
                time.sleep(drip)
                self.wfile.write(body[start : start + 16])
                self.wfile.flush()

        def _broken_body(self, reply: Reply, rendered: Rendered) -> None:
            """A whole answer whose body stops half way: then a hang (``stall``) or a reset."""
            body = rendered.body
            self.send_response(200)
            self.send_header("content-type", rendered.content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._break(reply)

        def _break(self, reply: Reply) -> None:
            self.close_connection = True
            if reply.fault == "stall":
                server._wait(reply.delay)
                return
            time.sleep(0.05)  # let the client read what was sent (a reset discards unread data on its side)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        def _stream(self, reply: Reply, rendered: Rendered) -> None:
            pieces = rendered.pieces
            fault = reply.fault
            if fault == "truncate":
                pieces = pieces[: len(pieces) - rendered.terminal]
            elif fault == "cut_json":
                at = min(reply.after, len(pieces) - 1)
                pieces = [*pieces[:at], _cut(pieces[at])]
            self.send_response(200)
            self.send_header("content-type", rendered.content_type)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("cache-control", "no-cache")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()
            for index, piece in enumerate(pieces):
                if fault in ("stall", "reset") and index == reply.after:
                    return self._break(reply)
                if fault == "drip":
                    time.sleep(reply.delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            if fault in ("stall", "reset"):  # ``after`` past the last piece: the API's stream is whole, HTTP's is not
                return self._break(reply)
            self.wfile.write(b"0\r\n\r\n")  # the HTTP body ends properly; only the API's end marker is missing
            self.wfile.flush()

        do_GET = do_POST = do_DELETE = do_PUT = _handle

    return Handler


def _cut(piece: bytes) -> bytes:
    """``piece`` cut in the middle of its JSON (for AWS frames, in the middle of the frame)."""
    brace = piece.find(b"{")
    if brace < 0:
        return piece[: len(piece) // 2]
    return piece[: brace + max(2, (len(piece) - brace) // 2)]
