"""AWS event-stream frames for tests, laid out as the encoding specifies (prelude, typed headers, payload, CRC32s)."""

from __future__ import annotations

import binascii
import json
import struct
from typing import Any

Header = tuple[str, int, Any]
"""A header: name, type (0 true, 1 false, 2 byte, 3 short, 4 int, 5 long, 6 bytes, 7 string, 8 time, 9 uuid), value."""


def encode_header(name: str, kind: int, value: Any) -> bytes:
    """One header."""
    raw = bytes([len(name.encode())]) + name.encode() + bytes([kind])
    if kind in (0, 1):
        return raw
    if kind in (6, 7):
        data = value.encode() if kind == 7 else value
        return raw + struct.pack(">H", len(data)) + data
    if kind == 9:
        return raw + value
    size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[kind]
    return raw + value.to_bytes(size, "big", signed=True)


def encode(headers: list[Header], payload: bytes) -> bytes:
    """One frame."""
    block = b"".join(encode_header(*h) for h in headers)
    prelude = struct.pack(">II", 12 + len(block) + len(payload) + 4, len(block))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + block + payload
    return message + struct.pack(">I", binascii.crc32(message))


def frame(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """A Converse stream event (or, with ``message_type="exception"``, an exception) with a JSON payload."""
    kind = ":exception-type" if message_type == "exception" else ":event-type"
    headers = [(kind, 7, event_type), (":content-type", 7, "application/json"), (":message-type", 7, message_type)]
    return encode(headers, json.dumps(payload).encode())
