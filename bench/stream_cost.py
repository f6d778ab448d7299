"""CPU per streamed chunk on every provider with a stream: Podium vs a plain httpx2 loop vs the vendor's SDK.

One method for all providers. A fake server (``podium.testing.FakeProviderServer``, in a process of its
own, so its CPU is not counted) answers every request in the vendor's real wire format (SSE, NDJSON or
AWS event stream) with a text of ``N`` chunks, and a second one with ``5N``. Each client reads both
streams ``R`` times; the marginal cost of one chunk is ``(cpu(5N) - cpu(N)) / 4N``, so connection set-up,
request building and the final response cancel out. Per round, the three clients of a provider run one
after the other (order rotated); a ratio is the median over rounds of that round's ratio.

* ``floor``: ``httpx2`` ``client.stream`` + the format's framing + ``json.loads`` per event, no translation;
* ``sdk``: the vendor's official SDK streaming call, iterated (what a user of the SDK pays);
* ``podium``: ``model.stream(...)``, every delta consumed;
* ``agent``: ``Agent(model).stream("hi")``, the same under the agent loop.

Run: ``.venv/bin/python bench/stream_cost.py [--chunks 400] [--repeat 3] [--rounds 5] [--providers a,b]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

FORMAT = {
    "openai": "sse",
    "groq": "sse",
    "mistral": "sse",
    "openai-responses": "sse",
    "anthropic": "sse",
    "google": "sse",
    "cohere": "sse",
    "bedrock": "eventstream",
    "ollama": "ndjson",
}
MODEL = {
    "openai": "gpt-4o-mini",
    "groq": "llama-3.3-70b-versatile",
    "mistral": "mistral-small-latest",
    "openai-responses": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "google": "gemini-2.5-flash",
    "cohere": "command-a-03-2025",
    "bedrock": "us.amazon.nova-micro-v1:0",
    "ollama": "llama3.2",
}
PATH = {
    "openai": "/v1/chat/completions",
    "groq": "/openai/v1/chat/completions",
    "mistral": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "google": "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    "cohere": "/v2/chat",
    "bedrock": "/model/us.amazon.nova-micro-v1:0/converse-stream",
    "ollama": "/api/chat",
}
SERVER = """
import sys
from podium.testing.fake_server import FakeProviderServer, Reply
server = FakeProviderServer(default=Reply.answer("x" * 8 * int(sys.argv[1]))).start()
print(server.url, flush=True)
sys.stdin.read()
"""


@contextmanager
def fake_server(chunks: int) -> Iterator[str]:
    """A fake provider server in its own process whose answers stream ``chunks`` text pieces."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(chunks)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- clients: each returns a reader


def floor(provider: str, url: str) -> Callable[[], int]:
    """A plain httpx2 loop: framing + json.loads per event."""
    import httpx2

    client = httpx2.Client(timeout=60)
    target = url + PATH[provider]
    body = {"model": MODEL[provider], "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    fmt = FORMAT[provider]

    def read() -> int:
        count = 0
        with client.stream("POST", target, json=body) as response:
            if fmt == "eventstream":
                from botocore.eventstream import EventStreamBuffer

                buffer = EventStreamBuffer()
                for data in response.iter_bytes():
                    buffer.add_data(data)
                    for message in buffer:
                        json.loads(message.payload)
                        count += 1
            else:
                for line in response.iter_lines():
                    if fmt == "sse":
                        if not line.startswith("data:"):
                            continue
                        line = line[5:].strip()
                        if line == "[DONE]":
                            continue
                    if line:
                        json.loads(line)
                        count += 1
        return count

    return read


def podium_model(provider: str, url: str) -> Any:
    """Podium's own provider class for ``provider``, pointed at the fake server."""
    import podium as pd
    from podium.providers.retry import RetryPolicy

    options: dict[str, Any] = {"base_url": url, "api_key": "fake-key", "retry": RetryPolicy(max_retries=0)}
    if provider in ("openai", "openai-responses"):
        options["base_url"] = url + "/v1"
    if provider == "bedrock":
        del options["api_key"]
        options.update(region="us-east-1", aws_access_key_id="fake", aws_secret_access_key="fake")
    return pd.model(f"{provider}:{MODEL[provider]}", **options)


def podium(provider: str, url: str) -> Callable[[], int]:
    """``model.stream`` of Podium's own provider class."""
    from podium import Message

    model = podium_model(provider, url)
    prompt = [Message.user("hi")]

    def read() -> int:
        return sum(1 for _ in model.stream(prompt)) - 1

    return read


def agent(provider: str, url: str) -> Callable[[], int]:
    """``Agent.stream``: the same model under the agent loop (events, history, usage)."""
    from podium import Agent
    from podium.streaming import TextDelta

    bot = Agent(podium_model(provider, url))

    def read() -> int:
        return sum(1 for event in bot.stream("hi") if isinstance(event, TextDelta))

    return read


def sdk(provider: str, url: str) -> Callable[[], int]:
    """The vendor SDK's own streaming call."""
    model = MODEL[provider]
    messages = [{"role": "user", "content": "hi"}]
    if provider in ("openai", "groq"):
        if provider == "openai":
            import openai

            chat: Any = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        else:
            import groq

            chat = groq.Groq(base_url=url, api_key="k", max_retries=0)
        return lambda: sum(1 for _ in chat.chat.completions.create(model=model, messages=messages, stream=True))
    if provider == "openai-responses":
        import openai

        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        return lambda: sum(1 for _ in client.responses.create(model=model, input="hi", stream=True))
    if provider == "anthropic":
        import anthropic

        claude = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
        return lambda: sum(
            1 for _ in claude.messages.create(model=model, max_tokens=64, messages=messages, stream=True)
        )
    if provider == "google":
        from google import genai

        gemini = genai.Client(api_key="k", http_options={"base_url": url, "api_version": "v1beta"})
        return lambda: sum(1 for _ in gemini.models.generate_content_stream(model=model, contents="hi"))
    if provider == "bedrock":
        import boto3

        creds = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        bedrock = boto3.client("bedrock-runtime", endpoint_url=url, **creds)
        prompt = [{"role": "user", "content": [{"text": "hi"}]}]
        return lambda: sum(1 for _ in bedrock.converse_stream(modelId=model, messages=prompt)["stream"])
    if provider == "mistral":
        from mistralai.client import Mistral

        mistral = Mistral(api_key="k", server_url=url)
        return lambda: sum(1 for _ in mistral.chat.stream(model=model, messages=messages))
    if provider == "cohere":
        import cohere

        co = cohere.ClientV2(api_key="k", base_url=url)
        return lambda: sum(1 for _ in co.chat_stream(model=model, messages=messages))
    if provider == "ollama":
        import ollama

        llama = ollama.Client(host=url)
        return lambda: sum(1 for _ in llama.chat(model=model, messages=messages, stream=True))
    raise ValueError(provider)


CLIENTS = {"floor": floor, "sdk": sdk, "podium": podium, "agent": agent}


def cpu(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Process CPU seconds of ``repeat`` reads, and the events of the last."""
    count = 0
    start = time.process_time()
    for _ in range(repeat):
        count = fn()
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--providers", default=",".join(FORMAT))
    parser.add_argument("--json", dest="json_out", default="")
    args = parser.parse_args()
    providers = args.providers.split(",")
    n = args.chunks
    results: dict[str, dict[str, list[float]]] = {p: {c: [] for c in CLIENTS} for p in providers}
    with fake_server(n) as small, fake_server(5 * n) as big:
        readers = {}
        for p in providers:
            for name, make in CLIENTS.items():
                try:
                    readers[p, name] = (make(p, small), make(p, big))
                    readers[p, name][0]()  # warm up: imports, connections, caches
                    readers[p, name][1]()
                except Exception as exc:  # an SDK that cannot talk to the fake server is reported, not fatal
                    print(f"{p}/{name}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        for round_no in range(args.rounds):
            for p in providers:
                order = list(CLIENTS)
                order = order[round_no % len(order) :] + order[: round_no % len(order)]
                for name in order:
                    if (p, name) not in readers:
                        continue
                    read_small, read_big = readers[p, name]
                    t_small, _ = cpu(read_small, args.repeat)
                    t_big, _ = cpu(read_big, args.repeat)
                    per_chunk = (t_big - t_small) / args.repeat / (4 * n)
                    results[p][name].append(per_chunk * 1e6)
    print(f"CPU per streamed chunk (us), median of {args.rounds} rounds; N={n} and 5N chunks, {args.repeat} reads each")
    print(f"{'provider':<18}{'floor':>8}{'sdk':>8}{'podium':>8}{'agent':>8}{'podium/floor':>14}{'podium/sdk':>12}")
    summary: dict[str, Any] = {}
    for p in providers:
        row = results[p]
        med = {k: statistics.median(v) if v else float("nan") for k, v in row.items()}
        vs_floor = _ratio(row["podium"], row["floor"])
        vs_sdk = _ratio(row["podium"], row["sdk"])
        summary[p] = {**med, "podium/floor": vs_floor, "podium/sdk": vs_sdk}
        print(
            f"{p:<18}{med['floor']:>8.1f}{med['sdk']:>8.1f}{med['podium']:>8.1f}{med['agent']:>8.1f}"
            f"{vs_floor:>13.2f}x{vs_sdk:>11.2f}x"
        )
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(summary, f, indent=2)


def _ratio(a: list[float], b: list[float]) -> float:
    pairs = [x / y for x, y in zip(a, b, strict=False) if y > 0]
    return statistics.median(pairs) if pairs else float("nan")


if __name__ == "__main__":
    main()
