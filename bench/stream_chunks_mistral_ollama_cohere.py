"""Per-chunk CPU cost of stream parsing for Mistral, Ollama and Cohere (in-process, no network).

For each recorded stream, three loops over the same lines:

* ``plain``: split the lines and ``json.loads`` each payload (the floor);
* ``podium``: the provider module's path (payload extraction, ``json.loads``, the stream state's ``feed``,
  and ``finish`` once per stream);
* ``sdk``: what the official SDK does per chunk (builds its pydantic event model).

Run: ``python bench/stream_chunks_mistral_ollama_cohere.py`` (needs the mistral, ollama, cohere extras).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "providers"))

from replay_util import cassette  # noqa: E402

from podium.providers.cohere_wire import CohereStreamState  # noqa: E402
from podium.providers.mistral_wire import MistralStreamState  # noqa: E402
from podium.providers.ollama_wire import OllamaStreamState  # noqa: E402
from podium.providers.raw_http import iter_sse_data  # noqa: E402


def timed(fn: Callable[[], int], repeat: int = 5) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - start)
    return best, count


def sse_plain(lines: list[str]) -> int:
    n = 0
    for line in lines:
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                json.loads(data)
                n += 1
    return n


def ndjson_plain(lines: list[str]) -> int:
    n = 0
    for line in lines:
        if line.strip():
            json.loads(line)
            n += 1
    return n


def run(
    name: str, lines: list[str], plain: Callable[[list[str]], int], podium: Callable[[], int], sdk: Callable[[], int]
) -> None:
    t_plain, n = timed(lambda: plain(lines))
    t_podium, _ = timed(podium)
    t_sdk, _ = timed(sdk, repeat=2)
    us = 1e6 / n
    print(
        f"{name:8s} {n:6d} chunks  plain {t_plain * us:6.2f} us  podium {t_podium * us:6.2f} us "
        f"({t_podium / t_plain:4.2f}x)  sdk {t_sdk * us:7.2f} us ({t_sdk / t_plain:5.1f}x)"
    )


def main() -> None:
    repeat = 40  # replay each recorded stream this many times per measurement

    m_lines = (
        cassette("mistral", "test_mistral_model_thinking_part_iter.yaml").interactions[0].body.decode().splitlines()
    )

    def m_podium() -> int:
        n = 0
        for _ in range(repeat):
            state = MistralStreamState()
            for payload in iter_sse_data(iter(m_lines)):
                state.feed(json.loads(payload))
                n += 1
            state.finish()
        return n

    def m_sdk() -> int:
        from mistralai.client import models
        from mistralai.client.utils import unmarshal

        n = 0
        for _ in range(repeat):
            for payload in iter_sse_data(iter(m_lines)):
                unmarshal({"data": json.loads(payload)}, models.CompletionEvent)
                n += 1
        return n

    run("mistral", m_lines * repeat, sse_plain, m_podium, m_sdk)

    o_lines = cassette("ollama", "test_ollama_streaming_chat_legacy.yaml").interactions[0].body.decode().splitlines()

    def o_podium() -> int:
        n = 0
        for _ in range(repeat):
            state = OllamaStreamState()
            for line in o_lines:
                if line.strip():
                    state.feed(json.loads(line))
                    n += 1
            state.finish()
        return n

    def o_sdk() -> int:
        from ollama import ChatResponse

        n = 0
        for _ in range(repeat):
            for line in o_lines:
                if line.strip():
                    ChatResponse(**json.loads(line))
                    n += 1
        return n

    run("ollama", o_lines * repeat, ndjson_plain, o_podium, o_sdk)

    c_lines = (
        cassette("cohere", "test_cohere_v2_chat_legacy_with_tool_calls_and_streaming.yaml")
        .interactions[0]
        .body.decode()
        .splitlines()
    )

    def c_podium() -> int:
        n = 0
        for _ in range(repeat):
            state = CohereStreamState("command-r")
            for payload in iter_sse_data(iter(c_lines)):
                state.feed(json.loads(payload))
                n += 1
            state.finish()
        return n

    def c_sdk() -> int:
        import typing

        from cohere.core.unchecked_base_model import construct_type
        from cohere.v2.types import V2ChatStreamResponse

        n = 0
        for _ in range(repeat):
            for payload in iter_sse_data(iter(c_lines)):
                value: Any = json.loads(payload)
                typing.cast(Any, construct_type(type_=V2ChatStreamResponse, object_=value))  # type: ignore[arg-type]
                n += 1
        return n

    run("cohere", c_lines * repeat, sse_plain, c_podium, c_sdk)


if __name__ == "__main__":
    main()
