"""One connection to an MCP server, on a private event loop thread.

The MCP SDK is async (anyio) and its session must be entered and left in one task. Podium's tools run on
the sync driver's thread pool or on the async driver's loop, so each server gets its own loop thread: a
*holder* task there opens the session and keeps it open; every request is a task on that loop, submitted
from any thread with :meth:`Connection.submit`. Cancelling the returned future cancels the request's task,
and the SDK then sends ``notifications/cancelled`` to the server.

A server that goes away (its process exits, the HTTP endpoint fails) fails the requests in flight with
:class:`ServerGone`; the next request starts a new session. :meth:`Connection.close` ends the session, which
for stdio closes the child's stdin, waits for it, then terminates it (the SDK's shutdown sequence), so no
child is left behind; an ``atexit`` hook closes what the program left open.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import contextlib
import logging
import tempfile
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from podium.exceptions import PodiumError
from podium.mcp.config import ServerConfig

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["Connection", "ServerGone", "ServerUnavailable"]

logger = logging.getLogger("podium.mcp")

T = TypeVar("T")

_CLOSE_TIMEOUT = 10.0
"""Seconds :meth:`Connection.close` waits for a session to end (the SDK gives a stdio child 2 s, then kills)."""


class ServerUnavailable(PodiumError):
    """The MCP server could not be started or reached (the message says why, with its stderr for stdio)."""


class ServerGone(PodiumError):
    """The MCP server went away while a request was in flight (the next request reconnects)."""


_open: weakref.WeakSet[Connection] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # pragma: no cover - runs at interpreter exit
    for conn in list(_open):
        with contextlib.suppress(Exception):
            conn.close()


def _broken(exc: BaseException) -> bool:
    """Whether ``exc`` says the transport is gone (rather than the server answering with an error)."""
    import anyio
    from mcp_types import CONNECTION_CLOSED

    from mcp import MCPError

    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)):
        return True
    import httpx2

    return isinstance(exc, httpx2.TransportError)


def _session_lost(exc: BaseException) -> bool:
    """Whether an HTTP server answered that it does not know the session (404: it restarted, or expired it)."""
    from mcp import MCPError

    return isinstance(exc, MCPError) and exc.message.lower() in ("session terminated", "session not found")


class Connection:
    """A session with one server, opened on first use, reopened after the server went away."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        connect_timeout: float = 60.0,
        on_message: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        """Prepare (nothing starts until the first request).

        Args:
            config: Where the server is.
            connect_timeout: Seconds to start the server and finish the handshake.
            on_message: Called on the connection's loop with each notification the server sends.
        """
        self.config = config
        self.connect_timeout = connect_timeout
        self._on_message = on_message
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._holder: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._connecting: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._errlog: IO[str] | None = None
        self.generation = 0
        """How many sessions were opened (1 after the first connect; more after reconnects)."""
        self.closed = False

    # ------------------------------------------------------------------ loop thread

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.closed:
                raise ServerUnavailable(f"the connection to MCP server {self.config.name!r} is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"podium-mcp-{self.config.name}", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                _open.add(self)
            return self._loop

    def submit(self, make: Callable[[Client], Awaitable[T]]) -> cf.Future[T]:
        """Run ``make(client)`` on the connection's loop (connecting first if needed); thread-safe.

        The future fails with :class:`ServerUnavailable` when the server cannot be reached and with
        :class:`ServerGone` when it went away during the request; cancelling it cancels the request.
        """
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(self._run(make), loop)

    def call(self, make: Callable[[Client], Awaitable[T]], timeout: float | None = None) -> T:
        """:meth:`submit` and wait (from a thread that is not the connection's own)."""
        future = self.submit(make)
        try:
            return future.result(timeout)
        except cf.TimeoutError:
            future.cancel()
            raise TimeoutError(f"MCP server {self.config.name!r} did not answer within {timeout:g} s") from None

    async def _run(self, make: Callable[[Client], Awaitable[T]]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            client = await self._ensure_client()
            try:
                return await make(client)
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                if _session_lost(exc):  # an HTTP server restarted: the request never ran; say hello again
                    logger.info("MCP server %r lost the session (%s); starting a new one", self.config.name, exc)
                    await self._drop(client)
                    return await make(await self._ensure_client())
                if not self._alive() or _broken(exc):
                    why = self._gone_reason()
                    await self._drop(client)
                    raise ServerGone(
                        f"MCP server {self.config.name!r} went away during the request{why}; its outcome is "
                        "unknown. The next call starts the server again."
                    ) from exc
                raise
        finally:
            self._tasks.discard(task)

    # ------------------------------------------------------------------ session

    def _alive(self) -> bool:
        return self._holder is not None and not self._holder.done()

    def _stderr_tail(self, limit: int = 2000) -> str:
        log = self._errlog
        if log is None:
            return ""
        try:
            log.flush()
            log.seek(0)
            text = log.read()
            log.seek(0, 2)
        except (OSError, ValueError):
            return ""
        text = text.strip()
        return text[-limit:]

    def _gone_reason(self) -> str:
        tail = self._stderr_tail(600)
        return f" (its stderr ends with: {tail!r})" if tail else ""

    def _make_client(self) -> Client:
        from mcp import Client, Implementation

        cfg = self.config
        if cfg.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            assert cfg.command is not None
            if self._errlog is not None:
                with contextlib.suppress(OSError):
                    self._errlog.close()
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            params = StdioServerParameters(
                command=cfg.command, args=list(cfg.args), env=dict(cfg.env) if cfg.env else None, cwd=cfg.cwd
            )
            transport: Any = stdio_client(params, errlog=self._errlog)
        else:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            assert cfg.url is not None
            http = create_mcp_http_client(headers=dict(cfg.headers))
            transport = streamable_http_client(cfg.url, http_client=http)
        return Client(
            transport,
            mode="legacy",
            cache=None,
            message_handler=cast(Any, self._on_message),  # an async (message) -> None: MessageHandlerFnT
            client_info=Implementation(name="podium", version=_version()),
        )

    async def _hold(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        try:
            async with self._make_client() as client:
                ready.set_result(client)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    ready.cancel()
                else:
                    ready.set_exception(exc)
            elif not stop.is_set():
                logger.info("MCP server %r: the session ended: %r", self.config.name, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise

    async def _ensure_client(self) -> Client:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is not None and self._alive():
                return self._client
            if self._client is not None:
                await self._drop(self._client)
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[Client] = loop.create_future()
            stop = asyncio.Event()
            holder = loop.create_task(self._hold(ready, stop))
            try:
                client = await asyncio.wait_for(asyncio.shield(ready), self.connect_timeout)
            except BaseException as exc:
                stop.set()
                holder.cancel()
                with contextlib.suppress(BaseException):
                    await holder
                if ready.done() and not ready.cancelled():
                    ready.exception()  # retrieved: no "exception was never retrieved" at collection
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise self._unavailable(exc) from exc
            self._client, self._holder, self._stop = client, holder, stop
            self.generation += 1
            logger.info("connected to MCP server %r (%s)", self.config.name, self.config.describe())
            return client

    def _unavailable(self, exc: BaseException) -> ServerUnavailable:
        cfg = self.config
        if isinstance(exc, asyncio.TimeoutError):
            why = f"it did not finish the handshake within {self.connect_timeout:g} s"
        else:
            why = "; ".join(dict.fromkeys(f"{type(e).__name__}: {e}" for e in _leaves(exc)))
        tail = self._stderr_tail()
        where = f"command {cfg.describe()!r}" if cfg.transport == "stdio" else f"URL {cfg.url}"
        text = f"cannot connect to MCP server {cfg.name!r} ({where}): {why}"
        if tail:
            text += f"\nits stderr:\n{tail}"
        return ServerUnavailable(text)

    async def _drop(self, client: Client) -> None:
        """End the session ``client`` belongs to (if it is still the current one)."""
        if client is not self._client:
            return
        holder, stop = self._holder, self._stop
        self._client, self._holder, self._stop = None, None, None
        if stop is not None:
            stop.set()
        if holder is not None:
            try:
                await asyncio.wait_for(holder, _CLOSE_TIMEOUT)
            except BaseException:  # the session ended badly: it is gone either way
                logger.debug("MCP server %r: session teardown failed", self.config.name, exc_info=True)

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._drop(self._client)

    def end_session(self) -> None:
        """End the current session (a stdio child exits or is killed); the next request opens a new one."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if self.closed or loop is None or thread is None:
                return
        if thread is threading.current_thread():
            raise RuntimeError("an MCP session cannot be ended from its own loop")
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_CLOSE_TIMEOUT + 5)
        except Exception:
            logger.warning("MCP server %r did not shut down cleanly", self.config.name, exc_info=True)

    def close(self) -> None:
        """End the session (a stdio child exits or is killed) and stop the loop thread. Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            loop, thread = self._loop, self._thread
        _open.discard(self)
        if loop is None or thread is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("an MCP connection cannot be closed from its own loop")
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_CLOSE_TIMEOUT + 5)
        except Exception:
            logger.warning("MCP server %r did not shut down cleanly", self.config.name, exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or ``[exc]``."""
    inner = getattr(exc, "exceptions", None)
    if not isinstance(inner, (list, tuple)):
        return [exc]
    return [leaf for e in inner for leaf in _leaves(e)]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("podium")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
