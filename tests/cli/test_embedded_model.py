"""The embedded model, with no key and no network (slow: loads a real GGUF model with llama.cpp)."""

from __future__ import annotations

import json
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import podium
from tests.cli.test_chat_pty import spawn

pytestmark = pytest.mark.slow


def test_run_answers_paris_with_no_key(cli_env: dict[str, str]) -> None:
    out = podium(["run", "What is the capital of France?"], cli_env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert "embedded model SmolLM2-135M" in out.stderr  # said on start-up


def test_chat_streams_an_answer_from_the_embedded_model(cli_env: dict[str, str]) -> None:
    child = spawn(["chat"], cli_env, timeout=300)
    child.expect("embedded model SmolLM2-135M")
    child.expect("you>")
    child.sendline("What is the capital of France?")
    child.expect("Paris")
    child.expect("you>")
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_local_gguf_by_path_creates_a_file_with_a_tool(cli_env: dict[str, str], tmp_path: Path) -> None:
    from podium.providers.local import default_model_path

    workspace = tmp_path / "ws"
    workspace.mkdir()
    gguf = default_model_path()  # any GGUF works by path; this one ships with the local extra
    out = podium(
        [
            "run",
            "--model",
            f"local:{gguf}",
            "--tool",
            "write_file",
            "-w",
            str(workspace),
            "--json",
            "Create a file hello.txt containing hi",
        ],
        cli_env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert (workspace / "hello.txt").read_text() == "hi"
    doc = json.loads(out.stdout)
    assert doc["status"] == "completed"
    assert doc["messages"][-1]["role"] == "assistant"  # the run ended with an answer


def test_embedded_model_async_stream() -> None:
    import asyncio

    from podium import Agent, model
    from podium.streaming import TextDelta

    async def main() -> tuple[str, str]:
        stream = Agent(model("local:")).astream("What is the capital of France?")
        text = "".join([e.text async for e in stream if isinstance(e, TextDelta)])
        return text, stream.result.output

    streamed, output = asyncio.run(main())
    assert "Paris" in output
    assert streamed == output
