"""The transports of ``podium mcp serve``: stdio, and a streamable-HTTP app guarded by a token and Host/Origin checks.

(The CLI runs the HTTP app with uvicorn: :mod:`podium.cli.mcp_serve`.)

HTTP listens on ``127.0.0.1`` by default. There the SDK's DNS-rebinding protection is on: a request whose
``Host`` is not a loopback name with this port, or whose ``Origin`` is not a loopback origin, is refused
(421/403), so a web page the user opens cannot drive the server through a rebound name. Listening on any other
address needs a token (:func:`check_exposure`); with a token every request must carry
``Authorization: Bearer <token>`` or is refused with 401 before it reaches the MCP session.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from podium.exceptions import UserError
from podium.mcp.server import ToolServer

__all__ = ["BearerToken", "check_exposure", "http_app", "is_loopback", "serve_stdio"]

logger = logging.getLogger("podium.mcp.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (only this machine can connect)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token (raises :class:`UserError`)."""
    if not is_loopback(host) and not token:
        raise UserError(
            f"listening on {host} lets other machines call the tools: a token is required "
            "(give --token, set PODIUM_MCP_TOKEN, or let podium mcp serve make one)"
        )


class BearerToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        """Guard ``app`` with ``token``."""
        if not token:
            raise ValueError("the token must not be empty")
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 401."""
        if scope["type"] == "websocket" and not self._authorized(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and not self._authorized(scope):
            body = b'{"error":"unauthorized: send the server\'s token as Authorization: Bearer <token>"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="podium"'),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                scheme, _, given = bytes(value).partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token):
                    return True
        return False


def http_app(server: ToolServer, *, host: str, port: int, token: str | None = None, path: str = "/mcp") -> ASGIApp:
    """The streamable-HTTP ASGI app: DNS-rebinding checks on loopback, the token check when there is one."""
    from mcp.server.transport_security import TransportSecuritySettings

    check_exposure(host, token)
    if is_loopback(host):
        names = ("127.0.0.1", "localhost", "[::1]")
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{n}:{port}" for n in names],
            allowed_origins=[f"http://{n}:{port}" for n in names],
        )
    else:  # any Host may be right (names, proxies); the token is the guard
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app: ASGIApp = server.build().streamable_http_app(streamable_http_path=path, transport_security=security, host=host)
    return BearerToken(app, token) if token else app


async def serve_stdio(server: ToolServer) -> None:
    """Serve over this process's stdin/stdout until the client closes them (stray output goes to stderr)."""
    from mcp.server.stdio import stdio_server

    sdk = server.build()
    async with stdio_server() as (read, write):
        await sdk.run(read, write, sdk.create_initialization_options())
