"""Mapping HTTP failures to Podium's exception tree (used by every provider module)."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from podium.exceptions import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceeded,
    ProviderHTTPError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_message", "http_error", "parse_retry_after"]

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
    """The Podium exception for an HTTP error status from a provider."""
    text = message or error_message(body) or f"HTTP {status}"
    hdrs = dict(headers or {})
    common: dict[str, Any] = {"status": status, "body": body, "provider": provider, "model": model, "headers": hdrs}
    if status == 429:
        return RateLimitError(text, retry_after=parse_retry_after(hdrs), **common)
    if status in (401, 403):
        return AuthenticationError(text, **common)
    if status >= 500:
        return ServerError(text, **common)
    if status == 413 or _CONTEXT_PATTERNS.search(text):
        return ContextWindowExceeded(text, **common)
    if 400 <= status < 500:
        return BadRequestError(text, **common)
    return ProviderHTTPError(text, **common)
