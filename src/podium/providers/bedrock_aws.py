"""Where Bedrock requests go, how they are signed, and what AWS's error codes mean (botocore, no boto3).

:func:`bedrock_endpoint` resolves what boto3 would, from the same places:

* **Region**: ``region=`` (or ``region_name=``), else ``AWS_REGION``, ``AWS_DEFAULT_REGION``, then the
  ``region`` of the AWS profile (``profile_name=``, else ``AWS_PROFILE``, else ``default``).
* **Endpoint**: ``base_url=`` (or ``endpoint_url=``), else a configured endpoint
  (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL``, or ``endpoint_url`` in the AWS config, unless
  ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is set), else the regional endpoint of the region's partition
  (``https://bedrock-runtime.{region}.amazonaws.com``, ``.amazonaws.com.cn`` in China ...; FIPS and dual-stack
  when ``AWS_USE_FIPS_ENDPOINT`` / ``AWS_USE_DUALSTACK_ENDPOINT`` or the profile ask for them), as the
  service's endpoint rules say.
* **Credentials**: a Bedrock API key (``api_key=``) is sent as ``Authorization: Bearer``; so is
  ``AWS_BEARER_TOKEN_BEDROCK`` unless AWS keys are passed in code. Otherwise requests are signed with
  Signature V4 (:class:`~podium.providers.transport.auth.SigV4Auth`, signing name ``bedrock``) with the keys
  passed in code (``aws_access_key_id=``, ``aws_secret_access_key=``, ``aws_session_token=``), else
  botocore's credential chain (environment, profiles, SSO, ``credential_process``, container and instance
  roles ...), loaded at the first request and refreshed by botocore when it expires.

A bearer key travels in clear text: like botocore, it is sent only over HTTPS (or to this machine's loopback
address, for a local proxy or test server). A missing region or credentials, or an AWS configuration that does
not load, is a :class:`~podium.exceptions.UserError` at the first request saying what to set, never at
``podium.model(...)``.

:func:`aws_error` maps AWS error codes (the ``x-amzn-ErrorType`` header of an HTTP error, the
``:exception-type`` of an exception frame inside a stream) to Podium's exceptions, so the same failure is the
same exception both ways.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import httpx2

from podium.exceptions import AuthenticationError
from podium.exceptions import ProviderError
from podium.exceptions import ProviderTimeoutError
from podium.exceptions import RateLimitError
from podium.exceptions import ServerError
from podium.exceptions import UserError
from podium.providers.transport.auth import MissingCredentials
from podium.providers.transport.auth import SigV4Auth
from podium.providers.transport.auth import register_key
from podium.providers.transport.errors import error_message
from podium.providers.transport.errors import http_error
from podium.providers.transport.errors import parse_retry_after
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.secrets import register_automatic

__all__ = ["AWSKeys", "aws_code", "aws_error", "bedrock_endpoint", "model_path"]

SIGNING_NAME = "bedrock"
"""The SigV4 signing name of the Bedrock runtime API."""
BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"
"""The environment variable of a Bedrock API key (as botocore reads it)."""
UNRESOLVED_URL = "https://bedrock-runtime.amazonaws.com"
"""The base URL shown when no region gave one (never contacted: the first request raises first)."""

_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")  # a DNS label, as botocore checks it
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


def model_path(model_id: str, operation: str) -> str:
    """``/model/{modelId}/{operation}`` with the id percent-encoded as botocore encodes a URI label.

    Everything but letters, digits and ``-._~`` is escaped, so the ``:`` of a version and the ``:`` and
    ``/`` of an ARN or inference-profile ARN stay inside the one path segment.
    """
    return f"/model/{quote(model_id, safe='-._~')}/{operation}"


# --------------------------------------------------------------------------- configuration


class AWSKeys:
    """AWS credentials passed in code (``aws_access_key_id=`` ...), as botocore ``Credentials``."""

    __slots__ = ("access_key", "secret_key", "token")

    def __init__(self, access_key: str, secret_key: str, token: str | None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        register_automatic(secret_key, "aws_secret_access_key")
        register_automatic(token, "aws_session_token")

    def __call__(self) -> Any:
        """The keys as botocore ``Credentials`` (what the signer takes)."""
        from botocore.credentials import Credentials

        return Credentials(self.access_key, self.secret_key, self.token)


class _StaticSigV4(SigV4Auth):
    """SigV4 with keys given in code: signing is arithmetic, so async requests sign on the event loop."""

    blocking = False


class _Profile:
    """The AWS configuration of one profile, read through one botocore session (made on first use)."""

    __slots__ = ("_name", "_session")

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._session: Any = None

    def session(self) -> Any:
        if self._session is None:
            import botocore.session

            self._session = botocore.session.Session(profile=self._name)
        return self._session

    def value(self, name: str) -> Any:
        return self.session().get_config_variable(name)

    def endpoint_url(self) -> str | None:
        if _true(self.value("ignore_configured_endpoint_urls")):
            return None
        from botocore.configprovider import ConfiguredEndpointProvider

        session = self.session()
        provider = ConfiguredEndpointProvider(
            full_config=session.full_config, scoped_config=session.get_scoped_config(), client_name="bedrock-runtime"
        )
        url = provider.provide()
        return str(url) if url else None

    def credentials(self) -> Any:
        """The credential chain's credentials (``None``: none found), loaded once and refreshed by botocore."""
        from botocore.exceptions import BotoCoreError

        try:
            return self.session().get_credentials()
        except BotoCoreError as exc:
            raise UserError(
                f"could not load AWS credentials for Bedrock ({exc}); check AWS_PROFILE / profile_name= and the "
                "AWS config files, pass aws_access_key_id= and aws_secret_access_key=, or a Bedrock API key (api_key=)"
            ) from exc


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


@cache
def _partitions() -> list[dict[str, Any]]:
    data = json.loads((resources.files("botocore") / "data" / "partitions.json").read_text("utf-8"))
    return list(data["partitions"])


def _partition(region: str) -> Mapping[str, Any]:
    """The ``outputs`` of the AWS partition ``region`` is in (botocore's ``partitions.json``)."""
    partitions = _partitions()
    for partition in partitions:
        if region in partition.get("regions", {}):
            return dict(partition["outputs"])
    for partition in partitions:
        if re.match(partition["regionRegex"], region):
            return dict(partition["outputs"])
    return dict(partitions[0]["outputs"])  # the aws partition, as the endpoint rules default


def regional_url(region: str, *, fips: bool = False, dualstack: bool = False) -> str:
    """The Bedrock runtime endpoint of ``region``, per the service's endpoint rules."""
    outputs = _partition(region)
    for wanted, flag, what in ((fips, "supportsFIPS", "FIPS"), (dualstack, "supportsDualStack", "dual-stack")):
        if wanted and not outputs.get(flag):
            raise UserError(f"Bedrock: the partition of region {region!r} has no {what} endpoint")
    suffix = outputs["dualStackDnsSuffix"] if dualstack else outputs["dnsSuffix"]
    return f"https://bedrock-runtime{'-fips' if fips else ''}.{region}.{suffix}"


def _region(region: str | None, profile: _Profile) -> str | None:
    value = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or profile.value("region")
    if value is None:
        return None
    value = str(value).strip()
    if not _REGION.match(value):
        raise UserError(f"{value!r} is not an AWS region name (such as 'us-east-1')")
    return value


def _no_region(model: str) -> str:
    return (
        f"no AWS region for Bedrock ({model}): pass region= (e.g. podium.model('bedrock:{model}', "
        "region='us-east-1')), set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the AWS profile"
    )


def bedrock_endpoint(
    model: str,
    *,
    base_url: str | None,
    api_key: str | None,
    region: str | None,
    profile_name: str | None,
    keys: AWSKeys | None,
) -> tuple[Endpoint, str | None]:
    """The endpoint (base URL and credentials) of a Bedrock model, and its region (``None``: none found).

    Nothing is checked against AWS here. What cannot be resolved (no region, an unreadable profile) makes an
    endpoint whose first request raises :class:`~podium.exceptions.UserError` saying what to set.
    """
    from botocore.exceptions import BotoCoreError

    profile = _Profile(profile_name)
    url = base_url
    found: str | None = None
    try:
        found = _region(region, profile)
        if url is None:
            url = profile.endpoint_url()
        if url is None and found is not None:
            fips = _true(profile.value("use_fips_endpoint"))
            url = regional_url(found, fips=fips, dualstack=_true(profile.value("use_dualstack_endpoint")))
    except UserError as exc:
        return Endpoint(url or UNRESOLVED_URL, auth=MissingCredentials(f"Bedrock ({model}): {exc}")), found
    except BotoCoreError as exc:  # ProfileNotFound, a malformed config file ...
        text = f"could not read the AWS configuration for Bedrock ({model}): {type(exc).__name__}: {exc}"
        return Endpoint(url or UNRESOLVED_URL, auth=MissingCredentials(text)), found
    token = api_key or (None if keys is not None else os.environ.get(BEARER_ENV) or None)
    auth: Auth
    if url is None:
        auth = MissingCredentials(_no_region(model))
    elif token is not None:
        auth = BedrockKey(token)
    elif found is None:  # a Signature V4 is for one region, even at an endpoint of one's own
        auth = MissingCredentials(_no_region(model))
    elif keys is not None:
        auth = _StaticSigV4(SIGNING_NAME, found, keys)
    else:
        auth = SigV4Auth(SIGNING_NAME, found, profile.credentials)
    if isinstance(auth, SigV4Auth):  # the signer, loaded now: the first async request does not import on the loop
        importlib.import_module("botocore.auth")
        importlib.import_module("botocore.awsrequest")
    return Endpoint(url.rstrip("/") if url else UNRESOLVED_URL, auth=auth), found


class BedrockKey:
    """A Bedrock API key as ``Authorization: Bearer``, sent only over HTTPS or to a loopback address."""

    blocking = False

    __slots__ = ("_header",)

    def __init__(self, key: str) -> None:
        register_key(key)
        self._header = f"Bearer {key}"

    def sign(self, request: httpx2.Request) -> None:
        """Add the key, after checking the connection is encrypted or stays on this machine."""
        url = request.url
        if url.scheme != "https" and not _loopback(url.host):
            raise UserError(
                f"a Bedrock API key is sent only over HTTPS, and {url.scheme}://{url.host} is not: use an https:// "
                "base_url, or AWS credentials (which sign requests instead of sending a secret)"
            )
        request.headers["authorization"] = self._header


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- errors


def aws_code(value: object) -> str:
    """An AWS error code as boto3 names it.

    ``ValidationException:http://...`` and ``aws#ValidationException`` become ``ValidationException``; a
    stream's ``throttlingException`` becomes ``ThrottlingException``.
    """
    code = str(value or "").split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return code[:1].upper() + code[1:]


def aws_error(
    status: int | None,
    code: str,
    message: str,
    *,
    body: Any,
    headers: Mapping[str, str] | None = None,
    provider: str,
    model: str,
) -> ProviderError:
    """The Podium exception for an AWS error: by its code when it names one, else by its HTTP ``status``.

    ``ThrottlingException`` (and the other rate-limit codes) -> :class:`~podium.exceptions.RateLimitError`,
    ``AccessDeniedException`` ... -> :class:`~podium.exceptions.AuthenticationError`,
    ``ModelTimeoutException`` -> :class:`~podium.exceptions.ProviderTimeoutError`,
    ``InternalServerException``, ``ServiceUnavailableException``, ``ModelNotReadyException``,
    ``ModelStreamErrorException`` -> :class:`~podium.exceptions.ServerError`; others by status (a
    ``ValidationException`` is a 400). An exception frame has no status of its own: the code gives it (429,
    403, 500, else 400). The code prefixes the message.
    """
    hdrs = dict(headers or {})
    text = f"{code}: {message}" if code else message
    if not status:
        status = (
            429 if code in _RATE_LIMIT_CODES else 403 if code in _AUTH_CODES else 500 if code in _SERVER_CODES else 400
        )
    common: dict[str, Any] = {"status": status, "body": body, "provider": provider, "model": model, "headers": hdrs}
    if code in _RATE_LIMIT_CODES or status == 429:
        return RateLimitError(text, retry_after=parse_retry_after(hdrs), **common)
    if code in _AUTH_CODES:
        return AuthenticationError(text, **common)
    if code == "ModelTimeoutException":
        return ProviderTimeoutError(text, provider=provider, model=model)
    if code in _SERVER_CODES:
        return ServerError(text, **common)
    return http_error(status, body, provider=provider, model=model, headers=hdrs, message=text)


def http_status_error(
    status: int, body: Any, headers: Mapping[str, str], *, provider: str, model: str
) -> ProviderError:
    """The exception for an HTTP error answer: the code from ``x-amzn-ErrorType``, else the body's."""
    lower = {k.lower(): v for k, v in headers.items()}
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = aws_code(lower.get("x-amzn-errortype") or fields.get("code") or fields.get("Code") or fields.get("__type"))
    message = fields.get("message", fields.get("Message"))
    text = str(message) if isinstance(message, str) else error_message(body) if body else f"HTTP {status}"
    return aws_error(status, code, text, body=body, headers=headers, provider=provider, model=model)


def stream_exception(body: Any, *, provider: str, model: str) -> ProviderError:
    """The exception for an exception frame (``{"error": {"code": ..., "message": ...}}``, as decoded)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    text = str(fields.get("message") or "the stream failed")
    original = fields.get("originalMessage")
    if original:  # ModelStreamErrorException: what the model itself answered
        text += f" (the model's error: {fields.get('originalStatusCode', '')} {original})".replace("  ", " ")
    return aws_error(None, aws_code(fields.get("code")), text, body=body, provider=provider, model=model)
