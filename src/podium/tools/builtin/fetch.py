"""Fetching a URL (offered only when the policy allows both fetching and the network)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from podium.exceptions import ModelRetry
from podium.tools.tool import Tool

__all__ = ["fetch_tools"]


def fetch_tools(*, max_bytes: int = 1 << 20, timeout: float = 20.0) -> list[Tool[..., Any]]:
    """``fetch_url``: GET an http(s) URL and return its text (at most ``max_bytes``)."""

    def fetch_url(url: str, max_chars: int = 20_000) -> str:
        """Fetch a web page or file over HTTP(S) and return its text.

        Args:
            url: An ``http://`` or ``https://`` URL.
            max_chars: Characters of the body to return.
        """
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ModelRetry(f"{url!r} is not an http(s) URL")
        request = urllib.request.Request(url, headers={"User-Agent": "podium-fetch/0.1"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read(max_bytes + 1)
                status = response.status
                ctype = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise ModelRetry(f"{url} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ModelRetry(f"could not fetch {url}: {exc}") from None
        if b"\x00" in body[:8192]:
            return f"[{url}: HTTP {status}, {ctype}, binary content of {len(body)} bytes not shown]"
        text = body[:max_bytes].decode("utf-8", "replace")
        cut = " (cut)" if len(body) > max_bytes or len(text) > max_chars else ""
        return f"[{url}: HTTP {status}, {ctype}{cut}]\n{text[:max_chars]}"

    return [Tool(fetch_url)]
