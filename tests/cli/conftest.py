"""Helpers for driving the ``podium`` command in a subprocess, with no API keys and a private database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PODIUM = [sys.executable, "-m", "podium.cli"]
KEY_VARIABLES = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "XAI_API_KEY",
    "COHERE_API_KEY",
    "PODIUM_MODEL",
]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no provider keys, a private config, data dir and database."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env["PODIUM_CONFIG"] = str(tmp_path / "config.toml")
    env["PODIUM_DB"] = str(tmp_path / "podium.db")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    env["TERM"] = "xterm"
    return env


def podium(
    args: list[str], env: dict[str, str], *, cwd: Path | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODIUM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input
    )


def script(path: Path, items: list[Any]) -> str:
    path.write_text(json.dumps(items))
    return f"test:scripted:{path}"
