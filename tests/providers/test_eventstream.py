"""Podium's AWS event-stream decoder against botocore's, and against broken and hostile bytes."""

from __future__ import annotations

import binascii
import json
import struct
import uuid
from typing import Any

import pytest
from aws_frames import Header, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.exceptions import InvalidResponseError
from podium.providers.transport.decoders import ErrorEvent, EventStreamDecoder


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return encode([(":event-type", 7, kind), (":message-type", 7, "event")], json.dumps(payload).encode())


def values(kind: int) -> st.SearchStrategy[Any]:
    if kind in (0, 1):
        return st.just(kind == 0)
    if kind == 6:
        return st.binary(max_size=40)
    if kind == 7:
        return st.text(max_size=40)
    if kind == 9:
        return st.binary(min_size=16, max_size=16)
    bits = {2: 8, 3: 16, 4: 32, 5: 64, 8: 64}[kind]
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


header = st.integers(0, 9).flatmap(
    lambda kind: st.tuples(st.text(min_size=1, max_size=12), st.just(kind), values(kind))
)
frame = st.tuples(
    st.lists(header, max_size=6, unique_by=lambda h: h[0]).filter(lambda hs: all(len(h[0].encode()) < 256 for h in hs)),
    st.binary(max_size=200),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(frame, min_size=1, max_size=6), st.lists(st.integers(1, 97), max_size=20))
def test_frames_are_botocores_however_the_bytes_are_cut(
    frames: list[tuple[list[Header], bytes]], cuts: list[int]
) -> None:
    from botocore.eventstream import EventStreamBuffer

    body = b"".join(encode(headers, payload) for headers, payload in frames)
    reference = EventStreamBuffer()
    reference.add_data(body)
    expected = [(dict(m.headers), m.payload) for m in reference]
    decoder = EventStreamDecoder("bedrock", "m")
    got: list[tuple[dict[str, Any], bytes]] = []
    position = 0
    for cut in cuts:
        got += decoder.frames(body[position : position + cut])
        position += cut
    got += decoder.frames(body[position:])
    assert [(h, p) for h, p in got] == [
        ({k: (v if not isinstance(v, uuid.UUID) else v.bytes) for k, v in h.items()}, p) for h, p in expected
    ]


def test_events_and_exceptions() -> None:
    body = event("contentBlockDelta", {"delta": {"text": "é"}}) + encode(
        [(":exception-type", 7, "throttlingException"), (":message-type", 7, "exception")],
        b'{"message":"slow down","code":"not the header"}',
    )
    text, error = EventStreamDecoder().feed(body)
    assert json.loads(text) == {"contentBlockDelta": {"delta": {"text": "é"}}}
    assert isinstance(error, ErrorEvent)
    assert error.body() == {"error": {"code": "throttlingException", "message": "slow down"}}
    odd = encode([(":event-type", 7, 'a":1,"b'), (":message-type", 7, "event")], b"{}")
    assert json.loads(EventStreamDecoder().feed(odd)[0]) == {'a":1,"b': {}}
    other = encode([(":event-type", 7, "x"), (":message-type", 7, "initial-response")], b'{"y":1}')
    assert EventStreamDecoder().feed(other) == ['{"x":{"y":1}}']  # botocore reads other message types as events
    error = encode([(":error-code", 7, "InternalFailure"), (":message-type", 7, "error")], b"")
    assert EventStreamDecoder().feed(error)[0].body() == {
        "error": {"code": "InternalFailure", "message": "InternalFailure"}
    }


def test_every_changed_byte_is_caught() -> None:
    """A flipped bit anywhere in a frame fails a checksum or a length check: never a wrong event."""
    good = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello"}})
    for index in range(len(good)):
        broken = bytearray(good)
        broken[index] ^= 0x04
        with pytest.raises(InvalidResponseError, match="broken event-stream frame") as info:
            EventStreamDecoder("bedrock", "m").feed(bytes(broken) + good)
        assert info.value.provider == "bedrock" and info.value.retryable


@pytest.mark.parametrize(
    ("prelude", "what"),
    [
        (struct.pack(">II", 12 + 200_000 + 4, 200_000), "impossible lengths"),  # headers over 128 KiB
        (struct.pack(">II", 30_000_000, 10), "impossible lengths"),  # payload over 24 MiB
        (struct.pack(">II", 10, 10), "impossible lengths"),  # shorter than its own headers
    ],
)
def test_hostile_lengths_are_refused_before_waiting_for_them(prelude: bytes, what: str) -> None:
    first = prelude + struct.pack(">I", binascii.crc32(prelude))
    with pytest.raises(InvalidResponseError, match=what):
        EventStreamDecoder().feed(first)


def test_malformed_headers_are_refused() -> None:
    twice = encode([(":event-type", 7, "a"), (":event-type", 7, "b")], b"{}")
    with pytest.raises(InvalidResponseError, match="twice"):
        EventStreamDecoder().feed(twice)
    block = b"\x01x\x0f"  # a header of type 15
    prelude = struct.pack(">II", 12 + len(block) + 2 + 4, len(block))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + block + b"{}"
    with pytest.raises(InvalidResponseError, match="unknown type 15"):
        EventStreamDecoder().feed(message + struct.pack(">I", binascii.crc32(message)))
    assert EventStreamDecoder().feed(encode([], b"{}")) == ['{"":{}}']  # no headers: an event without a name
