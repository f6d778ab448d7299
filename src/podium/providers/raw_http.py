"""Helpers for provider modules that read the SDK's raw ``httpx`` response instead of its models.

The official SDKs build a pydantic object per response and per stream chunk; where an SDK gives
access to its raw ``httpx`` response, the provider modules parse JSON themselves. These
helpers hold the parts they share: reading SSE ``data:`` lines and NDJSON lines, and mapping HTTP
statuses and ``httpx`` transport failures to Podium's exception tree.

Responses are typed by the small :class:`RawResponse` protocol, not by ``httpx`` classes: some SDKs
ship their own ``httpx`` fork (``mistralai`` uses ``httpx2``), and both look the same.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Protocol

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError
from podium.providers.transport.errors import http_error

__all__ = [
    "MappedStream",
    "RawResponse",
    "aiter_sse_data",
    "error_from_response",
    "iter_sse_data",
    "parse_body",
    "transport_error",
]


class RawResponse(Protocol):
    """What Podium uses of an ``httpx`` (or ``httpx2``) response."""

    @property
    def status_code(self) -> int:
        """HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers."""
        ...

    @property
    def content(self) -> bytes:
        """The body (after ``read()`` for a streamed response)."""
        ...

    def read(self) -> bytes:
        """Read a streamed body."""
        ...

    async def aread(self) -> bytes:
        """Async twin of :meth:`read`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        ...

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        ...

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Async twin of :meth:`iter_bytes`."""
        ...

    def iter_lines(self) -> Iterator[str]:
        """The body's lines, as they arrive."""
        ...

    def aiter_lines(self) -> AsyncIterator[str]:
        """Async twin of :meth:`iter_lines`."""
        ...


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The payloads of the ``data:`` lines of a server-sent-event stream, up to ``[DONE]``.

    ``event:`` lines, comments and blank lines are skipped: every provider handled here repeats the
    event type inside the JSON payload.
    """
    for line in lines:
        if line.startswith("data:"):
            data = line[5:].strip()
            if data == "[DONE]":
                return
            if data:
                yield data


async def aiter_sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Async twin of :func:`iter_sse_data`."""
    async for line in lines:
        if line.startswith("data:"):
            data = line[5:].strip()
            if data == "[DONE]":
                return
            if data:
                yield data


def parse_body(content: bytes) -> Any:
    """A response body parsed as JSON, or as text when it is not JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


def error_from_response(response: RawResponse, *, provider: str, model: str | None) -> ProviderError:
    """The Podium exception for an HTTP error ``response`` (its body must have been read)."""
    return http_error(
        response.status_code,
        parse_body(response.content),
        provider=provider,
        model=model,
        headers=dict(response.headers),
    )


def transport_error(exc: BaseException, *, provider: str, model: str | None) -> ProviderError | None:
    """The Podium exception for an ``httpx``/``httpx2`` timeout or connection failure, or ``None`` for others."""
    kind = None
    if isinstance(exc, TimeoutError):
        kind = "timeout"
    elif isinstance(exc, ConnectionError):
        kind = "transport"
    else:
        for cls in type(exc).__mro__:
            if cls.__module__.partition(".")[0] not in _HTTPX_MODULES:
                continue
            if cls.__name__ == "TimeoutException":
                kind = "timeout"
                break
            if cls.__name__ in ("TransportError", "StreamError"):
                kind = "transport"
                break
    if kind == "timeout":
        return ProviderTimeoutError(f"{provider} did not answer in time: {exc!r}", provider=provider, model=model)
    if kind == "transport":
        return ProviderConnectionError(f"could not reach {provider}: {exc!r}", provider=provider, model=model)
    return None


_HTTPX_MODULES = frozenset(("httpx", "httpx2", "httpcore", "httpcore2"))


class MappedStream:
    """An open response whose body read raises Podium's errors (``map_error``) instead of the HTTP library's."""

    __slots__ = ("_map", "_response")

    def __init__(self, response: RawResponse, map_error: Callable[[Exception], ProviderError | None]) -> None:
        self._response = response
        self._map = map_error

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers."""
        return self._response.headers

    def _error(self, exc: Exception) -> Exception:
        mapped = self._map(exc)
        return exc if mapped is None else mapped

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        try:
            yield from self._response.iter_bytes()
        except Exception as exc:
            error = self._error(exc)
            if error is exc:
                raise
            raise error from exc

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Async twin of :meth:`iter_bytes`."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except Exception as exc:
            error = self._error(exc)
            if error is exc:
                raise
            raise error from exc

    def close(self) -> None:
        """Release the connection."""
        self._response.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self._response.aclose()
