"""Comparing a request Podium sent with the recorded one, as parsed JSON."""

from __future__ import annotations

from typing import Any


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
        for i, (a, b) in enumerate(zip(sent, recorded)):
            out.update(json_diff(a, b, f"{path}[{i}]"))
    elif sent != recorded or type(sent) is not type(recorded):
        out[path] = (sent, recorded)
    return out
