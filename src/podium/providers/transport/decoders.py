"""The three stream formats providers answer in, decoded from raw byte chunks into payloads.

* :class:`SSEDecoder`: server-sent events (OpenAI, Anthropic, Google, Mistral, Cohere, Groq ...): each
  event's ``data`` as text; ``[DONE]`` as :data:`DONE`; an ``event: error`` as an :class:`ErrorEvent`.
* :class:`NDJSONDecoder`: one JSON document per line (Ollama).
* :class:`EventStreamDecoder`: AWS's binary event stream (Bedrock ``converse-stream``), framed and
  CRC-checked by botocore's decoder: each event as ``{event type: payload}`` text, an exception frame as
  an :class:`ErrorEvent`.

Every decoder has the same two methods: ``feed(chunk)`` returns the payloads a chunk completes (chunks may
split anywhere, even inside a UTF-8 character or a binary frame), ``flush()`` those left when the body
ends without its final separator (a stream cut in the middle of an event ends there). A payload is a
``str`` for the model to parse with :func:`loads`, :data:`DONE`, or an :class:`ErrorEvent`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from typing import Any, Protocol

from podium.exceptions import InvalidResponseError

__all__ = [
    "DONE",
    "Decoder",
    "ErrorEvent",
    "EventStreamDecoder",
    "NDJSONDecoder",
    "SSEDecoder",
    "loads",
]

DONE = "[DONE]"
"""The payload of the ``data: [DONE]`` event that ends an OpenAI-style stream."""


class ErrorEvent:
    """An error the provider sent inside a stream whose HTTP status was 200 (``payload``: its text)."""

    __slots__ = ("payload",)

    def __init__(self, payload: str) -> None:
        self.payload = payload

    def body(self) -> Any:
        """The payload's JSON, or ``{"error": {"message": text}}`` when it is not JSON."""
        try:
            return json.loads(self.payload)
        except ValueError:
            return {"error": {"message": self.payload}}

    def __repr__(self) -> str:
        return f"ErrorEvent({self.payload!r})"


class Decoder(Protocol):
    """Raw byte chunks in, payloads out."""

    def feed(self, chunk: bytes) -> list[Any]:
        """The payloads completed by ``chunk``."""
        ...

    def flush(self) -> list[Any]:
        """The payloads left when the body ended without a final separator."""
        ...


class SSEDecoder:
    """Server-sent events -> each event's ``data`` as text (comments, ``id:`` and ``retry:`` skipped).

    Lines may end in LF or CRLF; multi-line data is joined with a newline; one space after ``data:`` is
    dropped, as the SSE specification says.
    """

    __slots__ = ("_buffer", "_data", "_decode", "_event")

    def __init__(self) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[Any]:
        """The payloads completed by ``chunk``."""
        text = self._decode(chunk)
        buffer = self._buffer + text if self._buffer else text
        lines = buffer.split("\n")
        self._buffer = lines.pop()
        out: list[Any] = []
        data = self._data
        for line in lines:
            if line[-1:] == "\r":
                line = line[:-1]
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else "\n".join(data)
                    out.append(ErrorEvent(payload) if self._event == "error" else payload)
                    data.clear()
                self._event = ""
            elif line[:5] == "data:":
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[:6] == "event:":
                self._event = line[6:].strip()
        return out

    def flush(self) -> list[Any]:
        """Payloads left when the stream ends without a final blank line."""
        return self.feed(b"\n\n") if self._buffer or self._data else []


class NDJSONDecoder:
    """One JSON document per line -> each non-blank line as text."""

    __slots__ = ("_buffer", "_decode")

    def __init__(self) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[Any]:
        """The lines completed by ``chunk``."""
        text = self._decode(chunk)
        buffer = self._buffer + text if self._buffer else text
        lines = buffer.split("\n")
        self._buffer = lines.pop()
        return [line for line in lines if line.strip()]

    def flush(self) -> list[Any]:
        """The last line, when the body does not end in a newline."""
        rest, self._buffer = self._buffer, ""
        return [rest] if rest.strip() else []


class EventStreamDecoder:
    """AWS event-stream frames -> ``{"<event type>": <payload>}`` text per event (botocore's frame decoder).

    botocore checks each frame's prelude and message CRCs. A frame of message type ``exception`` or
    ``error`` becomes an :class:`ErrorEvent` whose body is ``{"error": {"code": ..., "message": ...}}``.
    A frame that fails its checks (a CRC, a length, a duplicate header: the bytes were changed on the way, or
    the server does not speak the format) raises :class:`~podium.exceptions.InvalidResponseError`.
    A body that ends inside a frame leaves nothing to flush: the stream's own end event is then missing.

    Args:
        provider: Provider name, for errors.
        model: Model name, for errors.
    """

    __slots__ = ("_buffer", "_model", "_provider")

    def __init__(self, provider: str = "", model: str | None = None) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()
        self._provider = provider
        self._model = model

    def feed(self, chunk: bytes) -> list[Any]:
        """The events completed by ``chunk``."""
        from botocore.eventstream import ParserError

        self._buffer.add_data(chunk)
        out: list[Any] = []
        try:
            for frame in self._buffer:
                out.append(_event(frame))
        except ParserError as exc:
            raise InvalidResponseError(
                f"{self._provider or 'the server'} sent a broken event-stream frame ({type(exc).__name__}: {exc}): "
                "the bytes were changed on the way (a proxy?), or base_url is not the API's",
                body=str(exc),
                provider=self._provider or None,
                model=self._model,
            ) from exc
        return out

    def flush(self) -> list[Any]:
        """Nothing: a frame cut off in the middle is not an event."""
        return []


def _event(frame: Any) -> Any:
    """One decoded frame as its payload text or an :class:`ErrorEvent` (botocore types its fields loosely)."""
    headers: dict[str, Any] = frame.headers
    kind = headers.get(":message-type", "event")
    payload = frame.payload.decode("utf-8", "replace")
    if kind == "event":
        event = str(headers.get(":event-type", ""))
        if '"' in event or "\\" in event:  # a name is an identifier; a stranger one must not change the JSON
            event = json.dumps(event)[1:-1]
        return f'{{"{event}":{payload or "{}"}}}'
    code = headers.get(":exception-type") or headers.get(":error-code") or kind
    try:
        detail = json.loads(payload) if payload else {}
    except ValueError:
        detail = {"message": payload}
    if not isinstance(detail, dict):
        detail = {"message": str(detail)}
    message_text = detail.get("message") or detail.get("Message") or headers.get(":error-message") or code
    return ErrorEvent(json.dumps({"error": {**detail, "code": code, "message": message_text}}))


_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(payload: str) -> Any:
    """``json.loads`` for one event payload, without its per-call overhead (C scanner called directly)."""
    try:
        value, end = _scan(payload, 0)
    except (StopIteration, ValueError):
        return json.loads(payload)  # raises the proper JSONDecodeError (or handles leading whitespace)
    if end != len(payload) and payload[end:].strip():
        return json.loads(payload)  # trailing garbage: let json report it
    return value
