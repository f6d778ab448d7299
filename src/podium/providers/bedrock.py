"""AWS Bedrock through the Converse and ConverseStream APIs (provider ``bedrock``).

Built on boto3 (``pip install 'podium[bedrock]'``), which does AWS auth (the usual credential chain,
or a Bedrock API key), endpoints, signing and transport. Translation lives in
:mod:`podium.providers.bedrock_wire`. Podium reads the bytes the service sent rather than boto3's
parsed dicts: the ``converse`` JSON body (kept by a ``before-parse`` event hook) and the
``converse-stream`` frames (botocore's frame decoder, CRCs checked, then ``json.loads``; this uses
the ``EventStream._raw_stream`` attribute and falls back to boto3's events without it). boto3's shape
parser drops fields its service model does not know yet (new usage counters, for instance) and
costs about as much again as the frame decoding per stream event.

``request``/``stream`` call boto3 synchronously. ``arequest`` runs ``request`` in a worker thread,
and ``astream`` runs the stream in a worker thread that hands events to the event loop: boto3 has no
async client, and aiobotocore (the maintained async port) pins exact botocore versions, which is a
heavier dependency than one thread per in-flight request.

Settings: temperature, max_tokens, top_p, stop (``inferenceConfig``), tool_choice (``toolChoice``;
``none`` sends the tools without a choice, since Converse has no "none"), thinking (see
:func:`~podium.providers.bedrock_wire.thinking_fields`), the timeouts (:class:`~podium.settings.Timeouts`:
boto3's ``connect_timeout`` and ``read_timeout``, one client per distinct pair; the total is checked
between stream chunks). ``seed`` and ``parallel_tool_calls`` have no Converse field and are ignored.
``ModelSettings(extra={"bedrock": {...}})`` is deep-merged into the Converse request last (for
``guardrailConfig``, ``performanceConfig``, ``additionalModelRequestFields`` ...); its
``cache_tools`` key puts a cache point after the tool definitions.

Errors: ``ClientError`` becomes Podium's exception tree by HTTP status, refined by the AWS error code
when the service sends one (``ThrottlingException`` -> RateLimitError, ``AccessDeniedException`` ->
AuthenticationError, ``ModelTimeoutException`` -> ProviderTimeoutError ...); the code prefixes the
message. boto3's own retries are off; Podium's RetryPolicy retries, a stream while nothing has reached the
caller. Content types and the end of a stream (``messageStop``) are checked as :mod:`podium.providers.transport.guard`
describes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from podium.exceptions import (
    AuthenticationError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    UserError,
)
from podium.messages import JsonDict, Message, ModelResponse
from podium.providers.base import Model, require_model_name
from podium.providers.bedrock_wire import ConverseAccumulator, build_request
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries
from podium.providers.transport.errors import http_error, parse_retry_after
from podium.providers.transport.guard import (
    EVENTSTREAM,
    JSON,
    Deadline,
    check_content_type,
    first_bytes,
    guarded_stream,
    http_timeouts,
    incomplete_stream,
    not_json,
    resolve_timeouts,
    timeouts_option,
)
from podium.secrets import register_automatic
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.streaming import StreamEvent
from podium.usage import Usage

try:
    import boto3
    import botocore.exceptions as botocore_errors
    import botocore.session
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from botocore.credentials import CredentialResolver
    from botocore.eventstream import EventStreamBuffer
    from botocore.tokens import FrozenAuthToken
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the Bedrock provider needs boto3: pip install 'podium[bedrock]'") from _exc

__all__ = ["BedrockModel", "bedrock_profile", "map_error"]


_RATE_LIMIT_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"})
_AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
    }
)
_SERVER_CODES = frozenset(
    {"InternalServerException", "ServiceUnavailableException", "ModelNotReadyException", "ModelStreamErrorException"}
)


def bedrock_profile(model_id: str) -> ModelProfile:
    """Capabilities of a Bedrock model family, from its id (``us.anthropic.claude-sonnet-4-5-...``)."""
    lower = model_id.lower()
    if "anthropic" in lower or "claude" in lower:
        modern = any(f"-{v}" in lower for v in ("4-", "4-5", "4-6", "opus-4", "sonnet-4", "haiku-4", "3-7"))
        structured = any(v in lower for v in ("4-5", "4-6", "opus-4-1", "4-7", "4-8"))
        return ModelProfile(
            context_window=200_000,
            max_output_tokens=64_000 if modern else 8192,
            vision=True,
            files=True,
            thinking=modern,
            structured_output=structured,
        )
    if "nova" in lower:
        small = "micro" in lower
        return ModelProfile(
            context_window=128_000 if small else 300_000,
            max_output_tokens=10_000,
            vision=not small,
            files=not small,
            thinking="nova-2" in lower,
        )
    if "deepseek" in lower:
        return ModelProfile(context_window=128_000, tools="r1" not in lower, thinking=True)
    if "gpt-oss" in lower:
        return ModelProfile(context_window=128_000, thinking=True)
    if "llama" in lower:
        return ModelProfile(context_window=128_000, vision="vision" in lower or "llama4" in lower)
    return ModelProfile()


def _status_and_code(exc: botocore_errors.ClientError) -> tuple[int, str, str, dict[str, str]]:
    response: Any = exc.response or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    code = code[:1].upper() + code[1:]  # stream exception frames name the member: throttlingException
    message = str(error.get("Message") or error.get("message") or exc)
    headers = {str(k): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
    status = int(meta.get("HTTPStatusCode") or 0)
    if not status:
        status = (
            429 if code in _RATE_LIMIT_CODES else 403 if code in _AUTH_CODES else 500 if code in _SERVER_CODES else 400
        )
    return status, code, message, headers


def map_error(exc: BaseException, provider: str, model: str) -> ProviderError | UserError | None:
    """The Podium exception for a boto3 failure, or ``None`` when it is not one."""
    if isinstance(exc, botocore_errors.ClientError):
        status, code, message, headers = _status_and_code(exc)
        text = f"{code}: {message}" if code and not code.isdigit() else message
        body: Any = exc.response
        common: dict[str, Any] = {
            "status": status,
            "body": body,
            "provider": provider,
            "model": model,
            "headers": headers,
        }
        if code in _RATE_LIMIT_CODES or status == 429:
            return RateLimitError(text, retry_after=parse_retry_after(headers), **common)
        if code in _AUTH_CODES:
            return AuthenticationError(text, **common)
        if code == "ModelTimeoutException":
            return ProviderTimeoutError(text, provider=provider, model=model)
        if code in _SERVER_CODES:
            return ServerError(text, **common)
        error: ProviderHTTPError = http_error(
            status, body, provider=provider, model=model, headers=headers, message=text
        )
        return error
    if isinstance(exc, (botocore_errors.ReadTimeoutError, botocore_errors.ConnectTimeoutError)):
        return ProviderTimeoutError(f"bedrock did not answer in time: {exc}", provider=provider, model=model)
    if isinstance(
        exc, (botocore_errors.ConnectionError, botocore_errors.HTTPClientError, botocore_errors.IncompleteReadError)
    ):
        return ProviderConnectionError(f"could not reach bedrock: {exc}", provider=provider, model=model)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ReadTimeoutError", "TimeoutError"}:  # urllib3's, while a stream is read
        return ProviderTimeoutError(f"bedrock stopped sending: {exc}", provider=provider, model=model)
    if names & {"ProtocolError", "IncompleteRead", "ConnectionError", "SSLError"}:
        return ProviderConnectionError(f"the connection to bedrock broke: {exc}", provider=provider, model=model)
    if isinstance(exc, botocore_errors.NoCredentialsError):
        return UserError(
            "no AWS credentials found for Bedrock: configure the AWS credential chain (AWS_PROFILE, "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO ...) or pass api_key= (a Bedrock API key)"
        )
    if isinstance(exc, botocore_errors.ParamValidationError):
        return UserError(f"Bedrock rejected the request before sending it: {exc}")
    if isinstance(exc, botocore_errors.BotoCoreError):  # configuration: credentials, profile, endpoint ...
        return UserError(f"Bedrock is not set up right ({type(exc).__name__}): {exc}")
    return None


_RAW_KEY = "PodiumRawBody"
_TYPE_KEY = "PodiumContentType"


def _keep_raw_body(client: Any) -> None:
    """Make ``converse`` responses carry the raw JSON body and its content type too (under ``_RAW_KEY``).

    boto3's shape parser drops fields its service model does not know yet (new usage counters,
    for instance) and decodes blobs; Podium reads the body as the service sent it, like the stream.
    """

    def keep(response_dict: Any, customized_response_dict: Any, **kwargs: Any) -> None:
        if response_dict.get("status_code") == 200 and isinstance(response_dict.get("body"), bytes):
            customized_response_dict[_RAW_KEY] = response_dict["body"]
            headers = response_dict.get("headers") or {}
            customized_response_dict[_TYPE_KEY] = headers.get("content-type") or headers.get("Content-Type")

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-parse.{service}.Converse", keep, unique_id="podium-raw-body")
    endpoint: Any = getattr(client, "_endpoint", None)
    session = getattr(endpoint, "http_session", None)
    if session is not None and not isinstance(session, _DeadlineSession):
        endpoint.http_session = _DeadlineSession(session)


_deadline = threading.local()
"""The deadline of the ``converse`` call this thread is making (``current``), if any."""


class _DeadlineSession:
    """botocore's HTTP session, reading a whole answer within the current call's total timeout.

    botocore reads a non-streamed body itself; this hands it a body whose chunks pass
    :meth:`~podium.providers.transport.guard.Deadline.chunks`, so a slow drip is cut at the total like a stream.
    """

    def __init__(self, session: Any) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def send(self, request: Any) -> Any:
        deadline: Deadline | None = getattr(_deadline, "current", None)
        if deadline is None or request.stream_output:
            return self._session.send(request)
        request.stream_output = True  # leave the body unread
        response = self._session.send(request)
        return AWSResponse(response.url, response.status_code, response.headers, _DeadlineBody(response.raw, deadline))


class _DeadlineBody:
    __slots__ = ("_deadline", "_raw")

    def __init__(self, raw: Any, deadline: Deadline) -> None:
        self._raw = raw
        self._deadline = deadline

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        read1 = getattr(self._raw, "read1", None)  # what has arrived, not a full buffer: the deadline can act
        return self._deadline.chunks(self._raw.stream(**kwargs) if read1 is None else iter(lambda: read1(65536), b""))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _raw_events(chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Converse stream events straight from the event-stream frames: ``{event_type: payload}``.

    boto3 turns each frame into a dict through its shape parser, which costs about three times the
    frame decoding itself; this reads the frames with botocore's own decoder (CRCs checked) and
    ``json.loads``. Blob fields (``redactedContent``) stay base64 strings, as on the wire.
    Exception frames raise the same ``EventStreamError`` boto3 would.
    """
    buffer = EventStreamBuffer()
    for data in chunks:
        buffer.add_data(data)
        frames: Iterator[Any] = iter(buffer)
        for message in frames:
            headers: dict[str, Any] = message.headers
            kind = headers.get(":message-type")
            payload = json.loads(message.payload) if message.payload else {}
            if kind == "event":
                yield {headers.get(":event-type", ""): payload}
                continue
            if kind == "exception":
                code, text = headers.get(":exception-type", ""), payload.get("message", payload.get("Message", ""))
            else:
                code, text = headers.get(":error-code", ""), headers.get(":error-message", "")
            error: Any = {"Error": {"Code": str(code), "Message": str(text)}}
            raise botocore_errors.EventStreamError(error, "ConverseStream")


class _ApiKeyProvider:
    """A botocore token provider that returns a fixed Bedrock API key (bearer token)."""

    def __init__(self, key: str) -> None:
        self._token = FrozenAuthToken(key)

    def load_token(self, **kwargs: Any) -> FrozenAuthToken:
        return self._token


class BedrockModel(Model):
    """A model on AWS Bedrock, through Converse / ConverseStream.

    Args:
        model_name: A model or inference-profile id, such as ``us.anthropic.claude-sonnet-4-5-20250929-v1:0``.
        base_url: Endpoint URL instead of the regional Bedrock runtime endpoint.
        api_key: A Bedrock API key (bearer token) instead of AWS credentials.
        client: A ready boto3 ``bedrock-runtime`` client (then the connection options are ignored).
        retry: Podium's retry policy (default :class:`RetryPolicy`).
        profile: Override the capability profile.
        region: AWS region (default: the AWS configuration's).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`; a number given
            as ``timeout=`` is the total); a botocore ``config`` with its own ``connect_timeout``/``read_timeout``
            wins over them.
        **client_options: Other boto3 client arguments (``aws_access_key_id``, ``profile_name``,
            ``config`` ...).
    """

    provider = "bedrock"

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        region: str | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        self.model_name = require_model_name(self.provider, model_name)
        self.retry = retry or RetryPolicy()
        client_options = dict(client_options)
        self.timeouts = timeouts_option(timeouts, client_options)
        self._profile = profile
        self._given_client = client
        self._clients: dict[tuple[float, float], Any] = {}
        self._boto_session: Any = None
        self._lock = threading.Lock()
        self._base_url = base_url
        self._api_key = api_key
        self._region = region or client_options.pop("region_name", None)
        self._profile_name = client_options.pop("profile_name", None)
        self._config: Config | None = client_options.pop("config", None)
        self._client_options = client_options

    @property
    def profile(self) -> ModelProfile:
        """Capabilities of this model (from its family unless given)."""
        return self._profile or bedrock_profile(self.model_name)

    def client_for(self, timeouts: Timeouts | None = None, *, stream: bool = False) -> Any:
        """The boto3 ``bedrock-runtime`` client (one per connect/read timeout pair, created on first use)."""
        if self._given_client is not None:
            _keep_raw_body(self._given_client)
            return self._given_client
        phases = http_timeouts(resolve_timeouts(self.timeouts, None) if timeouts is None else timeouts, stream=stream)
        key = (phases["connect"], phases["read"])
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._make_client(*key)
                _keep_raw_body(client)
            return client

    def _session(self) -> Any:
        """One boto3 session per model: its clients (one per timeout pair) share credentials and loaders."""
        if self._boto_session is None:
            core = botocore.session.Session()
            if self._api_key is not None:
                core.register_component("token_provider", _ApiKeyProvider(self._api_key))
                # no AWS credentials are needed: keep botocore from probing the credential chain (IMDS ...)
                core.register_component("credential_provider", CredentialResolver(providers=[]))
            self._boto_session = boto3.Session(
                botocore_session=core, region_name=self._region, profile_name=self._profile_name
            )
        return self._boto_session

    def _make_client(self, connect: float, read: float) -> Any:
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=connect, read_timeout=read)
        if self._config is not None:
            config = config.merge(self._config)
        if self._api_key is not None:
            config = config.merge(Config(signature_version="bearer"))
        try:
            session = self._session()
            return session.client("bedrock-runtime", endpoint_url=self._base_url, config=config, **self._client_options)
        except botocore_errors.NoRegionError as exc:
            raise UserError(
                f"no AWS region for Bedrock ({self.model_name}): pass region= (e.g. podium.model("
                f"'bedrock:{self.model_name}', region='us-east-1')) or set AWS_REGION"
            ) from exc
        except botocore_errors.BotoCoreError as exc:
            raise UserError(f"cannot create the Bedrock client for {self.model_name}: {exc}") from exc

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
    ) -> tuple[JsonDict, Timeouts]:
        settings = settings or ModelSettings()
        body = build_request(
            messages, provider=self.provider, model_id=self.model_name, tools=tools, settings=settings, output=output
        )
        body["modelId"] = self.model_name
        return body, resolve_timeouts(self.timeouts, settings)

    def _call(self, fn: Any, body: JsonDict) -> Any:
        try:
            return fn(**body)
        except Exception as exc:
            error = map_error(exc, self.provider, self.model_name)
            if error is None:
                raise
            raise error from exc

    def _cost(self, usage: Usage, model: str) -> float | None:
        return cost_of(self.provider, model, usage)

    def _converse(self, body: JsonDict, timeouts: Timeouts) -> ModelResponse:
        client = self.client_for(timeouts, stream=False)
        _deadline.current = Deadline(timeouts, self.provider, self.model_name)
        try:
            raw = self._call(client.converse, body)
        finally:
            _deadline.current = None
        wire = raw.get(_RAW_KEY)
        check_content_type(
            {"content-type": raw.get(_TYPE_KEY) or ""}, JSON, provider=self.provider, model=self.model_name, body=wire
        )
        try:
            data = json.loads(wire) if wire is not None else raw
        except ValueError as exc:
            raise not_json(self.provider, self.model_name, wire or b"") from exc
        acc = ConverseAccumulator(self.provider, self.model_name)
        acc.feed_response(data)
        return acc.build(cost_of=self._cost)

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` with ``converse`` and return the whole response."""
        body, timeouts = self._prepare(messages, tools, settings, output)
        return call_with_retries(lambda: self._converse(body, timeouts), self.retry)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages`` with ``converse_stream``; yield deltas, then the final response."""
        body, timeouts = self._prepare(messages, tools, settings, output)
        yield from guarded_stream(
            lambda deadline: self._stream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _stream_once(self, body: JsonDict, timeouts: Timeouts, deadline: Deadline) -> Iterator[StreamEvent]:
        raw = self._call(self.client_for(timeouts, stream=True).converse_stream, body)
        events = raw["stream"]
        acc = ConverseAccumulator(self.provider, self.model_name)
        try:
            headers = (raw.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
            raw_stream: Any = getattr(events, "_raw_stream", None)
            readable = hasattr(raw_stream, "stream")
            check_content_type(
                headers,
                EVENTSTREAM,
                provider=self.provider,
                model=self.model_name,
                body=lambda: first_bytes(raw_stream.stream()) if readable else b"",
            )
            iterator = _raw_events(deadline.chunks(raw_stream.stream())) if readable else deadline.chunks(events)
            for event in iterator:
                yield from acc.feed_event(event)
        except ProviderError:
            if not acc.complete:  # once messageStop arrived the answer is whole: a later failure does not matter
                raise
        except Exception as exc:
            error = map_error(exc, self.provider, self.model_name)
            if error is None:
                raise
            if not acc.complete:
                raise error from exc
        finally:
            events.close()
        if not acc.complete:
            raise incomplete_stream(self.provider, self.model_name, "messageStop")
        yield acc.build(cost_of=self._cost)

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request`: the boto3 call runs in a worker thread."""
        return await asyncio.to_thread(self.request, messages, tools=tools, settings=settings, output=output)

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`: the boto3 stream is read in a worker thread, events arrive as they come."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def post(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop closed: nobody is listening any more
                stop.set()

        def produce() -> None:
            generator = self.stream(messages, tools=tools, settings=settings, output=output)
            try:
                for event in generator:
                    if stop.is_set():
                        break
                    post(("event", event))
            except BaseException as exc:
                post(("error", exc))
                return
            finally:
                close = getattr(generator, "close", None)
                if close is not None:
                    close()
            post(("done", None))

        worker = threading.Thread(target=produce, name="podium-bedrock-stream", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "event":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
