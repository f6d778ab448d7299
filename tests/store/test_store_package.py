"""The store package: a complete export list and a light import."""

from __future__ import annotations

import json
import subprocess
import sys

import podium.store


def test_exports_are_sorted_and_resolve() -> None:
    assert podium.store.__all__ == sorted(podium.store.__all__)
    for name in podium.store.__all__:
        assert getattr(podium.store, name) is not None, name


def test_import_is_light() -> None:
    code = "import sys, json, podium.store; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    heavy = sorted(
        m
        for m in loaded
        if m.split(".")[0] in ("pydantic", "asyncio") or m.startswith(("podium.agent", "podium.tools"))
    )
    assert heavy == []
