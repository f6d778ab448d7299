"""Helpers for cassette replay tests: serving cassettes and comparing requests with recordings."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer, normalize

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"


@contextmanager
def replay(provider: str, name: str, *, host: str | None = None) -> Iterator[ReplayServer]:
    """Serve ``tests/cassettes/<provider>/<name>`` on a loopback port; fail if an interaction is left over."""
    with ReplayServer(CASSETTES / provider / name, host_filter=host) as server:
        yield server
        assert not server.unplayed, f"{len(server.unplayed)} recorded interactions were not requested"


def synthetic(path: str, *responses: tuple[int, Mapping[str, str], bytes]) -> Cassette:
    """An in-memory cassette serving ``responses`` (status, headers, body) in order for POST ``path``."""
    request = RecordedRequest("POST", f"http://synthetic{path}", path, {}, None)
    return Cassette(
        Path("synthetic"), [Interaction(request, status, dict(headers), body) for status, headers, body in responses]
    )


def recorded_requests(server: ReplayServer) -> list[Any]:
    """The request bodies recorded in the cassette, in order."""
    return [interaction.request.body for interaction in server.interactions]


def json_diff(sent: Any, recorded: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """Paths where ``sent`` and ``recorded`` differ, with (sent, recorded) values; ``<absent>`` marks a missing key."""
    out: dict[str, tuple[Any, Any]] = {}
    if isinstance(sent, dict) and isinstance(recorded, dict):
        for key in sorted(set(sent) | set(recorded)):
            sub = f"{path}.{key}" if path else key
            if key not in sent:
                out[sub] = ("<absent>", recorded[key])
            elif key not in recorded:
                out[sub] = (sent[key], "<absent>")
            else:
                out.update(json_diff(sent[key], recorded[key], sub))
    elif isinstance(sent, list) and isinstance(recorded, list) and len(sent) == len(recorded):
        for i, (a, b) in enumerate(zip(sent, recorded, strict=False)):
            out.update(json_diff(a, b, f"{path}[{i}]"))
    elif sent != recorded or type(sent) is not type(recorded):
        out[path] = (sent, recorded)
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) < 160 else text[:160] + "..."


def assert_request(
    server: ReplayServer,
    index: int,
    differences: Mapping[str, str] | None = None,
    *,
    adjust: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Check request ``index`` Podium sent against the recorded one, as parsed JSON after ``normalize()``.

    ``differences`` lists every path allowed to differ, each with the reason (a setting or default of the
    recording framework); any other difference fails, and so does a listed one that does not occur.
    ``adjust`` edits a copy of the recorded body first, for a listed quirk of the recording framework
    that would shift list positions (such as an extra empty message). Returns the body Podium sent.
    """
    sent = server.received[index].json
    recorded = copy.deepcopy(server.interactions[index].request.body)
    if adjust is not None:
        adjust(recorded)
    diff = json_diff(normalize(sent), normalize(recorded))
    expected = dict(differences or {})
    unexpected = {k: v for k, v in diff.items() if k not in expected}
    missing = sorted(set(expected) - set(diff))
    lines = [f"  {k}: sent {_short(a)} / recorded {_short(b)}" for k, (a, b) in unexpected.items()]
    assert not unexpected, f"request {index} differs from the recording:\n" + "\n".join(lines)
    assert not missing, f"request {index}: listed differences that do not occur: {missing}"
    return sent


def b64decode(text: str) -> bytes:
    """Bytes of a base64 string taken from a recorded request."""
    return base64.b64decode(text)


def _consume(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _consume(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ValidatorIterator":
        return [_consume(v) for v in value]
    return value


def sdk_valid(param_type: Any, value: Any) -> Any:
    """Validate ``value`` against one of an SDK's request TypedDicts (raises pydantic's ValidationError).

    pydantic checks ``Iterable[...]`` fields lazily, so the result is walked to validate every level.
    """
    from pydantic import TypeAdapter

    adapter = TypeAdapter(param_type)  # kept alive while the lazy iterators are consumed
    result = _consume(adapter.validate_python(value))
    del adapter
    return result
