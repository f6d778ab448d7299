"""Model faults at the HTTP transport of a remote model: everything above the socket is Podium's real code.

:func:`with_fault_transport` copies a :class:`~podium.providers.transport.model.WireModel` so that its
requests go through a :class:`FaultTransport` (an ``httpx2`` transport, sync and async) in front of the
model's own connections. For a request the plan picks, the transport

* answers itself: HTTP 429 with ``retry-after``, or a 5xx, with a JSON error body (the upstream never sees
  the request);
* raises what ``httpx2`` raises when the server does not answer in time (``ReadTimeout``) or the connection
  is reset before the answer (``RemoteProtocolError``);
* forwards the request and cuts the real answer: it ends cleanly after a share of its bytes (no end marker),
  or breaks with ``ReadError`` (a reset in the middle).

The model's transport code maps these to the typed errors, retries them per its
:class:`~podium.providers.retry.RetryPolicy`, keeps what a stream had delivered in ``ProviderError.partial``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx2

from podium.providers.transport.http import HTTPTransport
from podium.providers.transport.model import WireModel
from podium.testing.fault_model import choose

if TYPE_CHECKING:
    from podium.providers.retry import RetryPolicy
    from podium.testing.faults import FaultPlan, ModelFault

__all__ = ["FaultTransport", "with_fault_transport"]

_DROPPED_OPTIONS = ("proxy", "mounts", "transport", "trust_env")
"""Client options that would route requests around the fault transport (the original model's client, which
the transport sends through, keeps them)."""
_DROPPED_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


class _CutStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """The start of an answer, then its end (clean) or ``error`` (a reset)."""

    def __init__(self, data: bytes, error: Exception | None) -> None:
        self.data = data
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        if self.data:
            yield self.data
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data
        if self.error is not None:
            raise self.error


def _error_response(fault: ModelFault) -> httpx2.Response:
    if fault.kind == "rate_limit":
        status, kind, text = 429, "rate_limit_error", "injected rate limit"
    else:
        status, kind, text = fault.status or 503, "server_error", "injected server error"
    headers = {"content-type": "application/json"}
    if fault.kind == "rate_limit" and fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    body = json.dumps({"error": {"message": text, "type": kind, "code": status}}).encode()
    return httpx2.Response(status, headers=headers, content=body)


def _before_answer(fault: ModelFault, request: httpx2.Request) -> httpx2.Response:
    """The answer (or the failure) of a fault that strikes before the request reaches the server."""
    if fault.kind == "timeout":
        raise httpx2.ReadTimeout("timed out (injected: the server did not answer in time)", request=request)
    if fault.kind == "reset":
        raise httpx2.RemoteProtocolError(
            "Server disconnected without sending a response (injected connection reset)", request=request
        )
    return _error_response(fault)


def _cut_response(
    response: httpx2.Response, body: bytes, fault: ModelFault, request: httpx2.Request
) -> httpx2.Response:
    keep = body[: int(len(body) * (fault.fraction or 0.0))]
    error = (
        httpx2.ReadError("[Errno 104] Connection reset by peer (injected)", request=request)
        if fault.kind == "reset"
        else None
    )
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
    return httpx2.Response(response.status_code, headers=headers, stream=_CutStream(keep, error))


class FaultTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport (sync and async) that puts a plan's model faults in front of a model's own.

    Args:
        plan: Decides which request meets which fault, and logs it.
        target: The model, for the log (``provider:name``).
        upstream: The original model's HTTP connections, which the requests that go through are sent on.
    """

    def __init__(self, plan: FaultPlan, target: str, upstream: HTTPTransport) -> None:
        self.plan = plan
        self.target = target
        self.upstream = upstream

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``, or fail it as the plan says."""
        fault = choose(self.plan, self.target)
        if fault is not None and fault.fraction is None:
            return _before_answer(fault, request)
        if fault is not None:
            request.headers["accept-encoding"] = "identity"  # cut the bytes as they are, not a compressed body
        client = self.upstream.client
        response = client._transport_for_url(request.url).handle_request(request)
        if fault is None or response.status_code >= 300:
            return response
        try:
            body = response.read()
        finally:
            response.close()
        return _cut_response(response, body, fault, request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Async twin of :meth:`handle_request`."""
        fault = choose(self.plan, self.target)
        if fault is not None and fault.fraction is None:
            return _before_answer(fault, request)
        if fault is not None:
            request.headers["accept-encoding"] = "identity"
        client = self.upstream.async_client
        response = await client._transport_for_url(request.url).handle_async_request(request)
        if fault is None or response.status_code >= 300:
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return _cut_response(response, body, fault, request)


def with_fault_transport(plan: FaultPlan, model: WireModel, retry: RetryPolicy | None) -> WireModel:
    """A copy of ``model`` whose requests go through a :class:`FaultTransport` (``retry`` replaces its policy)."""
    http = model.http
    clone = copy.copy(model)
    if retry is not None:
        clone.retry = retry
    options = {k: v for k, v in http._options.items() if k not in _DROPPED_OPTIONS}
    options["transport"] = FaultTransport(plan, f"{model.provider}:{model.model_name}", http)
    clone.http = HTTPTransport(
        provider=http.provider, model=http.model, endpoint=http.endpoint, options=options, errors=http._errors
    )
    return clone
