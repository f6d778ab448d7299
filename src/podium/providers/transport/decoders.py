"""The three stream formats providers answer in, decoded from raw byte chunks into payloads.

* :class:`SSEDecoder`: server-sent events (OpenAI, Anthropic, Google, Mistral, Cohere, Groq ...): each
  event's ``data`` as text; ``[DONE]`` as :data:`DONE`; an ``event: error`` as an :class:`ErrorEvent`.
* :class:`NDJSONDecoder`: one JSON document per line (Ollama).
* :class:`EventStreamDecoder`: AWS's binary event stream (Bedrock ``converse-stream``), each frame's
  lengths and checksums checked: each event as ``{event type: payload}`` text, an exception frame as an
  :class:`ErrorEvent`.

Every decoder has the same two methods: ``feed(chunk)`` returns the payloads a chunk completes (chunks may
split anywhere, even inside a UTF-8 character or a binary frame), ``flush()`` those left when the body
ends without its final separator (a stream cut in the middle of an event ends there). A payload is a
``str`` for the model to parse with :func:`loads`, :data:`DONE`, or an :class:`ErrorEvent`.
"""

from __future__ import annotations

import binascii
import codecs
import json
import struct
from collections.abc import Callable
from typing import Any
from typing import Protocol

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

    Lines may end in LF, CRLF or a lone CR; multi-line data is joined with a newline; one space after
    ``data:`` is dropped, as the SSE specification says.
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
        held = ""
        if "\r" in buffer:  # CRLF or a lone CR ends a line too; a CR at the end may be half of a CRLF
            if buffer[-1] == "\r":
                buffer, held = buffer[:-1], "\r"
            buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
        lines = buffer.split("\n")
        self._buffer = lines.pop() + held
        out: list[Any] = []
        data = self._data
        for line in lines:
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
    """AWS event-stream frames -> ``{"<event type>": <payload>}`` text per event.

    The binary format (AWS's ``application/vnd.amazon.eventstream``): each frame is a 12-byte prelude (total
    length, headers length, CRC32 of those 8 bytes), typed headers, the payload, and a CRC32 of everything
    before it. Both checksums and the lengths are checked as botocore checks them (headers at most 128 KiB,
    a payload at most 24 MiB); a frame that fails a check, or whose headers do not parse, raises
    :class:`~podium.exceptions.InvalidResponseError` (the bytes were changed on the way, or the server does
    not speak the format). Work is linear in the bytes received, however they are chunked.

    A frame of message type ``exception`` or ``error`` becomes an :class:`ErrorEvent` whose body is
    ``{"error": {"code": ..., "message": ...}}``. A body that ends inside a frame leaves nothing to flush:
    the stream's own end event is then missing.

    Args:
        provider: Provider name, for errors.
        model: Model name, for errors.
    """

    __slots__ = ("_buffer", "_model", "_provider")

    def __init__(self, provider: str = "", model: str | None = None) -> None:
        self._buffer = bytearray()
        self._provider = provider
        self._model = model

    def frames(self, chunk: bytes) -> list[tuple[dict[str, Any], bytes]]:
        """The frames completed by ``chunk``, as (headers, payload), checked."""
        buffer = self._buffer
        buffer += chunk
        out: list[tuple[dict[str, Any], bytes]] = []
        pos, size = 0, len(buffer)
        try:
            while size - pos >= _PRELUDE_SIZE:
                total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer, pos)
                if binascii.crc32(buffer[pos : pos + 8]) != prelude_crc:
                    raise ValueError("the prelude's checksum does not match")
                payload_length = total - headers_length - _PRELUDE_SIZE - 4
                if headers_length > _MAX_HEADERS or payload_length > _MAX_PAYLOAD or payload_length < 0:
                    raise ValueError(f"impossible lengths (frame {total}, headers {headers_length})")
                if size - pos < total:
                    break
                frame = bytes(buffer[pos : pos + total])
                if binascii.crc32(frame[:-4]) != int.from_bytes(frame[-4:], "big"):
                    raise ValueError("the frame's checksum does not match")
                headers_end = _PRELUDE_SIZE + headers_length
                out.append((_headers(frame, _PRELUDE_SIZE, headers_end), frame[headers_end:-4]))
                pos += total
        except (ValueError, IndexError) as exc:
            raise InvalidResponseError(
                f"{self._provider or 'the server'} sent a broken event-stream frame ({exc}): the bytes were "
                "changed on the way (a proxy?), or base_url is not the API's",
                body=bytes(buffer[pos : pos + 300]).decode("utf-8", "replace"),
                provider=self._provider or None,
                model=self._model,
            ) from exc
        if pos:
            del buffer[:pos]
        return out

    def feed(self, chunk: bytes) -> list[Any]:
        """The events completed by ``chunk``."""
        return [_event(headers, payload) for headers, payload in self.frames(chunk)]

    def flush(self) -> list[Any]:
        """Nothing: a frame cut off in the middle is not an event."""
        return []


_PRELUDE = struct.Struct(">III")
_PRELUDE_SIZE = 12
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024
_FIXED = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}  # byte, short, integer, long, timestamp (ms): big-endian, signed


def _headers(frame: bytes, pos: int, end: int) -> dict[str, Any]:
    """A frame's headers: name (1-byte length), type (1 byte), value (by type)."""
    headers: dict[str, Any] = {}
    while pos < end:
        length = frame[pos]
        name = frame[pos + 1 : pos + 1 + length].decode("utf-8")
        kind = frame[pos + 1 + length]
        pos += 2 + length
        value: Any
        if kind == 7 or kind == 6:  # string, byte array: 2-byte length
            size = int.from_bytes(frame[pos : pos + 2], "big")
            raw = frame[pos + 2 : pos + 2 + size]
            value = raw.decode("utf-8") if kind == 7 else raw
            pos += 2 + size
        elif kind in _FIXED:
            size = _FIXED[kind]
            value = int.from_bytes(frame[pos : pos + size], "big", signed=True)
            pos += size
        elif kind == 0 or kind == 1:  # true, false
            value = kind == 0
        elif kind == 9:  # uuid
            value = frame[pos : pos + 16]
            pos += 16
        else:
            raise ValueError(f"header {name!r} has an unknown type {kind}")
        if pos > end:
            raise ValueError(f"header {name!r} runs past the headers")
        if name in headers:
            raise ValueError(f"header {name!r} is there twice")
        headers[name] = value
    return headers


def _event(headers: dict[str, Any], raw: bytes) -> Any:
    """One frame as its payload text (``{"<event type>": <payload>}``) or an :class:`ErrorEvent`."""
    kind = headers.get(":message-type", "event")
    payload = raw.decode("utf-8", "replace")
    if kind != "exception" and kind != "error":  # as botocore: any other message type is an event
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
