"""Per-chunk cost of streaming for Mistral, Ollama and Cohere: plain loop vs the SDK's stream vs Podium.

Serves one synthetic stream of N text chunks from ``podium.testing.cassette.ReplayServer`` on loopback
(the same way as ``bench/provider_stream_cost.py``) and reads it three ways, each R times, keeping the
fastest run (wall time per chunk, client and server on the same machine):

* mistral: ``/v1/chat/completions`` SSE. plain = ``httpx2`` stream + line split + ``json.loads``;
  sdk = ``Mistral.chat.stream`` (a pydantic event per chunk); podium = ``MistralModel.stream``.
* ollama: ``/api/chat`` NDJSON. plain = ``httpx`` stream + ``json.loads`` per line;
  sdk = ``ollama.Client.chat(stream=True)``; podium = ``OllamaModel.stream``.
* cohere: ``/v2/chat`` SSE ``content-delta`` events. plain = ``httpx`` stream + line split + ``json.loads``;
  sdk = ``ClientV2.chat_stream``; podium = ``CohereModel.stream``.

Run: ``python bench/stream_chunks_mistral_ollama_cohere.py [--chunks 2000] [--repeat 5]``
(needs ``pip install -e '.[mistral,ollama,cohere,dev]'``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium.messages import Message
from podium.providers.retry import RetryPolicy
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer

NO_RETRY = RetryPolicy(max_retries=0)


def serve(path: str, body: bytes, content_type: str, copies: int) -> ReplayServer:
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    interactions = [Interaction(request, 200, {"content-type": content_type}, body) for _ in range(copies)]
    return ReplayServer(Cassette(Path("bench"), interactions)).start()


def best(fn: Callable[[], int], repeat: int, n: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
        assert count >= n, (count, n)
    return min(times) / n * 1e6


def run_three(
    plain: Callable[[], int], sdk: Callable[[], int], podium: Callable[[], int], repeat: int, n: int
) -> dict[str, float]:
    for fn in (plain, sdk, podium):  # warm up connections and imports
        fn()
    return {name: best(fn, repeat, n) for name, fn in (("plain", plain), ("sdk", sdk), ("podium", podium))}


def mistral_body(n: int) -> bytes:
    head = {"id": "bench", "object": "chat.completion.chunk", "created": 1, "model": "mistral-small-latest"}
    lines = []
    for i in range(n):
        choice: dict[str, Any] = {"index": 0, "delta": {"content": f" word{i}"}, "finish_reason": None}
        chunk: dict[str, Any] = {**head, "choices": [choice]}
        if i == n - 1:
            choice["finish_reason"] = "stop"
            chunk["usage"] = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
        lines.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    return b"".join(lines) + b"data: [DONE]\n\n"


def bench_mistral(n: int, repeat: int) -> dict[str, float]:
    import httpx2
    from mistralai.client import Mistral

    from podium.providers.mistral import MistralModel

    path = "/v1/chat/completions"
    server = serve(path, mistral_body(n), "text/event-stream", copies=3 * (repeat + 1))
    http = httpx2.Client()

    def plain() -> int:
        count = 0
        with http.stream("POST", server.url + path, json={"stream": True}) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    count += bool(json.loads(line[6:])["choices"][0]["delta"]["content"])
        return count

    client = Mistral(api_key="x", server_url=server.url)

    def sdk() -> int:
        events = client.chat.stream(model="mistral-small-latest", messages=[{"role": "user", "content": "hi"}])
        return sum(1 for e in events if e.data.choices[0].delta.content)

    model = MistralModel("mistral-small-latest", base_url=server.url, api_key="x", retry=NO_RETRY)

    def podium() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")])) - 1

    try:
        return run_three(plain, sdk, podium, repeat, n)
    finally:
        server.stop()


def ollama_body(n: int) -> bytes:
    lines = []
    for i in range(n):
        line: dict[str, Any] = {
            "model": "llama3",
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": f" word{i}"},
            "done": False,
        }
        lines.append(json.dumps(line).encode() + b"\n")
    end = {"model": "llama3", "created_at": "t", "message": {"role": "assistant", "content": ""}, "done": True}
    end.update({"done_reason": "stop", "prompt_eval_count": 10, "eval_count": n, "total_duration": 1})
    return b"".join(lines) + json.dumps(end).encode() + b"\n"


def bench_ollama(n: int, repeat: int) -> dict[str, float]:
    import httpx
    import ollama

    from podium.providers.ollama import OllamaModel

    path = "/api/chat"
    server = serve(path, ollama_body(n), "application/x-ndjson", copies=3 * (repeat + 1))
    http = httpx.Client()

    def plain() -> int:
        count = 0
        with http.stream("POST", server.url + path, json={"stream": True}) as response:
            for line in response.iter_lines():
                if line:
                    count += bool(json.loads(line)["message"]["content"])
        return count

    client = ollama.Client(host=server.url)

    def sdk() -> int:
        parts = client.chat(model="llama3", messages=[{"role": "user", "content": "hi"}], stream=True)
        return sum(1 for p in parts if p.message.content)

    model = OllamaModel("llama3", base_url=server.url, retry=NO_RETRY)

    def podium() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")])) - 1

    try:
        return run_three(plain, sdk, podium, repeat, n)
    finally:
        server.stop()


def cohere_body(n: int) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": "bench", "delta": {"message": {"role": "assistant"}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    ]
    for i in range(n):
        events.append({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": f" word{i}"}}}})
    events.append({"type": "content-end", "index": 0})
    usage = {"billed_units": {"input_tokens": 5, "output_tokens": n}, "tokens": {"input_tokens": 9, "output_tokens": n}}
    events.append({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}})
    out = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return b"".join(out) + b"data: [DONE]\n\n"


def bench_cohere(n: int, repeat: int) -> dict[str, float]:
    import cohere
    import httpx

    from podium.providers.cohere import CohereModel

    path = "/v2/chat"
    server = serve(path, cohere_body(n), "text/event-stream", copies=3 * (repeat + 1))
    http = httpx.Client()

    def plain() -> int:
        count = 0
        with http.stream("POST", server.url + path, json={"stream": True}) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    event = json.loads(line[6:])
                    count += event["type"] == "content-delta"
        return count

    client = cohere.ClientV2(api_key="x", base_url=server.url)

    def sdk() -> int:
        events = client.chat_stream(model="command-r7b-12-2024", messages=[{"role": "user", "content": "hi"}])
        return sum(1 for e in events if e.type == "content-delta")

    model = CohereModel("command-r7b-12-2024", base_url=server.url, api_key="x", retry=NO_RETRY)

    def podium() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")])) - 1

    try:
        return run_three(plain, sdk, podium, repeat, n)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, fn in (("mistral", bench_mistral), ("ollama", bench_ollama), ("cohere", bench_cohere)):
        r = fn(args.chunks, args.repeat)
        print(
            f"{name:8s} per chunk: plain {r['plain']:6.1f} us | sdk {r['sdk']:6.1f} us | podium {r['podium']:6.1f} us"
            f" | podium/plain {r['podium'] / r['plain']:.2f}x | sdk/plain {r['sdk'] / r['plain']:.2f}x"
        )


if __name__ == "__main__":
    main()
