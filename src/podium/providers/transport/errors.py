"""Mapping HTTP failures to Podium's exception tree (used by every provider module)."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from podium.exceptions import AuthenticationError
from podium.exceptions import BadRequestError
from podium.exceptions import ContextWindowExceeded
from podium.exceptions import ProviderHTTPError
from podium.exceptions import RateLimitError
from podium.exceptions import ServerError

__all__ = [
    "embedded_status",
    "error_message",
    "failed_generation_message",
    "http_error",
    "parse_retry_after",
    "upstream_message",
]

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|prompt is too long|"
    r"input is too long|exceeds the maximum number of tokens|reduce the length|input length and `max_tokens`|"
    r"token count .* exceeds",
    re.IGNORECASE,
)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), if present."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def error_message(body: Any) -> str:
    """The human message inside a provider's error body (OpenAI/Anthropic/Google/AWS shapes)."""
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            return text.strip()[:2000]
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            for key in ("message", "Message", "detail"):
                if isinstance(err.get(key), str):
                    return str(err[key])
            if isinstance(err.get("metadata"), Mapping) and isinstance(err["metadata"].get("raw"), str):
                return str(err["metadata"]["raw"])
        if isinstance(err, str):
            return err
        for key in ("message", "Message", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return str(body)[:2000]


def http_error(
    status: int,
    body: Any,
    *,
    provider: str,
    model: str | None,
    headers: Mapping[str, str] | None = None,
    message: str | None = None,
) -> ProviderHTTPError:
    """The Podium exception for an HTTP error status from a provider.

    A 429's wait comes from ``retry-after`` headers, else from a ``google.rpc.RetryInfo`` detail in the body;
    a 400 whose ``google.rpc.ErrorInfo`` reason is ``API_KEY_INVALID`` (Gemini's answer to a bad key) is an
    :class:`~podium.exceptions.AuthenticationError`.
    """
    text = message or failed_generation_message(body) or upstream_message(body) or error_message(body)
    text = text or f"HTTP {status}"
    hdrs = dict(headers or {})
    common: dict[str, Any] = {"status": status, "body": body, "provider": provider, "model": model, "headers": hdrs}
    if status == 429:
        retry_after = parse_retry_after(hdrs)
        if retry_after is None:
            retry_after = _retry_delay(body)
        return RateLimitError(text, retry_after=retry_after, **common)
    if status in (401, 403) or (status == 400 and "API_KEY_INVALID" in _detail_values(body, "reason")):
        return AuthenticationError(text, **common)
    if status >= 500:
        return ServerError(text, **common)
    if status == 413 or _CONTEXT_PATTERNS.search(text):
        return ContextWindowExceeded(text, **common)
    if 400 <= status < 500:
        return BadRequestError(text, **common)
    return ProviderHTTPError(text, **common)


def _detail_values(body: Any, key: str) -> list[Any]:
    """``key`` of each ``error.details`` entry of a ``google.rpc.Status`` error body (Gemini, Vertex)."""
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return []
    return [item[key] for item in details if isinstance(item, Mapping) and key in item]


def _retry_delay(body: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``) of an error body."""
    for value in _detail_values(body, "retryDelay"):
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)s\s*", str(value))
        if match:
            return float(match.group(1))
    return None


# An error type or code named in an error body -> the HTTP status that means the same (OpenAI, Anthropic,
# Groq, Mistral, OpenRouter and Google spell them in these ways).
_KIND_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "invalid_prompt": 400,
    "context_length_exceeded": 400,
    "tool_use_failed": 400,
    "json_validate_failed": 400,
    "bad_request": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "model_not_found": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "internal_server_error": 500,
    "service_unavailable": 503,
    "timeout_error": 504,
    "overloaded_error": 529,
    # google.rpc status names
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
_STATUS_KEYS = ("status_code", "status", "code", "http_status", "statusCode")
_KIND_KEYS = ("type", "code", "status")


def _as_status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 400 <= value < 600:
        return value
    return None


def embedded_status(body: Any, default: int) -> int:
    """The HTTP status an error sent inside a 200 answer stands for (an SSE ``event: error``, an error chunk).

    The answer's own HTTP status was 200, so the status must come from the body, as the provider would
    have sent it on a non-streamed request: a number in ``error.status_code`` (Groq), ``error.status`` or
    ``error.code`` (OpenRouter, Google), or the same keys at the top level (Mistral); else the error's
    ``type``/``code``/``status`` name (``invalid_request_error`` -> 400, ``overloaded_error`` -> 529,
    ``RESOURCE_EXHAUSTED`` -> 429 ...); else ``default``. So an in-stream 400 is a
    :class:`~podium.exceptions.BadRequestError` (not retried), as it would be without streaming.
    """
    if not isinstance(body, Mapping):
        return default
    error = body.get("error")
    scopes = [error, body] if isinstance(error, Mapping) else [body]
    for scope in scopes:
        for key in _STATUS_KEYS:
            status = _as_status(scope.get(key))
            if status is not None:
                return status
    for scope in scopes:
        for key in _KIND_KEYS:
            kind = scope.get(key)
            if isinstance(kind, str) and kind in _KIND_STATUS:
                return _KIND_STATUS[kind]
    return default


def upstream_message(body: Any) -> str | None:
    """A message for a router's error that carries the upstream provider's own (OpenRouter's ``metadata.raw``).

    ``None`` for other errors.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    metadata = error.get("metadata") if isinstance(error, Mapping) else None
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("raw"), str):
        return None
    assert isinstance(error, Mapping)
    message = f"{error.get('message') or 'provider error'}: {metadata['raw']}"
    upstream = metadata.get("provider_name")
    if upstream:
        message += f" (upstream provider: {upstream})"
    return message


def failed_generation_message(body: Any) -> str | None:
    """A message for Groq's ``tool_use_failed`` error (the model wrote a malformed tool call), with what it wrote.

    ``None`` for other errors. Used for the HTTP error and the same error sent inside a stream.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping) or error.get("code") != "tool_use_failed":
        return None
    message = f"tool_use_failed: {error.get('message') or 'the model produced an invalid tool call'}"
    failed = error.get("failed_generation")
    if failed:
        message += f" The model generated: {str(failed)[:2000]}"
    return message
