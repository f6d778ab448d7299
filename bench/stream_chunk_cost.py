"""CPU cost per streamed chunk: a plain httpx + json loop, the openai SDK's stream, and Podium's stream.

The bench's fake OpenAI server (:mod:`fake_server`, a separate process, so its CPU is not counted) answers
every request with an SSE stream of N chat-completion chunks shaped like OpenAI's (a usage chunk included). Each
variant streams the same body and consumes every text delta. Rounds are interleaved;
the table reports medians of process CPU time:

* ``cpu/iter``: CPU per whole streamed request (N chunks);
* ``cpu/chunk``: the marginal cost of one chunk, from the difference between N and 5N chunks, so fixed
  per-request costs (building the request, connecting) drop out;
* ``vs plain``: ``cpu/chunk`` over the plain httpx loop's.

``podium`` is the model's ``stream()`` (the provider alone); ``podium Agent.stream`` adds the agent loop and
its events on top.

Run: ``python bench/stream_chunk_cost.py [--chunks 200] [--rounds 7] [--iters 20] [--sse-mode whole|chunked]``
(needs ``pip install -e '.[openai,groq]'``; ``httpx`` comes with the groq SDK, ``httpx2`` with openai).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_server import ServerProcess

USER = [{"role": "user", "content": "What is the capital of the UK?"}]


def variants(base: str) -> dict[str, Callable[[int], int]]:
    """Each variant streams one request of ``n`` chunks and returns the number of text deltas consumed."""
    import httpx
    import httpx2
    import openai

    from podium.messages import Message
    from podium.providers.openai import OpenAIChatModel
    from podium.streaming import TextDelta

    def plain(lib: Any) -> Callable[[int], int]:
        client = lib.Client(headers={"Authorization": "Bearer sk-fake"}, timeout=30)

        def run(n: int) -> int:
            body = {"model": "gpt-4o-mini", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
            parts = []
            with client.stream("POST", f"{base}/chunks={n}/v1/chat/completions", json=body) as response:
                done = False
                for line in response.iter_lines():
                    if done or not line.startswith("data: "):
                        continue
                    data = line[6:]
                    if data == "[DONE]":
                        done = True
                        continue
                    for choice in json.loads(data).get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            parts.append(content)
            return len(parts)

        return run

    sdk_clients: dict[int, openai.OpenAI] = {}
    podium_models: dict[int, OpenAIChatModel] = {}

    def sdk(n: int) -> int:
        client = sdk_clients.get(n) or sdk_clients.setdefault(
            n, openai.OpenAI(base_url=f"{base}/chunks={n}/v1", api_key="sk-fake", max_retries=0)
        )
        parts = []
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        return len(parts)

    prompt = [Message.user(USER[0]["content"])]

    def podium(n: int) -> int:
        model = podium_models.get(n) or podium_models.setdefault(
            n, OpenAIChatModel("gpt-4o-mini", base_url=f"{base}/chunks={n}/v1", api_key="sk-fake")
        )
        parts = [e.text for e in model.stream(prompt) if isinstance(e, TextDelta)]
        return len(parts)

    from podium import Agent

    agents: dict[int, Agent] = {}

    def agent(n: int) -> int:
        a = agents.get(n) or agents.setdefault(
            n,
            Agent(
                podium_models.get(n)
                or podium_models.setdefault(
                    n, OpenAIChatModel("gpt-4o-mini", base_url=f"{base}/chunks={n}/v1", api_key="sk-fake")
                )
            ),
        )
        return len([e.text for e in a.stream(USER[0]["content"]) if isinstance(e, TextDelta)])

    return {
        "plain httpx": plain(httpx),
        "plain httpx2": plain(httpx2),
        "openai SDK": sdk,
        "podium": podium,
        "podium Agent.stream": agent,
    }


def async_variants(base: str) -> dict[str, Callable[[int], int]]:
    """Async twins, each driven by one event loop per measurement batch (``asyncio.run`` outside the timing)."""
    import httpx

    from podium.messages import Message
    from podium.providers.openai import OpenAIChatModel
    from podium.streaming import TextDelta

    prompt = [Message.user(USER[0]["content"])]
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(headers={"Authorization": "Bearer sk-fake"}, timeout=30)
    models: dict[int, OpenAIChatModel] = {}

    async def plain(n: int) -> int:
        body = {"model": "gpt-4o-mini", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
        parts = []
        async with client.stream("POST", f"{base}/chunks={n}/v1/chat/completions", json=body) as response:
            done = False
            async for line in response.aiter_lines():
                if done or not line.startswith("data: "):
                    continue
                if line[6:] == "[DONE]":
                    done = True
                    continue
                for choice in json.loads(line[6:]).get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
        return len(parts)

    async def pod(n: int) -> int:
        model = models.get(n) or models.setdefault(
            n, OpenAIChatModel("gpt-4o-mini", base_url=f"{base}/chunks={n}/v1", api_key="sk-fake")
        )
        return len([e.text async for e in model.astream(prompt) if isinstance(e, TextDelta)])

    return {
        "plain httpx async": lambda n: loop.run_until_complete(plain(n)),
        "podium async": lambda n: loop.run_until_complete(pod(n)),
    }


def measure(fn: Callable[[int], int], n: int, iters: int) -> float:
    """Median-free CPU seconds per call over ``iters`` calls (after one warm-up call)."""
    assert fn(n) == n, "every text delta must be consumed"
    start = time.process_time()
    for _ in range(iters):
        fn(n)
    return (time.process_time() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--sse-mode", choices=["whole", "chunked"], default="whole")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()

    workdir = Path(tempfile.gettempdir()) / "podium-bench"
    workdir.mkdir(exist_ok=True)
    server = ServerProcess(workdir)
    base = server.root + ("/chunked=1" if args.sse_mode == "chunked" else "")
    try:
        fns = {**variants(base), **async_variants(base)}
        small, large = args.chunks, args.chunks * 5
        per_iter: dict[str, list[float]] = {k: [] for k in fns}
        per_chunk: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                a = measure(fn, small, args.iters)
                b = measure(fn, large, max(1, args.iters // 5))
                per_iter[name].append(a)
                per_chunk[name].append((b - a) / (large - small))
    finally:
        server.stop()
    plain = statistics.median(per_chunk["plain httpx"])
    plain_async = statistics.median(per_chunk["plain httpx async"])
    rows = []
    print(
        f"stream of {small} chunks (marginal cost from {small} vs {large}), {args.rounds} rounds, "
        f"sse-mode={args.sse_mode}, python {sys.version.split()[0]}"
    )
    print(f"{'variant':<20} {'cpu/iter ms':>12} {'cpu/chunk us':>13} {'vs plain':>9}")
    for name in fns:
        it = statistics.median(per_iter[name]) * 1e3
        ch = statistics.median(per_chunk[name]) * 1e6
        base_cost = plain_async if "async" in name else plain
        ratio = statistics.median(per_chunk[name]) / base_cost
        rows.append({"variant": name, "cpu_ms_per_iter": it, "cpu_us_per_chunk": ch, "vs_plain": ratio})
        print(f"{name:<20} {it:>12.2f} {ch:>13.2f} {ratio:>8.2f}x")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
