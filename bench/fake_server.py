"""A fake OpenAI-compatible Chat Completions server for Podium's benchmark (stdlib only).

It answers at once (or after ``delay_ms``), so what a client spends per request is its own cost. It is
written on ``asyncio`` protocols: a thousand open keep-alive connections cost it one socket each, no thread.

``POST .../chat/completions``:

* no ``tools`` in the request: the text ``The answer is 3.``;
* ``tools`` and the last message is not a ``tool`` result: K parallel calls, in one assistant message, of
  the first tool offered, with arguments made from its JSON schema (integers 1, 2, ...: ``add(a=1, b=2)``);
* ``tools`` and the last message is a tool result: the final text;
* ``"stream": true``: SSE with a role chunk, N content chunks ``tok0 ``, ``tok1 `` ... (or the tool calls),
  a finish chunk, a usage chunk and ``data: [DONE]``, the whole body in one write.

Per-request settings are path segments before ``/v1``: ``/tool_calls=4/chunks=200/delay_ms=50/v1``;
``chunked=1`` frames a stream as one HTTP chunk per SSE event instead of one body with a length.
Rate limits (a 429 with ``retry-after``, in the OpenAI error shape): ``r429=P`` answers P percent of chat
requests so (spread evenly), ``rps=N`` answers so every chat request beyond N in the last second (a real
limit: clients that back off get through); ``retry_after_ms=M`` is the ``retry-after`` given (default 200;
with ``rps``, at least until a slot frees).
``GET /stats`` gives the counters (``connections``, ``requests``, ``chat``, ``rate_limited``; ``served``:
chat requests answered 200 per last user message); ``POST /reset`` zeroes them.

Run: ``python bench/fake_server.py --port 8000`` (or ``--port 0 --port-file F`` to pick a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FINAL_TEXT = "The answer is 3."
MODEL = "gpt-4o-mini-2024-07-18"
STATS: dict[str, Any] = {"connections": 0, "requests": 0, "chat": 0, "rate_limited": 0, "served": {}}
_recent: list[float] = []  # start times of the chat requests let through in the last second (rps=N)
_ids = itertools.count(1)
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def settings_of(path: str) -> dict[str, int]:
    """The ``key=value`` path segments (``tool_calls``, ``chunks``, ``delay_ms``)."""
    out = {"tool_calls": 1, "chunks": 200, "delay_ms": 0, "chunked": 0, "r429": 0, "rps": 0, "retry_after_ms": 200}
    for segment in path.split("/"):
        key, eq, value = segment.partition("=")
        if eq and key in out:
            out[key] = int(value)
    return out


def fake_args(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a tool from its JSON schema: integers 1, 2, 3 ..., strings ``"x"``."""
    out: dict[str, Any] = {}
    n = 0
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type")
        if kind == "integer":
            n += 1
            out[name] = n
        elif kind == "number":
            out[name] = 1.5
        elif kind == "boolean":
            out[name] = True
        elif kind == "array":
            out[name] = []
        elif kind == "object":
            out[name] = {}
        else:
            out[name] = "x"
    return out


def tool_calls_for(request: dict[str, Any], k: int) -> list[dict[str, Any]] | None:
    """K calls of the first tool offered, or ``None`` when the model should answer with text."""
    tools = request.get("tools")
    messages = request.get("messages") or []
    if not tools or (messages and messages[-1].get("role") == "tool"):
        return None
    function = tools[0].get("function") or {}
    arguments = _dumps(fake_args(function.get("parameters") or {}))
    base = next(_ids)
    return [
        {"id": f"call_{base}_{i}", "type": "function", "function": {"name": function["name"], "arguments": arguments}}
        for i in range(k)
    ]


def _usage(completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": 20,
        "completion_tokens": completion,
        "total_tokens": 20 + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def completion_body(calls: list[dict[str, Any]] | None) -> bytes:
    """A whole ``chat.completion`` JSON body."""
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else FINAL_TEXT, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    body = {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": _usage(12),
        "service_tier": "default",
        "system_fingerprint": "fp_bench",
    }
    return _dumps(body).encode()


def stream_body(calls: list[dict[str, Any]] | None, chunks: int) -> bytes:
    """An SSE body: role chunk, content (or tool-call) chunks, finish, usage, ``[DONE]``."""
    head = {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion.chunk", "created": int(time.time())}
    head |= {"model": MODEL, "service_tier": "default", "system_fingerprint": "fp_bench"}

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return "data: " + _dumps({**head, "choices": [choice]}) + "\n\n"

    events = [event({"role": "assistant", "content": "", "refusal": None})]
    if calls:
        for i, call in enumerate(calls):
            events.append(event({"tool_calls": [{"index": i, **call}]}))
    else:
        events.extend(event({"content": f"tok{i} "}) for i in range(chunks))
    events.append(event({}, "tool_calls" if calls else "stop"))
    events.append("data: " + _dumps({**head, "choices": [], "usage": _usage(chunks)}) + "\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


def _response(status: int, body: bytes, content_type: str, chunked: bool = False) -> bytes:
    """The whole response; ``chunked``: one HTTP chunk per SSE event (as real APIs frame streams)."""
    length = "transfer-encoding: chunked" if chunked else f"content-length: {len(body)}"
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\ncontent-type: {content_type}\r\n"
        f"{length}\r\nx-request-id: req_bench\r\nconnection: keep-alive\r\n\r\n"
    )
    if chunked:
        events = [e + b"\n\n" for e in body.split(b"\n\n")[:-1]]
        body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    return head.encode() + body


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def rate_limited(settings: dict[str, int]) -> float | None:
    """The ``retry-after`` (s) if this chat request is answered 429 (``r429``, ``rps``), else ``None``."""
    retry_after = settings["retry_after_ms"] / 1000
    share = settings["r429"]
    if share and (STATS["chat"] * share) // 100 != ((STATS["chat"] - 1) * share) // 100:
        return retry_after
    if settings["rps"]:
        now = time.monotonic()
        while _recent and _recent[0] <= now - 1.0:
            _recent.pop(0)
        if len(_recent) >= settings["rps"]:
            return max(retry_after, _recent[0] + 1.0 - now)
        _recent.append(now)
    return None


def _too_many(retry_after: float) -> bytes:
    STATS["rate_limited"] += 1
    body = {"error": {"message": "Rate limit reached (bench)", "type": "requests", "code": "rate_limit_exceeded"}}
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
        f"retry-after-ms: {int(retry_after * 1000)}\r\nretry-after: {max(1, round(retry_after))}\r\n"
        "x-request-id: req_bench\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + data


def answer(method: str, path: str, body: bytes) -> tuple[bytes, float]:
    """The whole HTTP response for a request, and the delay (s) before sending it."""
    STATS["requests"] += 1
    if method == "GET" and path.startswith("/stats"):
        return _response(200, json.dumps(STATS).encode(), "application/json"), 0.0
    if method == "POST" and path.startswith("/reset"):
        for key in STATS:
            STATS[key] = {} if key == "served" else 0
        return _response(200, b"{}", "application/json"), 0.0
    if method == "GET" and path.endswith("/models"):
        models = {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
        return _response(200, json.dumps(models).encode(), "application/json"), 0.0
    if method != "POST" or not path.endswith("/chat/completions"):
        return _response(404, b'{"error": {"message": "not found"}}', "application/json"), 0.0
    STATS["chat"] += 1
    settings = settings_of(path)
    request = json.loads(body)
    wait = rate_limited(settings)
    if wait is not None:
        return _too_many(wait), 0.0
    served = STATS["served"]
    prompt = _last_user_text(request)
    served[prompt] = served.get(prompt, 0) + 1
    calls = tool_calls_for(request, settings["tool_calls"])
    if request.get("stream"):
        data = stream_body(calls, settings["chunks"])
        content_type = "text/event-stream; charset=utf-8"
        return _response(200, data, content_type, bool(settings["chunked"])), settings["delay_ms"] / 1000
    return _response(200, completion_body(calls), "application/json"), settings["delay_ms"] / 1000


class HTTPProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive: Content-Length request bodies, one write per response."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        STATS["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = lines[0].split(" ", 2)
            try:
                response, delay = answer(method, path, body)
            except Exception as exc:  # a broken request: say so, keep serving
                response, delay = _response(400, json.dumps({"error": {"message": str(exc)}}).encode(), "json"), 0
            if delay:
                asyncio.get_running_loop().call_later(delay, self._send, response)
            else:
                self._send(response)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, port_file: str | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTPProtocol, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    if port_file:
        tmp = port_file + ".tmp"
        Path(tmp).write_text(str(bound))
        os.replace(tmp, port_file)
    print(f"fake OpenAI server on http://127.0.0.1:{bound}/v1", flush=True)
    async with server:
        await server.serve_forever()


class ServerProcess:
    """The fake server in its own process (its CPU is not the client's)."""

    def __init__(self, workdir: Path, python: str = sys.executable) -> None:
        port_file = workdir / "fake_server.port"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [python, __file__, "--port", "0", "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "fake_server.log", "w"),  # noqa: SIM115 - lives as long as the process
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the fake server did not start; see {workdir / 'fake_server.log'}")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        self.root = f"http://127.0.0.1:{self.port}"

    def url(self, **settings: int) -> str:
        """The base URL (ending in ``/v1``) with these per-request settings."""
        segments = "".join(f"/{k}={v}" for k, v in settings.items())
        return f"{self.root}{segments}/v1"

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.root + "/stats", timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def cpu_s(self) -> float:
        """CPU seconds the server process used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--port-file", default=None, help="write the bound port here (with --port 0)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.port_file))


if __name__ == "__main__":
    main()
