"""One HTTP client per model: build the request, sign it, send it, and map every failure to Podium's errors.

Every remote provider sends through :class:`HTTPTransport` over ``httpx2`` (the maintained successor of
``httpx`` by the same authors, the HTTP stack the vendor SDKs use). A model owns one transport, which
owns one synchronous client and one asynchronous client per event loop (a model used from several
``asyncio.run`` calls keeps working), with keep-alive connections, per-request timeouts and the user's
client options (proxy, TLS, limits, a transport of their own ...).

What can go wrong is mapped here, once, for every provider:

* an HTTP error status -> :func:`~podium.providers.transport.errors.http_error` (the body read and parsed);
* a 200 answer of the wrong content type -> :class:`~podium.exceptions.InvalidResponseError`;
* a timeout or a broken connection, before or in the middle of the answer ->
  :class:`~podium.exceptions.ProviderTimeoutError` / :class:`~podium.exceptions.ProviderConnectionError`.

Only provider modules import this (it imports ``httpx2``, so ``import podium`` never does).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncGenerator
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Generic
from typing import Protocol
from typing import TypeVar

import httpx2

from podium.exceptions import ProviderConnectionError
from podium.exceptions import ProviderError
from podium.exceptions import ProviderTimeoutError
from podium.exceptions import UserError
from podium.providers.transport.errors import http_error
from podium.providers.transport.guard import Deadline
from podium.providers.transport.guard import afirst_bytes
from podium.providers.transport.guard import content_type_error
from podium.providers.transport.guard import first_bytes
from podium.providers.transport.guard import http_timeouts
from podium.providers.transport.guard import wrong_content_type
from podium.settings import Timeouts

__all__ = ["CLIENT_OPTIONS", "Auth", "Endpoint", "HTTPTransport", "PerLoop", "dumps"]

logger = logging.getLogger("podium.providers")

T = TypeVar("T")

CLIENT_OPTIONS = frozenset(
    {
        "proxy",
        "verify",
        "cert",
        "trust_env",
        "http1",
        "http2",
        "limits",
        "transport",
        "mounts",
        "event_hooks",
        "follow_redirects",
        "default_headers",
        "default_query",
        "http_client",
        "async_http_client",
    }
)
"""Client options every remote model takes: the ``httpx2.Client`` arguments, extra headers and query
parameters for every request, and ready clients (``http_client``, ``async_http_client``) to send through."""

DEFAULT_LIMITS = httpx2.Limits(max_connections=500, max_keepalive_connections=20)
"""Connection limits of the clients a model makes (the ``limits`` option replaces them).

Up to 500 requests of one model in flight at once, 20 connections kept alive between them (httpx2's own
keep-alive default). httpx2's default of 100 at once queued a server's worth of concurrent async sessions;
the SDKs' 1,000 at once with 100 kept alive was slower still, since the connection pool looks at every
connection on every request event: measured with 1,000 concurrent sessions (``bench/run.py``), 500/20
gave the most sessions per second and the least memory per session of 100/20, 250/20, 500/20, 1000/20,
1000/100 and 1000/1000."""

_CREDENTIAL_HEADERS = (
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-goog-user-project",
    "x-amz-date",
    "x-amz-security-token",
)
"""Headers that carry a credential: dropped from a request a redirect sends to another origin."""

_MAX_ERROR_BODY = 1 << 20  # an error body is read up to 1 MiB: enough for any message, bounded for a hostile one


class Auth(Protocol):
    """Adds credentials to a request just before it is sent (headers, query parameters, a signature)."""

    blocking: bool
    """Whether :meth:`sign` may block (fetching or refreshing a credential); async calls then run it in a thread."""

    def sign(self, request: httpx2.Request) -> None:
        """Add the credentials to ``request`` (its URL, headers and body are final)."""
        ...


@dataclass(slots=True)
class Endpoint:
    """Where a model's requests go and what every request carries."""

    base_url: str
    """The URL paths are joined to (no trailing slash needed)."""
    auth: Auth | None = None
    """Credentials (``None``: none, as for a local server)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers sent with every request (a version header, the user's ``default_headers``)."""
    params: dict[str, str] = field(default_factory=dict)
    """Query parameters sent with every request (an API version)."""
    hint: str = ""
    """What to check when the server cannot be reached (a local server: is it running?), added to that error."""

    def url(self, path: str) -> str:
        """``path`` (which may carry a query) joined to the base URL."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + path


def dumps(body: Any) -> bytes:
    """A request body as compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class PerLoop(Generic[T]):
    """One async client per event loop.

    An async client's connections belong to the loop that opened them, so a model used from several
    ``asyncio.run`` calls (scripts, notebooks, tests) gets a client per loop instead of failing with
    "Event loop is closed". Clients of loops that are gone are dropped with them.
    """

    __slots__ = ("_clients", "_factory")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The client for the running loop (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client


def check_client_options(provider: str, options: Mapping[str, Any], extra: frozenset[str] = frozenset()) -> None:
    """Raise :class:`~podium.exceptions.UserError` naming any option the model does not know."""
    unknown = sorted(set(options) - CLIENT_OPTIONS - extra)
    if unknown:
        known = ", ".join(sorted(CLIENT_OPTIONS | extra))
        raise UserError(f"unknown option(s) for {provider}: {', '.join(unknown)}; the options are: {known}")


class HTTPTransport:
    """A model's HTTP connections and the one way requests are sent and failures mapped.

    Args:
        provider: Provider name, for errors.
        model: Model name, for errors.
        endpoint: Base URL, credentials, headers and query parameters of every request.
        options: ``httpx2.Client`` arguments (see :data:`CLIENT_OPTIONS`); ``http_client`` /
            ``async_http_client`` are used as they are (their own base URL, if any, is ignored).
        errors: The error for an HTTP error status, given the status, the parsed body and the headers
            (default :func:`~podium.providers.transport.errors.http_error`), for an API whose error codes
            say more than its statuses.
    """

    __slots__ = (
        "_aclients",
        "_client",
        "_errors",
        "_given_async",
        "_options",
        "_strip",
        "endpoint",
        "model",
        "provider",
    )

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        endpoint: Endpoint,
        options: Mapping[str, Any],
        errors: Callable[[int, Any, dict[str, str]], ProviderError] | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self._errors = errors
        options = dict(options)
        headers = options.pop("default_headers", None)
        if headers:
            endpoint.headers = _merged(endpoint.headers, {str(k): str(v) for k, v in dict(headers).items()})
        query = options.pop("default_query", None)
        if query:
            endpoint.params.update({str(k): str(v) for k, v in dict(query).items()})
        self.endpoint = endpoint
        self._client: httpx2.Client | None = options.pop("http_client", None)
        self._given_async: httpx2.AsyncClient | None = options.pop("async_http_client", None)
        options.setdefault("limits", DEFAULT_LIMITS)
        self._options = options
        self._aclients: PerLoop[httpx2.AsyncClient] = PerLoop(self._new_async)
        self._strip: Callable[[httpx2.Request], None] | None = (
            self._redirect_guard() if options.get("follow_redirects") else None
        )

    # ------------------------------------------------------------------ clients

    @property
    def client(self) -> httpx2.Client:
        """The synchronous client (made on first use)."""
        if self._client is None:
            self._client = httpx2.Client(**self._with_hook(self._strip))
        return self._client

    def _new_async(self) -> httpx2.AsyncClient:
        strip = self._strip
        if strip is None:
            return httpx2.AsyncClient(**self._options)

        async def astrip(request: httpx2.Request) -> None:
            strip(request)

        return httpx2.AsyncClient(**self._with_hook(astrip))

    def _with_hook(self, hook: Callable[[httpx2.Request], Any] | None) -> dict[str, Any]:
        """The client options with ``hook`` run after the user's own request hooks."""
        if hook is None:
            return self._options
        hooks = dict(self._options.get("event_hooks") or {})
        return {**self._options, "event_hooks": {**hooks, "request": [*hooks.get("request", ()), hook]}}

    def _redirect_guard(self) -> Callable[[httpx2.Request], None]:
        """With ``follow_redirects``: a request a redirect sends to another origin loses every credential header.

        httpx drops ``Authorization`` on such a redirect but not the API-key headers (``x-api-key``,
        ``api-key``, ``x-goog-api-key``) nor AWS's signature headers: without this, a server that redirects
        elsewhere would hand the key to whoever it names.
        """
        home = httpx2.URL(self.endpoint.base_url)

        def strip(request: httpx2.Request) -> None:
            url = request.url
            if (url.scheme, url.host, url.port) != (home.scheme, home.host, home.port):
                for name in _CREDENTIAL_HEADERS:
                    request.headers.pop(name, None)

        return strip

    @property
    def async_client(self) -> httpx2.AsyncClient:
        """The asynchronous client of the running event loop (the one given, else one per loop)."""
        return self._given_async if self._given_async is not None else self._aclients.get()

    def close(self) -> None:
        """Close the synchronous client's connections (async clients close with their event loop)."""
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ requests

    def build(
        self,
        client: httpx2.Client | httpx2.AsyncClient,
        path: str,
        body: bytes,
        *,
        stream: bool,
        timeouts: Timeouts,
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> httpx2.Request:
        """The request (a POST unless ``method`` says otherwise) for ``body`` to ``path``, unsigned."""
        endpoint = self.endpoint
        request_headers = _merged(
            {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"},
            endpoint.headers,
        )
        if headers:
            request_headers = _merged(request_headers, headers)
        url = httpx2.URL(endpoint.url(path))
        # httpx replaces a URL's query with the params given (the client's too): keep the path's (``?alt=sse``)
        params = url.params.merge(endpoint.params) if url.query or endpoint.params else None
        return client.build_request(
            method,
            url,
            content=body,
            params=params,
            headers=request_headers,
            extensions={"timeout": http_timeouts(timeouts, stream=stream)},
        )

    def open(
        self,
        path: str,
        body: bytes,
        *,
        stream: bool,
        timeouts: Timeouts,
        expected: tuple[str, ...],
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> httpx2.Response:
        """Send ``body`` and return the open response of a successful answer, its body not read yet.

        Raises Podium's errors: an HTTP error status, a wrong content type, a timeout or a failed connection.
        """
        client = self.client
        request = self.build(client, path, body, stream=stream, timeouts=timeouts, headers=headers, method=method)
        auth = self.endpoint.auth
        try:
            if auth is not None:
                auth.sign(request)
            response = client.send(request, stream=True)
        except (ProviderError, UserError):
            raise
        except Exception as exc:
            error = self.failure(exc, started=False)
            if error is None:
                raise
            raise error from exc
        if response.status_code >= 300:
            raise self._status_error(response, self._read_error(response))
        wrong = wrong_content_type(response.headers, expected)
        if wrong is not None:
            try:
                start = first_bytes(response.iter_bytes())
            finally:
                response.close()
            raise content_type_error(wrong, expected, start, provider=self.provider, model=self.model)
        return response

    async def aopen(
        self,
        path: str,
        body: bytes,
        *,
        stream: bool,
        timeouts: Timeouts,
        expected: tuple[str, ...],
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> httpx2.Response:
        """Async twin of :meth:`open`."""
        client = self.async_client
        request = self.build(client, path, body, stream=stream, timeouts=timeouts, headers=headers, method=method)
        auth = self.endpoint.auth
        try:
            if auth is not None:
                if auth.blocking:
                    await asyncio.to_thread(auth.sign, request)
                else:
                    auth.sign(request)
            response = await client.send(request, stream=True)
        except (ProviderError, UserError):
            raise
        except Exception as exc:
            error = self.failure(exc, started=False)
            if error is None:
                raise
            raise error from exc
        if response.status_code >= 300:
            raise self._status_error(response, await self._aread_error(response))
        wrong = wrong_content_type(response.headers, expected)
        if wrong is not None:
            try:
                start = await afirst_bytes(response.aiter_bytes())
            finally:
                await response.aclose()
            raise content_type_error(wrong, expected, start, provider=self.provider, model=self.model)
        return response

    # ------------------------------------------------------------------ bodies

    def chunks(self, response: httpx2.Response, deadline: Deadline) -> Generator[bytes, None, None]:
        """The body of ``response`` as it arrives, within the total timeout; failures mapped; closed at the end."""
        at_deadline = deadline.chunks
        try:
            yield from at_deadline(response.iter_bytes())
        except ProviderError:
            raise
        except Exception as exc:
            error = self.failure(exc, started=True)
            if error is None:
                raise
            raise error from exc
        finally:
            response.close()

    async def achunks(self, response: httpx2.Response, deadline: Deadline) -> AsyncGenerator[bytes, None]:
        """Async twin of :meth:`chunks`."""
        try:
            async for chunk in deadline.achunks(response.aiter_bytes()):
                yield chunk
        except ProviderError:
            raise
        except Exception as exc:
            error = self.failure(exc, started=True)
            if error is None:
                raise
            raise error from exc
        finally:
            await response.aclose()

    def _read_error(self, response: httpx2.Response) -> bytes:
        try:
            return _bounded(response.iter_bytes())
        except Exception:  # the error body is a courtesy: the status alone still makes the error
            logger.debug("could not read an error body from %s", self.provider, exc_info=True)
            return b""
        finally:
            response.close()

    async def _aread_error(self, response: httpx2.Response) -> bytes:
        out = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                out += chunk
                if len(out) >= _MAX_ERROR_BODY:
                    break
        except Exception:  # the error body is a courtesy: the status alone still makes the error
            logger.debug("could not read an error body from %s", self.provider, exc_info=True)
        finally:
            await response.aclose()
        return bytes(out[:_MAX_ERROR_BODY])

    def _status_error(self, response: httpx2.Response, raw: bytes) -> ProviderError:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        status = response.status_code
        if status < 400:  # a redirect the client was not told to follow
            where = response.headers.get("location") or "(no Location header)"
            message = (
                f"{self.provider} answered HTTP {status}, a redirect to {where}: Podium does not follow redirects "
                "of API calls by default (the request and its key would go elsewhere); set base_url to the new "
                "address, or pass follow_redirects=True"
            )
            return http_error(
                status, body, provider=self.provider, model=self.model, headers=dict(response.headers), message=message
            )
        if self._errors is not None:
            return self._errors(response.status_code, body, dict(response.headers))
        return http_error(
            response.status_code, body, provider=self.provider, model=self.model, headers=dict(response.headers)
        )

    # ------------------------------------------------------------------ failures

    def failure(self, exc: BaseException, *, started: bool) -> ProviderError | None:
        """The Podium error for a failure of the transport (``started``: after the answer began to arrive).

        ``None`` when ``exc`` is not one.
        """
        provider = self.provider
        if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
            if started:
                text = f"{provider} stopped sending in the middle of the answer ({_describe(exc)})"
            else:
                text = f"{provider} did not answer in time ({_describe(exc)})"
            return ProviderTimeoutError(text, provider=provider, model=self.model)
        if isinstance(exc, (httpx2.TransportError, httpx2.StreamError, OSError)):
            if started:
                text = f"the connection to {provider} broke in the middle of the answer ({_describe(exc)})"
            else:
                hint = f"; {self.endpoint.hint}" if self.endpoint.hint else ""
                text = f"could not reach {provider} at {self.endpoint.base_url}{hint} ({_describe(exc)})"
            return ProviderConnectionError(text, provider=provider, model=self.model)
        if isinstance(exc, httpx2.InvalidURL | httpx2.UnsupportedProtocol):
            raise UserError(f"{provider}: the base URL {self.endpoint.base_url!r} is not usable: {exc}") from exc
        return None


def _merged(base: Mapping[str, str], over: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``over`` on top, header names compared without case (``Accept`` replaces ``accept``)."""
    names = {name.lower() for name in over}
    merged = {name: value for name, value in base.items() if name.lower() not in names}
    merged.update(over)
    return merged


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bounded(chunks: Iterator[bytes]) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) >= _MAX_ERROR_BODY:
            break
    return bytes(out[:_MAX_ERROR_BODY])
