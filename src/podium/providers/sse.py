"""Reading provider streams: a small, fast server-sent-events reader, and transport failures.

The official SDKs build a pydantic object per stream event; provider modules instead read the raw
HTTP body through the SDK and use :func:`iter_sse_data` to get each event's ``data`` payload as
bytes, ready for ``json.loads``. ``event:`` lines are skipped (every provider that uses this repeats
the event type inside the JSON), as are comments (``: ping``) and ``id:``/``retry:`` fields.

:func:`transport_error` maps a failure of the HTTP transport while a body is being read (after the
SDK handed the response over) to :class:`~podium.exceptions.ProviderTimeoutError` or
:class:`~podium.exceptions.ProviderConnectionError`, without importing the SDK's HTTP library.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError

__all__ = ["aiter_sse_data", "iter_sse_data", "transport_error"]

_DONE = b"[DONE]"


class _Splitter:
    """Turns byte chunks into complete ``data`` payloads (the per-chunk work of both iterators)."""

    __slots__ = ("data", "pending")

    def __init__(self) -> None:
        self.pending = b""
        self.data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.pending:
            chunk = self.pending + chunk
        lines = chunk.split(b"\n")
        self.pending = lines.pop()
        out: list[bytes] = []
        data = self.data
        for line in lines:
            if not line or line == b"\r":
                if data:
                    out.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data:"):
                data.append(line[5:])
        return out

    def close(self) -> list[bytes]:
        out = self.feed(b"\n\n") if self.pending or self.data else []
        self.pending = b""
        return out


def _strip(payload: bytes) -> bytes:
    return payload.strip()


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The ``data`` payload of each event in a byte stream, stopping at ``[DONE]``.

    Lines may end in LF or CRLF and events may be split anywhere across chunks. A payload keeps its
    surrounding whitespace (``json.loads`` ignores it); multi-line data is joined with a newline.
    """
    splitter = _Splitter()
    for chunk in chunks:
        for payload in splitter.feed(chunk):
            if payload.startswith((b" [DONE]", _DONE)) and _strip(payload) == _DONE:
                return
            yield payload
    for payload in splitter.close():
        if _strip(payload) == _DONE:
            return
        yield payload


async def aiter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Async twin of :func:`iter_sse_data`."""
    splitter = _Splitter()
    async for chunk in chunks:
        for payload in splitter.feed(chunk):
            if payload.startswith((b" [DONE]", _DONE)) and _strip(payload) == _DONE:
                return
            yield payload
    for payload in splitter.close():
        if _strip(payload) == _DONE:
            return
        yield payload


def transport_error(exc: BaseException, *, provider: str, model: str | None) -> ProviderError | None:
    """The Podium error for an HTTP transport failure (httpx-style or ``OSError``), else ``None``."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__
    if "TimeoutException" in names or isinstance(exc, TimeoutError):
        return ProviderTimeoutError(f"{provider} stream timed out: {exc}", provider=provider, model=model)
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, OSError):
        return ProviderConnectionError(f"{provider} stream broke off: {exc!r}", provider=provider, model=model)
    return None
