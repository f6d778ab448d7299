"""AWS Bedrock through the Converse and ConverseStream APIs (provider ``bedrock``), over Podium's own transport.

Requests are ``POST {endpoint}/model/{modelId}/converse`` and ``.../converse-stream`` (the model id
percent-encoded as botocore does, so ARNs and inference profiles work), sent by
:class:`~podium.providers.transport.model.WireModel` and signed with AWS Signature V4 or a Bedrock API key.
Region, endpoint and credentials come from where boto3 finds them (:mod:`podium.providers.bedrock_aws`);
only ``botocore`` is used (``pip install 'podium[bedrock]'``), for its signer, credential chain and
event-stream frame decoder, never boto3. The translation is :mod:`podium.providers.bedrock_wire`.

Podium parses the JSON the service sent, so nothing is lost to a client's shape parser (usage counters or
fields newer than the installed botocore stay in ``provider_details``); blobs (``redactedContent``, media)
travel as base64. The async methods are real async (one ``httpx2`` client per event loop, no worker thread;
with keys from the credential chain, only the signing runs in a thread, as loading them may block).

Example::

    import podium

    model = podium.model("bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0", region="us-east-1")
    print(model.request([podium.Message.user("Hello")]).text)

Settings: temperature, max_tokens, top_p, stop (``inferenceConfig``), tool_choice (``toolChoice``;
``none`` sends the tools without a choice, since Converse has no "none"), thinking (see
:func:`~podium.providers.bedrock_wire.thinking_fields`) and the timeouts. ``seed`` and
``parallel_tool_calls`` have no Converse field and are ignored. ``ModelSettings(extra={"bedrock": {...}})``
is deep-merged into the request last (``guardrailConfig``, ``performanceConfig``,
``additionalModelRequestFields`` ...); its ``cache_tools`` key puts a cache point after the tool definitions.

Errors: an HTTP error or an exception frame inside the stream becomes Podium's exception by its AWS error
code (``ThrottlingException`` -> RateLimitError, ``AccessDeniedException`` -> AuthenticationError,
``ModelTimeoutException`` -> ProviderTimeoutError, ``ValidationException`` -> BadRequestError ...), the code
prefixing the message (:func:`~podium.providers.bedrock_aws.aws_error`). A stream is whole when its
``messageStop`` and then its ``metadata`` (the usage) arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.exceptions import InvalidResponseError
from podium.exceptions import ProviderError
from podium.exceptions import UserError
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.bedrock_aws import AWSKeys
from podium.providers.bedrock_aws import bedrock_endpoint
from podium.providers.bedrock_aws import http_status_error
from podium.providers.bedrock_aws import model_path
from podium.providers.bedrock_aws import stream_exception
from podium.providers.bedrock_wire import ConverseAccumulator
from podium.providers.bedrock_wire import build_request
from podium.providers.bedrock_wire import wire_json
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import WireModel
from podium.streaming import StreamDelta
from podium.usage import CostValue
from podium.usage import Usage

try:
    import botocore  # noqa: F401 - the signer, credential chain and frame decoder are botocore's
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the Bedrock provider needs botocore: pip install 'podium[bedrock]'") from _exc

__all__ = ["BedrockModel", "bedrock_profile"]

PROVIDER = "bedrock"

_OWN_OPTIONS = frozenset(
    {"endpoint_url", "region_name", "profile_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
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
            cache_points=True,
        )
    if "nova" in lower:
        small = "micro" in lower
        return ModelProfile(
            context_window=128_000 if small else 300_000,
            max_output_tokens=10_000,
            vision=not small,
            files=not small,
            thinking="nova-2" in lower,
            cache_points=True,
        )
    if "deepseek" in lower:
        return ModelProfile(context_window=128_000, tools="r1" not in lower, thinking=True)
    if "gpt-oss" in lower:
        return ModelProfile(context_window=128_000, thinking=True)
    if "llama" in lower:
        return ModelProfile(context_window=128_000, vision="vision" in lower or "llama4" in lower)
    return ModelProfile()


def _cost(usage: Usage, model: str) -> CostValue:
    return cost_of(PROVIDER, model, usage)


def _malformed(what: str, data: Any, exc: Exception, model: str) -> InvalidResponseError:
    text = repr(data)[:300]
    return InvalidResponseError(
        f"bedrock sent {what} that is not in the Converse shape ({type(exc).__name__}: {exc}): {text}",
        body=text,
        provider=PROVIDER,
        model=model,
    )


class _ConverseStream(ConverseAccumulator):
    """One ``converse-stream``'s events -> deltas, then the response (the transport's stream state)."""

    __slots__ = ()

    def feed(self, chunk: Any) -> list[StreamDelta]:
        """Take one event (``{"contentBlockDelta": {...}}`` ...)."""
        try:
            return self.feed_event(chunk)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise _malformed("an event", chunk, exc, self._model) from exc

    def finish(self) -> ModelResponse:
        """The final response, with its cost."""
        return self.build(cost_of=_cost)


class BedrockModel(WireModel):
    """A model on AWS Bedrock, through Converse / ConverseStream.

    Args:
        model_name: A model id, inference-profile id or ARN, such as
            ``us.anthropic.claude-sonnet-4-5-20250929-v1:0``.
        base_url: Endpoint URL instead of the regional Bedrock runtime endpoint (``endpoint_url=`` too;
            else ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL`` or the AWS config's).
        api_key: A Bedrock API key (bearer token) instead of AWS credentials (else ``AWS_BEARER_TOKEN_BEDROCK``,
            unless AWS keys are passed).
        retry: Podium's retry policy (default :class:`RetryPolicy`).
        profile: Override the capability profile.
        region: AWS region (``region_name=`` too; default: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the AWS
            profile's).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`; a number given
            as ``timeout=`` is the total).
        **client_options: ``profile_name``, ``aws_access_key_id``, ``aws_secret_access_key``,
            ``aws_session_token``, and the HTTP client options
            (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`).
    """

    provider = PROVIDER
    stream_format = "eventstream"
    end_marker = "messageStop, then metadata"
    extra_options = _OWN_OPTIONS

    family_profile = bedrock_profile

    def __init__(self, model_name: str, *, region: str | None = None, **options: Any) -> None:
        self.region = region
        """The AWS region requests are signed for (``None``: none was found; the first request says so)."""
        super().__init__(model_name, **options)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The regional runtime endpoint (or the configured one), signed with SigV4 or a Bedrock API key."""
        endpoint_url = options.pop("endpoint_url", None)
        region_name = options.pop("region_name", None)
        profile_name = options.pop("profile_name", None)
        access_key = options.pop("aws_access_key_id", None)
        secret_key = options.pop("aws_secret_access_key", None)
        token = options.pop("aws_session_token", None)
        if bool(access_key) != bool(secret_key) or (token and not access_key):
            raise UserError(
                "bedrock: aws_access_key_id= and aws_secret_access_key= go together (aws_session_token= with "
                "them, for temporary credentials); or pass neither, to use the AWS credential chain"
            )
        keys = AWSKeys(str(access_key), str(secret_key), token) if access_key else None
        endpoint, self.region = bedrock_endpoint(
            self.model_name,
            base_url=base_url or endpoint_url,
            api_key=api_key,
            region=self.region or region_name,
            profile_name=profile_name,
            keys=keys,
        )
        return endpoint

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The Converse request body (the model id goes in the path)."""
        messages, tools, settings, output, _ = call
        body = build_request(
            messages, provider=PROVIDER, model_id=self.model_name, tools=tools, settings=settings, output=output
        )
        return wire_json(body)

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/model/{modelId}/converse`` or ``/model/{modelId}/converse-stream``."""
        return model_path(self.model_name, "converse-stream" if stream else "converse")

    def request_headers(self, body: dict[str, Any], *, stream: bool) -> Mapping[str, str]:
        """The answer's content type: an AWS event stream, or JSON."""
        return {"accept": "application/vnd.amazon.eventstream" if stream else "application/json"}

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``converse`` answer."""
        acc = ConverseAccumulator(PROVIDER, self.model_name)
        try:
            acc.feed_response(data)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise _malformed("an answer", data, exc, self.model_name) from exc
        return acc.build(cost_of=_cost)

    def stream_state(self) -> _ConverseStream:
        """A fresh state for one ``converse-stream``."""
        return _ConverseStream(PROVIDER, self.model_name)

    def status_error(self, status: int, body: Any, headers: dict[str, str]) -> ProviderError:
        """The error for an HTTP error answer, by its AWS error code (``x-amzn-ErrorType``) and status."""
        return http_status_error(status, body, headers, provider=PROVIDER, model=self.model_name)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an exception frame inside the stream, by its exception type."""
        return stream_exception(body, provider=PROVIDER, model=self.model_name)
