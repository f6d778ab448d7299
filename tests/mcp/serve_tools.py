"""Tools served by ``podium mcp serve --toolset serve_tools:tools`` in the server tests."""

from __future__ import annotations

import base64
from typing import Literal

from podium.messages import File, Image, Text
from podium.tools import tool

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@tool
def scale(value: float, unit: Literal["m", "km"] = "m", factor: int | None = None) -> str:
    """Scale a length.

    Args:
        value: The length.
        unit: Its unit.
        factor: Multiply by this (none: 1).
    """
    return f"{value * (factor or 1)} {unit}"


@tool
def boom(reason: str) -> str:
    """Fail with the reason.

    Args:
        reason: Why.
    """
    raise RuntimeError(f"exploded: {reason}")


@tool
def picture() -> list[Text | Image | File]:
    """A caption, a tiny PNG, a PDF and a text file."""
    return [
        Text("a red dot"),
        Image(PNG, media_type="image/png"),
        File(b"%PDF-1.4", media_type="application/pdf", filename="report.pdf"),
        File(b"col\n1\n", media_type="text/csv", filename="data.csv"),
    ]


tools = [scale, boom, picture]
