"""Bedrock over Podium's own transport: paths, signatures, credentials, regions, endpoints, errors, async.

What boto3 did for Podium is now Podium's, with botocore only: each test checks one of those jobs against
botocore itself (the path it serializes, the endpoint it resolves), against an independent Signature V4
computation from the bytes sent, or against the AWS configuration files and variables boto3 reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from aws_frames import frame

from podium.exceptions import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    UserError,
)
from podium.messages import Message, ModelResponse
from podium.providers.bedrock import BedrockModel
from podium.providers.bedrock_aws import model_path, regional_url
from podium.providers.retry import RetryPolicy
from podium.streaming import TextDelta

pytestmark = pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")

NOVA = "us.amazon.nova-micro-v1:0"
NO_RETRY = RetryPolicy(max_retries=0)
EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}
ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi!"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
    "metrics": {"latencyMs": 9},
}
MODEL_IDS = [
    NOVA,
    "anthropic.claude-3-haiku-20240307-v1:0:200k",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
    "odd id+with space~and%percent",
]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS variables, empty AWS config files in ``tmp_path``, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def stream_of(*texts: str, end: bool = True, usage: dict[str, Any] | None = None) -> list[bytes]:
    frames = [frame("messageStart", {"role": "assistant"})]
    frames += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts]
    frames.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
    if end:
        frames.append(frame("messageStop", {"stopReason": "end_turn"}))
        frames.append(frame("metadata", {"usage": usage or {"inputTokens": 3, "outputTokens": 2}, "metrics": {}}))
    return frames


class Capture:
    """A mock transport answering every request with ``reply(request)`` and keeping the requests."""

    def __init__(self, reply: Callable[[httpx2.Request], httpx2.Response] | None = None) -> None:
        self.requests: list[httpx2.Request] = []
        self._reply = reply or (lambda request: httpx2.Response(200, json=ANSWER))

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return self._reply(request)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


def model(capture: Capture, model_id: str = NOVA, **options: Any) -> BedrockModel:
    options.setdefault("retry", NO_RETRY)
    return BedrockModel(model_id, http_client=capture.client(), **options)


# --------------------------------------------------------------------------- paths, as botocore serializes them


def botocore_url(model_id: str, operation: str = "converse", region: str = "us-east-1", **client: Any) -> str:
    """The URL botocore's own client sends for ``model_id`` (captured before sending)."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    client.setdefault("endpoint_url", "https://bedrock.example")
    bedrock = botocore.session.Session().create_client(
        "bedrock-runtime", region_name=region, aws_access_key_id="AKID", aws_secret_access_key="secret", **client
    )
    seen: list[str] = []

    def answer(request: Any, **kwargs: Any) -> Any:
        seen.append(request.url)
        return AWSResponse(request.url, 500, {}, None)

    bedrock.meta.events.register("before-send", answer)
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    call = bedrock.converse if operation == "converse" else bedrock.converse_stream
    with pytest.raises(Exception):  # noqa: B017 - the answer is a stub; only the URL matters
        call(modelId=model_id, messages=messages)
    return seen[0]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_the_path_is_the_one_botocore_sends(model_id: str) -> None:
    capture = Capture()
    model(capture, model_id, base_url="https://bedrock.example", region="us-east-1", api_key="k").request(
        [Message.user("hi")]
    )
    sent = capture.requests[0].url
    assert str(sent) == botocore_url(model_id)
    assert sent.raw_path.decode() == model_path(model_id, "converse")
    assert sent.raw_path.count(b"/") == 3, "an ARN's '/' stays inside the model id's path segment"
    assert model_path(model_id, "converse-stream") == botocore_url(model_id, "stream").split("example", 1)[1]


# --------------------------------------------------------------------------- Signature V4


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(request: httpx2.Request, secret: str, region: str, service: str = "bedrock") -> dict[str, str]:
    """Check ``request``'s Authorization from the bytes on the wire, per the SigV4 specification (no botocore).

    Returns the Authorization header's fields.
    """
    auth = request.headers["authorization"]
    algorithm, _, rest = auth.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    access_key, date, scope_region, scope_service, terminator = fields["Credential"].split("/")
    assert (scope_region, scope_service, terminator) == (region, service, "aws4_request")
    amz_date = request.headers["x-amz-date"]
    assert amz_date.startswith(date)
    signed = fields["SignedHeaders"].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    canonical_headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed)
    canonical_uri = quote(request.url.raw_path.split(b"?")[0].decode(), safe="/~")  # non-S3: encoded twice
    query = "&".join(sorted(request.url.query.decode().split("&"))) if request.url.query else ""
    canonical = "\n".join(
        [
            request.method,
            canonical_uri,
            query,
            canonical_headers,
            fields["SignedHeaders"],
            hashlib.sha256(request.content).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == fields["Signature"]
    return {**fields, "access_key": access_key}


@pytest.mark.parametrize("model_id", [NOVA, MODEL_IDS[2]])
@pytest.mark.usefixtures("aws_env")
def test_requests_are_signed_for_the_bytes_sent(model_id: str) -> None:
    capture = Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=b"".join(stream_of("Hi"))))
    keys = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"}
    bedrock = model(capture, model_id, region="eu-west-3", default_query={"trace": "1"}, **keys)
    events = list(bedrock.stream([Message.user("Grüße ✓")]))
    assert isinstance(events[-1], ModelResponse) and events[-1].text == "Hi"
    request = capture.requests[0]
    assert request.url.host == "bedrock-runtime.eu-west-3.amazonaws.com"
    assert verify_sigv4(request, "wJalrXUtnFEMI/K7MDENG", "eu-west-3")["access_key"] == "AKIDEXAMPLE"
    assert "x-amz-security-token" not in request.headers
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"


@pytest.mark.usefixtures("aws_env")
def test_a_session_token_is_sent_and_signed() -> None:
    capture = Capture()
    keys = {"aws_access_key_id": "ASIA1", "aws_secret_access_key": "s3cr3t", "aws_session_token": "TOKEN-1"}
    model(capture, region="us-east-1", **keys).request([Message.user("hi")])
    request = capture.requests[0]
    fields = verify_sigv4(request, "s3cr3t", "us-east-1")
    assert request.headers["x-amz-security-token"] == "TOKEN-1"
    assert "x-amz-security-token" in fields["SignedHeaders"].split(";")


# --------------------------------------------------------------------------- credentials and region


def write_profile(home: Path, name: str, region: str, key: str, secret: str) -> None:
    section = "default" if name == "default" else f"profile {name}"
    with (home / "config").open("a") as f:
        f.write(f"[{section}]\nregion = {region}\n")
    with (home / "credentials").open("a") as f:
        f.write(f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")


def test_profile_name_gives_region_and_credentials(aws_env: Path) -> None:
    write_profile(aws_env, "default", "us-east-1", "AKIDDEFAULT", "default-secret")
    write_profile(aws_env, "podium", "ap-southeast-2", "AKIDPODIUM", "podium-secret")
    capture = Capture()
    bedrock = model(capture, profile_name="podium")
    assert bedrock.region == "ap-southeast-2"
    assert bedrock.base_url == "https://bedrock-runtime.ap-southeast-2.amazonaws.com"
    bedrock.request([Message.user("hi")])
    assert verify_sigv4(capture.requests[0], "podium-secret", "ap-southeast-2")["access_key"] == "AKIDPODIUM"


def test_the_default_chain_reads_the_environment(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_profile(aws_env, "default", "us-east-1", "AKIDFILE", "file-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    capture = Capture()
    model(capture).request([Message.user("hi")])
    assert verify_sigv4(capture.requests[0], "env-secret", "eu-north-1")["access_key"] == "AKIDENV"
    seen: list[httpx2.Request] = []

    async def reply(request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        seen.append(request)
        return httpx2.Response(200, json=ANSWER)

    async def chain_async() -> ModelResponse:  # the chain may block: async requests sign it in a thread
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(reply))
        return await BedrockModel(NOVA, async_http_client=client).arequest([Message.user("hi")])

    assert asyncio.run(chain_async()).text == "Hi!"
    assert verify_sigv4(seen[0], "env-secret", "eu-north-1")["access_key"] == "AKIDENV"
    explicit = Capture()  # keys in code win over the chain
    model(explicit, aws_access_key_id="AKIDCODE", aws_secret_access_key="code-secret").request([Message.user("x")])
    assert verify_sigv4(explicit.requests[0], "code-secret", "eu-north-1")["access_key"] == "AKIDCODE"


@pytest.mark.parametrize(
    ("env", "given", "expected"),
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, None, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-2"}, None, "eu-west-2"),
        ({}, None, "us-west-2"),  # the profile's
        ({"AWS_REGION": "eu-west-1"}, "ca-central-1", "ca-central-1"),
    ],
)
def test_region_order(
    aws_env: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], given: str | None, expected: str
) -> None:
    write_profile(aws_env, "default", "us-west-2", "AKID", "secret")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bedrock = BedrockModel(NOVA, region=given)
    assert bedrock.region == expected
    assert bedrock.base_url == f"https://bedrock-runtime.{expected}.amazonaws.com"
    assert BedrockModel(NOVA, region_name=given).region == expected


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"profile_name": "missing"}, ["missing", "AWS configuration"]),
        ({"region": "us-east-1", "profile_name": "missing"}, ["profile", "missing"]),
        ({"region": "not a region/evil.com"}, ["not an AWS region"]),
        ({"base_url": "https://proxy.example", "aws_access_key_id": "A", "aws_secret_access_key": "B"}, ["region"]),
    ],
)
def test_configuration_problems_are_clear_at_the_first_request(options: dict[str, Any], words: list[str]) -> None:
    bedrock = BedrockModel(NOVA, retry=NO_RETRY, **options)  # made without a check, like any model
    for call in (lambda: bedrock.request([Message.user("hi")]), lambda: list(bedrock.stream([Message.user("hi")]))):
        with pytest.raises(UserError) as info:
            call()
        for word in words:
            assert word in str(info.value), (word, str(info.value))


@pytest.mark.usefixtures("aws_env")
def test_half_given_keys_are_refused() -> None:
    for options in ({"aws_access_key_id": "A"}, {"aws_secret_access_key": "B"}, {"aws_session_token": "T"}):
        with pytest.raises(UserError, match="go together"):
            BedrockModel(NOVA, region="us-east-1", **options)
    with pytest.raises(UserError, match=r"unknown option.*botocore_config.*profile_name"):
        BedrockModel(NOVA, region="us-east-1", botocore_config=object())


# --------------------------------------------------------------------------- Bedrock API keys


@pytest.mark.usefixtures("aws_env")
def test_the_bedrock_key_variable_is_a_bearer_token_unless_keys_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSK-from-env")
    capture = Capture()
    model(capture, region="us-east-1").request([Message.user("hi")])
    assert capture.requests[0].headers["authorization"] == "Bearer ABSK-from-env"
    keys = {"aws_access_key_id": "AKID", "aws_secret_access_key": "secret"}
    model(capture, region="us-east-1", **keys).request([Message.user("hi")])
    verify_sigv4(capture.requests[1], "secret", "us-east-1")
    model(capture, region="us-east-1", api_key="ABSK-given").request([Message.user("hi")])
    assert capture.requests[2].headers["authorization"] == "Bearer ABSK-given"


@pytest.mark.usefixtures("aws_env")
def test_a_bedrock_key_is_never_sent_in_clear_text_off_this_machine() -> None:
    capture = Capture()
    bedrock = model(capture, base_url="http://proxy.example:8080", api_key="ABSK-secret")
    with pytest.raises(UserError, match="only over HTTPS"):
        bedrock.request([Message.user("hi")])
    assert capture.requests == []
    for local in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"):
        model(capture, base_url=local, api_key="ABSK-secret").request([Message.user("hi")])
    assert [r.headers["authorization"] for r in capture.requests] == ["Bearer ABSK-secret"] * 3


# --------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "eusc-de-east-1"]
)
@pytest.mark.parametrize(("fips", "dualstack"), [(False, False), (True, False), (False, True), (True, True)])
def test_regional_endpoints_are_the_ones_botocore_sends_to(region: str, fips: bool, dualstack: bool) -> None:
    from botocore.config import Config

    config = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack)
    sent = botocore_url("m", region=region, config=config, endpoint_url=None)
    assert sent == regional_url(region, fips=fips, dualstack=dualstack) + "/model/m/converse"


@pytest.mark.usefixtures("aws_env")
def test_configured_endpoints_and_fips_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert BedrockModel(NOVA, region="us-east-2").base_url == "https://bedrock-runtime-fips.us-east-2.amazonaws.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://all-services.example")
    assert BedrockModel(NOVA, region="us-east-2").base_url == "https://all-services.example"
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "https://bedrock-proxy.example/")
    assert BedrockModel(NOVA, region="us-east-2").base_url == "https://bedrock-proxy.example"
    assert (
        BedrockModel(NOVA, region="us-east-2", endpoint_url="https://mine.example").base_url == "https://mine.example"
    )
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert BedrockModel(NOVA, region="us-east-2").base_url == "https://bedrock-runtime-fips.us-east-2.amazonaws.com"


# --------------------------------------------------------------------------- errors: HTTP and in-stream alike


STREAM_EXCEPTIONS = [  # ConverseStream's exception members, with the HTTP status AWS documents for each
    ("throttlingException", 429, RateLimitError),
    ("validationException", 400, BadRequestError),
    ("internalServerException", 500, ServerError),
    ("serviceUnavailableException", 503, ServerError),
    ("modelStreamErrorException", 424, ServerError),
]


@pytest.mark.parametrize(("code", "status", "kind"), STREAM_EXCEPTIONS)
def test_an_exception_frame_is_the_exception_of_the_same_http_error(code: str, status: int, kind: type) -> None:
    name = code[0].upper() + code[1:]
    raised: list[ProviderError] = []
    frames = [frame("messageStart", {"role": "assistant"}), frame(code, {"message": "fake"}, "exception")]
    for reply in (
        httpx2.Response(200, headers=EVENTSTREAM, content=b"".join(frames)),
        httpx2.Response(status, headers={"x-amzn-ErrorType": f"{name}:http://internal"}, json={"message": "fake"}),
    ):
        bedrock = model(Capture(lambda r, reply=reply: reply), region="us-east-1", api_key="k")
        with pytest.raises(ProviderError) as info:
            list(bedrock.stream([Message.user("hi")]))
        raised.append(info.value)
    streamed, answered = raised
    assert type(streamed) is type(answered) is kind, (streamed, answered)
    assert str(streamed).startswith(f"{name}: fake") and str(answered).startswith(f"{name}: fake")


@pytest.mark.parametrize(
    ("code", "kind"),
    [("AccessDeniedException", AuthenticationError), ("ModelTimeoutException", ProviderTimeoutError)],
)
def test_error_codes_refine_the_status(code: str, kind: type) -> None:
    reply = httpx2.Response(400, headers={"x-amzn-errortype": code}, json={"Message": "no"})
    bedrock = model(Capture(lambda r: reply), region="us-east-1", api_key="k")
    with pytest.raises(kind, match=f"^{code}: no"):
        bedrock.request([Message.user("hi")])


def test_a_stream_without_its_metadata_is_incomplete() -> None:
    """The usage comes last, in ``metadata``: a stream cut after ``messageStop`` would under-report it."""
    frames = stream_of("Hel", "lo")[:-1]
    bedrock = model(
        Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=b"".join(frames))),
        region="us-east-1",
        api_key="k",
    )
    events: list[Any] = []
    with pytest.raises(IncompleteStreamError, match="messageStop, then metadata") as info:
        events.extend(bedrock.stream([Message.user("hi")]))
    assert [e.text for e in events] == ["Hel", "lo"]
    assert info.value.partial is not None and info.value.partial.text == "Hello"


def test_a_broken_frame_is_an_invalid_response_and_retried_before_any_output() -> None:
    good = b"".join(stream_of("Hi"))
    broken = bytearray(good)
    broken[30] ^= 0xFF  # inside the first frame: its CRC no longer matches
    replies = iter([bytes(broken), good])
    capture = Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=next(replies)))
    bedrock = model(capture, region="us-east-1", api_key="k", retry=RetryPolicy(max_retries=1, initial_delay=0))
    assert list(bedrock.stream([Message.user("hi")]))[-1].text == "Hi"  # type: ignore[union-attr]
    assert len(capture.requests) == 2
    broken_only = model(
        Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=bytes(broken))),
        region="us-east-1",
        api_key="k",
    )
    with pytest.raises(InvalidResponseError, match=r"broken event-stream frame.*checksum"):
        list(broken_only.stream([Message.user("hi")]))


# --------------------------------------------------------------------------- what a shape parser would drop


def test_fields_botocore_does_not_know_are_kept() -> None:
    usage = {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5, "futureTokens": 7}
    whole = {
        **ANSWER,
        "usage": usage,
        "serviceTier": {"type": "priority"},
        "output": {"message": {"role": "assistant", "content": [{"text": "Hi!"}, {"futureBlock": {"x": 1}}]}},
    }
    response = model(Capture(lambda r: httpx2.Response(200, json=whole)), region="us-east-1", api_key="k").request(
        [Message.user("hi")]
    )
    assert response.provider_details is not None
    assert response.provider_details["usage"]["futureTokens"] == 7
    assert response.provider_details["serviceTier"] == {"type": "priority"}
    assert response.parts[1].data == {"futureBlock": {"x": 1}}  # type: ignore[union-attr]
    frames = stream_of("Hi", usage=usage)
    streamed = model(
        Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=b"".join(frames))),
        region="us-east-1",
        api_key="k",
    )
    final = list(streamed.stream([Message.user("hi")]))[-1]
    assert isinstance(final, ModelResponse) and final.provider_details is not None
    assert final.provider_details["usage"]["futureTokens"] == 7


def test_an_event_of_the_wrong_shape_is_an_invalid_response() -> None:
    frames = [frame("messageStart", {"role": "assistant"}), frame("contentBlockDelta", {"delta": "text, not a map"})]
    bedrock = model(
        Capture(lambda r: httpx2.Response(200, headers=EVENTSTREAM, content=b"".join(frames))),
        region="us-east-1",
        api_key="k",
    )
    with pytest.raises(InvalidResponseError, match="not in the Converse shape"):
        list(bedrock.stream([Message.user("hi")]))
    whole = model(
        Capture(lambda r: httpx2.Response(200, json={"output": "text, not a map"})), region="us-east-1", api_key="k"
    )
    with pytest.raises(InvalidResponseError, match="not in the Converse shape"):
        whole.request([Message.user("hi")])


def test_extra_settings_merge_into_the_body_botocore_accepts() -> None:
    from sdk_schemas import validate_bedrock

    from podium.messages import File, Image
    from podium.settings import ModelSettings

    capture = Capture()
    extra = {
        "inferenceConfig": {"stopSequences": ["END"]},
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
    }
    settings = ModelSettings(temperature=0.5, extra={"bedrock": extra})
    message = Message.user(
        "see", Image(data=b"\x89PNG", media_type="image/png"), File(data=b"%PDF", media_type="application/pdf")
    )
    model(capture, region="us-east-1", api_key="k").request([message], settings=settings)
    body = json.loads(capture.requests[0].content)
    assert body["inferenceConfig"] == {"temperature": 0.5, "stopSequences": ["END"]}
    assert body["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": "iVBORw=="}}}
    validate_bedrock(body, model_id=NOVA)


# --------------------------------------------------------------------------- async, for real


def test_async_streams_run_on_the_event_loop_and_interleave() -> None:
    """Two streams in one event loop: each waits for the other's first event, which only works if both are read
    concurrently by the loop itself; every body chunk is read on the loop's thread (no worker thread)."""
    threads: set[int] = set()

    async def main() -> list[list[Any]]:
        started = {"a": asyncio.Event(), "b": asyncio.Event()}

        async def body(me: str, other: str) -> AsyncIterator[bytes]:
            frames = stream_of(f"{me}1", f"{me}2")
            threads.add(threading.get_ident())
            yield b"".join(frames[:2])
            started[me].set()
            await asyncio.wait_for(started[other].wait(), 5)
            threads.add(threading.get_ident())
            yield b"".join(frames[2:])

        async def reply(request: httpx2.Request) -> httpx2.Response:
            me = json.loads(request.content)["messages"][0]["content"][0]["text"]
            return httpx2.Response(200, headers=EVENTSTREAM, content=body(me, "b" if me == "a" else "a"))

        client = httpx2.AsyncClient(transport=httpx2.MockTransport(reply))
        keys = {"aws_access_key_id": "AKID", "aws_secret_access_key": "secret"}
        bedrock = BedrockModel(NOVA, region="us-east-1", async_http_client=client, retry=NO_RETRY, **keys)

        async def collect(text: str) -> list[Any]:
            return [event async for event in bedrock.astream([Message.user(text)])]

        before = threading.active_count()
        results = await asyncio.gather(collect("a"), collect("b"))
        assert threading.active_count() == before, "no thread was started"
        return list(results)

    a, b = asyncio.run(main())
    assert threads == {threading.get_ident()}
    assert [e.text for e in a if isinstance(e, TextDelta)] == ["a1", "a2"]
    assert isinstance(b[-1], ModelResponse) and b[-1].text == "b1b2"


def test_async_request_uses_the_given_async_client() -> None:
    seen: list[str] = []

    async def reply(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers["authorization"])
        return httpx2.Response(200, json=ANSWER)

    async def main() -> ModelResponse:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(reply))
        bedrock = BedrockModel(NOVA, region="us-east-1", api_key="ABSK", async_http_client=client)
        return await bedrock.arequest([Message.user("hi")])

    assert asyncio.run(main()).text == "Hi!"
    assert seen == ["Bearer ABSK"]


# --------------------------------------------------------------------------- no boto3


def test_the_runtime_path_never_imports_boto3() -> None:
    code = """
import sys, httpx2
from podium.messages import Message
from podium.providers.bedrock import BedrockModel
answer = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn"}
client = httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200, json=answer)))
model = BedrockModel("m", region="us-east-1", aws_access_key_id="A", aws_secret_access_key="B", http_client=client)
assert model.request([Message.user("hi")]).text == "ok"
assert "boto3" not in sys.modules, "boto3 was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
