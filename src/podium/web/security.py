"""The guard in front of every request: Host, Origin, token; and the headers on every response.

Every HTTP request and every WebSocket handshake goes through :class:`Guard` before the app sees it, on any
interface the server listens on (loopback included), in this order:

1. **Host** must be one the server was started for (``127.0.0.1:8765``, ``localhost:8765`` ...). A page on
   another site that points its own name at 127.0.0.1 (DNS rebinding) sends its own name: refused (421).
2. **Origin**, when the browser sends one, must be this server's own origin; ``Sec-Fetch-Site``, when sent,
   must be ``same-origin`` or ``none`` (the user opened the URL). A page on any other site is refused (403)
   even before it could try a token. WebSocket handshakes always carry an Origin; one without it is refused.
3. **Token**: the ``podium_token`` cookie, or ``Authorization: Bearer <token>`` for scripts. The URL the
   server prints carries ``?token=...``: opening it sets the cookie (``HttpOnly; SameSite=Strict``) and
   redirects to the same path without the token, so it does not stay in the history or the address bar.
   Anything else is refused (401).

Responses carry a Content-Security-Policy that allows scripts only from the server itself (no inline
script, no ``eval``), no framing, no plugins; ``X-Content-Type-Options: nosniff``; no referrer.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE", "CSP", "Guard", "allowed_hosts"]

logger = logging.getLogger("podium.web")

COOKIE = "podium_token"
"""Name of the cookie that carries the token."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'; frame-src 'self'"
)
"""The Content-Security-Policy of every response."""

_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` header values the server answers: the address it listens on and, on loopback, its names.

    Args:
        host: The address given to ``--host`` (``127.0.0.1``, ``::1``, ``0.0.0.0``, a name ...).
        port: The port listened on.
        extra: More host names (``--allow-host``), e.g. the machine's name when listening on all interfaces.
    """
    names = {f"[{host}]" if ":" in host and not host.startswith("[") else host, *extra}
    if names & {"127.0.0.1", "localhost", "[::1]", "0.0.0.0", "[::]"}:
        names.update(_LOOPBACK)
    names -= {"0.0.0.0", "[::]"}
    return frozenset(f"{name.lower()}:{port}" for name in names) | (
        frozenset(name.lower() for name in names) if port == 80 else frozenset()
    )


class Guard:
    """ASGI middleware: the checks described in the module docstring, then the app (with security headers).

    Args:
        app: The application to protect.
        token: The secret every request must carry.
        hosts: Accepted ``Host`` values (:func:`allowed_hosts`).
    """

    def __init__(self, app: ASGIApp, *, token: str, hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, set the cookie from the token in the URL, or pass it on with the headers added."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, why = refusal
            logger.warning("refused %s %s: %s", scope.get("method", "WS"), scope.get("path"), why)
            await _refuse(scope, receive, send, status, why)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["type"] == "http" and "token" in query and scope.get("method") == "GET":
            await _redirect_with_cookie(scope, send, query, self.token)
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else ``None``."""
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return 421, f"the Host {host!r} is not this server's; open the URL podium serve printed"
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}":
            return 403, f"requests from the origin {origin!r} are refused; only pages of this server may call it"
        if scope["type"] == "websocket" and origin is None:
            return 403, "a WebSocket connection without an Origin header is refused"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return 403, f"a {site} request is refused; only pages of this server may call it"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if not self._has_token(headers, query.get("token")):
            return 401, "the token is missing or wrong: open the URL (with ?token=...) that podium serve printed"
        return None

    def _has_token(self, headers: dict[str, str], query_token: str | None) -> bool:
        candidates: list[str] = []
        cookie = headers.get("cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:  # a malformed cookie header is no token
                jar = SimpleCookie()
            if COOKIE in jar:
                candidates.append(jar[COOKIE].value)
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        if query_token is not None:
            candidates.append(query_token)
        expected = self.token.encode()
        return any(hmac.compare_digest(c.encode("utf-8", "replace"), expected) for c in candidates)


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in _HEADERS if k not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, why: str) -> None:
    if scope["type"] == "websocket":
        # reject the handshake with an HTTP response (the WebSocket Denial Response extension), else close
        if "websocket.http.response" in scope.get("extensions", {}):
            await _send_json(send, status, {"error": why}, prefix="websocket.")
        else:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4000 + status, "reason": why[:120]})
        return
    await _send_json(send, status, {"error": why}, prefix="")


async def _send_json(send: Send, status: int, body: dict[str, Any], *, prefix: str) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *_HEADERS]
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": data})


async def _redirect_with_cookie(scope: Scope, send: Send, query: dict[str, str], token: str) -> None:
    """Set the token cookie and redirect to the same path without ``token`` in the query."""
    rest = {k: v for k, v in query.items() if k != "token"}
    location = scope.get("path", "/") + (f"?{urlencode(rest)}" if rest else "")
    cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    headers = [
        (b"location", location.encode("latin-1", "replace")),
        (b"set-cookie", cookie.encode()),
        (b"cache-control", b"no-store"),
        (b"content-length", b"0"),
        *_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
