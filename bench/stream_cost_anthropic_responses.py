"""Per-chunk CPU cost of reading a provider stream: Podium vs a plain httpx + json loop vs the SDK's stream.

Run: ``python bench/stream_cost_anthropic_responses.py`` (needs ``podium[anthropic,openai]``).

For Anthropic (Messages API) and the OpenAI Responses API, a stream of N text-delta events in the shape
the real APIs send (taken from the cassettes) is served by a local HTTP server in another process, one
event per write. Each client reads the whole stream; its own CPU time (``time.process_time``) is
measured for two sizes, and the per-event cost is the slope between them, so fixed per-request costs
(building the request, opening the connection, the final parse) do not count.

* ``plain``: ``httpx`` ``iter_lines`` and ``json.loads`` of each ``data:`` line, nothing else.
* ``podium``: ``model.stream(...)`` consumed to the end (deltas, then the final ModelResponse).
* ``sdk``: the official SDK's ``create(stream=True)``, which builds a pydantic event per chunk.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

SIZES = (1000, 4000)
REPEATS = 5


# --------------------------------------------------------------------------- streams


def anthropic_stream(n: int) -> bytes:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "model": "claude-sonnet-4-6",
                "id": "msg_018E1hg8GoVTGEKQY3ovMcSJ",
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 20,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    words = ["Here", " are", " the", " basic", " steps", " for", " safely", " crossing", " the", " street"]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": words[i % len(words)]}}
        for i in range(n)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
        {"type": "message_stop"},
    ]
    # The API pads its JSON lines with trailing spaces; keep that shape.
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}      \n\n".encode() for e in events
    )


def responses_stream(n: int) -> bytes:
    response = {
        "id": "resp_68c42d0fb418819dbfa579f69406b49508fbf9b1584184ff",
        "object": "response",
        "created_at": 1757687055,
        "status": "in_progress",
        "model": "gpt-4o-2024-08-06",
        "output": [],
        "usage": None,
    }
    item_id = "msg_68c42d26866c819da8d5c606621c911608fbf9b1584184ff"
    words = ["Here", " are", " the", " basic", " steps", " for", " safely", " crossing", " the", " street"]
    text = "".join(words[i % len(words)] for i in range(n))
    item = {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item},
        {
            "type": "response.content_part.added",
            "sequence_number": 2,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
        },
    ]
    events += [
        {
            "type": "response.output_text.delta",
            "sequence_number": 3 + i,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": words[i % len(words)],
            "logprobs": [],
            "obfuscation": "wUreb4lQ",
        }
        for i in range(n)
    ]
    done_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    usage = {
        "input_tokens": 14,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": n,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 14 + n,
    }
    events += [
        {"type": "response.output_item.done", "sequence_number": n + 3, "output_index": 0, "item": done_item},
        {
            "type": "response.completed",
            "sequence_number": n + 4,
            "response": {**response, "status": "completed", "output": [done_item], "usage": usage},
        },
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n".encode() for e in events)


# --------------------------------------------------------------------------- server (another process)


def serve(path: str) -> None:
    """Serve the file's SSE body for any POST, one event per write, until killed."""
    body = Path(path).read_bytes()
    chunks = [c + b"\n\n" for c in body.split(b"\n\n") if c]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(sum(len(c) for c in chunks)))
            self.end_headers()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_server(body: bytes, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    tmp.write_bytes(body)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(tmp)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    return proc, f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- clients


def plain(url: str, path: str) -> Callable[[], int]:
    import httpx2 as httpx

    client = httpx.Client()

    def run() -> int:
        count = 0
        with client.stream("POST", url + path, json={"stream": True}) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    json.loads(line[5:])
                    count += 1
        return count

    return run


def podium_anthropic(url: str) -> Callable[[], int]:
    from podium.messages import Message
    from podium.providers.anthropic import AnthropicModel

    model = AnthropicModel("claude-sonnet-4-6", base_url=url, api_key="bench")

    def run() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")]))

    return run


def podium_responses(url: str) -> Callable[[], int]:
    from podium.messages import Message
    from podium.providers.openai_responses import OpenAIResponsesModel

    model = OpenAIResponsesModel("gpt-4o", base_url=url + "/v1", api_key="bench")

    def run() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")]))

    return run


def sdk_anthropic(url: str) -> Callable[[], int]:
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key="bench", max_retries=0)

    def run() -> int:
        stream = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=1024, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return sum(1 for _ in stream)

    return run


def sdk_responses(url: str) -> Callable[[], int]:
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0)

    def run() -> int:
        return sum(1 for _ in client.responses.create(model="gpt-4o", input="hi", stream=True))

    return run


def cpu_time(fn: Callable[[], int]) -> float:
    fn()  # warm up (imports, connection)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def per_event(make: Callable[[str], Callable[[], int]], stream: Callable[[int], bytes], tmp: Path) -> float:
    times = []
    for n in SIZES:
        proc, url = start_server(stream(n), tmp)
        try:
            times.append(cpu_time(make(url)))
        finally:
            proc.kill()
            proc.wait()
    return (times[1] - times[0]) / (SIZES[1] - SIZES[0])


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "stream.sse"
        rows = [
            ("anthropic", anthropic_stream, "/v1/messages", podium_anthropic, sdk_anthropic),
            ("openai-responses", responses_stream, "/v1/responses", podium_responses, sdk_responses),
        ]
        print(f"per-event client CPU (slope between {SIZES[0]} and {SIZES[1]} events, best of {REPEATS})")
        print(f"{'provider':<18}{'plain':>10}{'podium':>10}{'sdk':>10}{'podium/plain':>14}{'sdk/plain':>11}")
        for name, stream, path, podium_client, sdk_client in rows:
            base = per_event(lambda url, path=path: plain(url, path), stream, tmp)
            ours = per_event(podium_client, stream, tmp)
            theirs = per_event(sdk_client, stream, tmp)
            print(
                f"{name:<18}{base * 1e6:>8.1f}us{ours * 1e6:>8.1f}us{theirs * 1e6:>8.1f}us"
                f"{ours / base:>13.2f}x{theirs / base:>10.2f}x"
            )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        main()
