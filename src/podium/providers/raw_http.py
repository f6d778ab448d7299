"""Helpers for provider modules that read the SDK's raw ``httpx`` response instead of its models.

The official SDKs build a pydantic object per response and per stream chunk; where an SDK gives
access to its raw ``httpx`` response, the provider modules parse JSON themselves (issue 6). These
helpers hold the parts they share: reading SSE ``data:`` lines and NDJSON lines, and mapping HTTP
statuses and ``httpx`` transport failures to Podium's exception tree.

Only provider modules import this (it imports ``httpx``, which every vendor SDK depends on).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError
from podium.providers.errors import http_error

__all__ = [
    "aiter_sse_data",
    "error_from_response",
    "iter_sse_data",
    "parse_body",
    "transport_error",
]


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


def error_from_response(response: httpx.Response, *, provider: str, model: str | None) -> ProviderError:
    """The Podium exception for an HTTP error ``response`` (its body must have been read)."""
    return http_error(
        response.status_code,
        parse_body(response.content),
        provider=provider,
        model=model,
        headers=dict(response.headers),
    )


def transport_error(exc: BaseException, *, provider: str, model: str | None) -> ProviderError | None:
    """The Podium exception for an ``httpx`` timeout or connection failure, or ``None`` for others."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(f"{provider} did not answer in time: {exc}", provider=provider, model=model)
    if isinstance(exc, (httpx.TransportError, ConnectionError)):
        return ProviderConnectionError(f"could not reach {provider}: {exc}", provider=provider, model=model)
    return None
