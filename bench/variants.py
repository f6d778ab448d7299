"""The scenarios, written once per client: Podium (sync and async), the raw openai SDK, a plain httpx loop.

Scenarios (the same as the peers' harness, ``../shared/bench``):

* ``S1``: one plain chat turn (1 model call);
* ``S2``: a tool loop, the model calls ``add(a, b)`` once, the tool runs, the model answers (2 calls);
* ``S3``: the model calls ``slow_add`` 4 times in one message, each call blocks 100 ms (``time.sleep``);
  ~100 ms when the calls run concurrently (2 calls);
* ``S3a``: as S3 with an ``async def`` tool awaiting ``asyncio.sleep(0.1)`` (async clients only);
* ``S4``: a stream of 200 text chunks, every delta consumed (1 call).

:func:`make` returns, for a variant and a scenario, a function that runs one iteration (a fresh
conversation) and returns ``(final_text, number_of_text_deltas_or_None)``; for async variants a coroutine
function. Every iteration is checked by :func:`check`; tools count their runs in :data:`TOOL_RUNS`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

VARIANTS = (
    "raw_httpx",
    "raw_httpx_async",
    "raw_httpx2_async",
    "openai_sdk",
    "openai_sdk_async",
    "podium",
    "podium_async",
)
ASYNC = frozenset(v for v in VARIANTS if v.endswith("_async"))
SCENARIOS = ("S1", "S2", "S3", "S3a", "S4")
PROMPTS = {
    "S1": "Say hello.",
    "S2": "What is 1 + 2? Use the add tool.",
    "S3": "Look up four numbers with slow_add, all at once.",
    "S3a": "Look up four numbers with slow_add, all at once.",
    "S4": "Tell me a long story.",
}
FINAL_TEXT = "The answer is 3."
CHUNKS = 200
PARALLEL = 4
SLEEP_S = 0.1
MODEL = "gpt-4o-mini"
API_KEY = "sk-bench"
TOOL_CALLS_PER_ITER = {"S1": 0, "S2": 1, "S3": PARALLEL, "S3a": PARALLEL, "S4": 0}
MODEL_CALLS_PER_ITER = {"S1": 1, "S2": 2, "S3": 2, "S3a": 2, "S4": 1}

Iteration = Callable[[], tuple[str, int | None]]
AsyncIteration = Callable[[], Awaitable[tuple[str, int | None]]]


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def inc(self) -> None:
        with self._lock:
            self.n += 1


TOOL_RUNS = _Counter()


def add_impl(a: int, b: int) -> int:
    TOOL_RUNS.inc()
    return a + b


def slow_add_impl(a: int, b: int) -> int:
    time.sleep(SLEEP_S)
    TOOL_RUNS.inc()
    return a + b


async def aslow_add_impl(a: int, b: int) -> int:
    await asyncio.sleep(SLEEP_S)
    TOOL_RUNS.inc()
    return a + b


_PARAMS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}
ADD_SCHEMA = {
    "type": "function",
    "function": {"name": "add", "description": "Add two integers.", "parameters": _PARAMS},
}
SLOW_ADD_SCHEMA = {
    "type": "function",
    "function": {"name": "slow_add", "description": "Add two integers, slowly.", "parameters": _PARAMS},
}
WIRE_TOOLS = {"S2": [ADD_SCHEMA], "S3": [SLOW_ADD_SCHEMA], "S3a": [SLOW_ADD_SCHEMA]}
IMPLS: dict[str, Callable[..., int]] = {"add": add_impl, "slow_add": slow_add_impl}


def scenario_url(root: str, scenario: str, delay_ms: int = 0) -> str:
    """The fake server's base URL (ending in ``/v1``) for a scenario."""
    segments = f"/tool_calls={PARALLEL}" if scenario in ("S3", "S3a") else "/tool_calls=1"
    if scenario == "S4":
        segments += f"/chunks={CHUNKS}"
    if delay_ms:
        segments += f"/delay_ms={delay_ms}"
    return f"{root.rstrip('/')}{segments}/v1"


def check(scenario: str, text: str, deltas: int | None) -> str | None:
    """``None`` when an iteration's result is right, else what is wrong."""
    if scenario == "S4":
        want = "".join(f"tok{i} " for i in range(CHUNKS))
        if deltas != CHUNKS:
            return f"got {deltas} text deltas, want {CHUNKS}"
        if text != want:
            return f"stream text mismatch ({len(text)} chars)"
        return None
    if FINAL_TEXT not in (text or ""):
        return f"unexpected final text: {text[:80]!r}"
    return None


def make(variant: str, scenario: str, root: str, delay_ms: int = 0) -> Any:
    """The iteration function of ``variant`` for ``scenario`` against the fake server at ``root``."""
    if scenario == "S3a" and variant not in ASYNC:
        raise ValueError(f"{variant}: S3a needs an async client")
    url = scenario_url(root, scenario, delay_ms)
    build = {
        "raw_httpx": _raw_httpx,
        "raw_httpx_async": _raw_httpx_async,
        "raw_httpx2_async": lambda scenario, url: _raw_httpx_async(scenario, url, lib="httpx2"),
        "openai_sdk": _openai_sdk,
        "openai_sdk_async": _openai_sdk_async,
        "podium": _podium,
        "podium_async": _podium_async,
    }[variant]
    return build(scenario, url)


# --------------------------------------------------------------------------- the floor: httpx + json


def _body(scenario: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": messages}
    if scenario in WIRE_TOOLS:
        body["tools"] = WIRE_TOOLS[scenario]
    if scenario == "S4":
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _read_sse_line(line: str, parts: list[str]) -> bool:
    """Handle one SSE line; ``True`` at ``[DONE]``."""
    if not line.startswith("data: "):
        return False
    data = line[6:]
    if data == "[DONE]":
        return True
    for choice in json.loads(data).get("choices") or ():
        content = (choice.get("delta") or {}).get("content")
        if content:
            parts.append(content)
    return False


def _raw_httpx(scenario: str, url: str) -> Iteration:
    import httpx

    client = httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    pool = ThreadPoolExecutor(max_workers=8)
    endpoint = url + "/chat/completions"

    def run() -> tuple[str, int | None]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPTS[scenario]}]
        if scenario == "S4":
            parts: list[str] = []
            with client.stream("POST", endpoint, json=_body(scenario, messages)) as response:
                for line in response.iter_lines():
                    if _read_sse_line(line, parts):
                        break
            return "".join(parts), len(parts)
        while True:
            response = client.post(endpoint, json=_body(scenario, messages))
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            messages.append(message)
            calls = message.get("tool_calls")
            if not calls:
                return message["content"], None
            futures = [
                pool.submit(IMPLS[c["function"]["name"]], **json.loads(c["function"]["arguments"])) for c in calls
            ]
            for call, future in zip(calls, futures, strict=True):
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(future.result())})

    return run


def _raw_httpx_async(scenario: str, url: str, lib: str = "httpx") -> AsyncIteration:
    import importlib

    httpx = importlib.import_module(lib)  # httpx, or httpx2 (the fork the openai SDK uses)
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)  # the openai SDK's
    clients: dict[int, Any] = {}
    endpoint = url + "/chat/completions"

    def client() -> Any:  # one per event loop
        key = id(asyncio.get_running_loop())
        if key not in clients:
            clients[key] = httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60, limits=limits)
        return clients[key]

    async def run() -> tuple[str, int | None]:
        http = client()
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPTS[scenario]}]
        if scenario == "S4":
            parts: list[str] = []
            async with http.stream("POST", endpoint, json=_body(scenario, messages)) as response:
                async for line in response.aiter_lines():
                    if _read_sse_line(line, parts):
                        break
            return "".join(parts), len(parts)
        while True:
            response = await http.post(endpoint, json=_body(scenario, messages))
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            messages.append(message)
            calls = message.get("tool_calls")
            if not calls:
                return message["content"], None
            if scenario == "S3a":
                coros = [aslow_add_impl(**json.loads(c["function"]["arguments"])) for c in calls]
            else:
                coros = [
                    asyncio.to_thread(IMPLS[c["function"]["name"]], **json.loads(c["function"]["arguments"]))
                    for c in calls
                ]
            results = await asyncio.gather(*coros)
            for call, result in zip(calls, results, strict=True):
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})

    return run


# --------------------------------------------------------------------------- the official openai SDK


def _assistant_dict(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
        ]
    return out


def _sdk_kwargs(scenario: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": messages}
    if scenario in WIRE_TOOLS:
        kwargs["tools"] = WIRE_TOOLS[scenario]
    return kwargs


def _openai_sdk(scenario: str, url: str) -> Iteration:
    import openai

    client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
    pool = ThreadPoolExecutor(max_workers=8)

    def run() -> tuple[str, int | None]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPTS[scenario]}]
        if scenario == "S4":
            parts: list[str] = []
            stream = client.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **_sdk_kwargs(scenario, messages)
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return "".join(parts), len(parts)
        while True:
            message = client.chat.completions.create(**_sdk_kwargs(scenario, messages)).choices[0].message
            messages.append(_assistant_dict(message))
            if not message.tool_calls:
                return message.content or "", None
            futures = [
                pool.submit(IMPLS[c.function.name], **json.loads(c.function.arguments)) for c in message.tool_calls
            ]
            for call, future in zip(message.tool_calls, futures, strict=True):
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(future.result())})

    return run


def _openai_sdk_async(scenario: str, url: str) -> AsyncIteration:
    import openai

    clients: dict[int, openai.AsyncOpenAI] = {}

    def client() -> openai.AsyncOpenAI:
        key = id(asyncio.get_running_loop())
        if key not in clients:
            clients[key] = openai.AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0, timeout=60)
        return clients[key]

    async def run() -> tuple[str, int | None]:
        sdk = client()
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPTS[scenario]}]
        if scenario == "S4":
            parts: list[str] = []
            stream = await sdk.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **_sdk_kwargs(scenario, messages)
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return "".join(parts), len(parts)
        while True:
            message = (await sdk.chat.completions.create(**_sdk_kwargs(scenario, messages))).choices[0].message
            messages.append(_assistant_dict(message))
            if not message.tool_calls:
                return message.content or "", None
            if scenario == "S3a":
                coros = [aslow_add_impl(**json.loads(c.function.arguments)) for c in message.tool_calls]
            else:
                coros = [
                    asyncio.to_thread(IMPLS[c.function.name], **json.loads(c.function.arguments))
                    for c in message.tool_calls
                ]
            results = await asyncio.gather(*coros)
            for call, result in zip(message.tool_calls, results, strict=True):
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})

    return run


# --------------------------------------------------------------------------- Podium


def podium_agent(scenario: str, url: str) -> Any:
    """A Podium ``Agent`` on the OpenAI Chat provider with the scenario's tool."""
    from podium import Agent, tool
    from podium.providers.openai import OpenAIChatModel

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return add_impl(a, b)

    @tool
    def slow_add(a: int, b: int) -> int:
        """Add two integers, slowly."""
        return slow_add_impl(a, b)

    @tool(name="slow_add")
    async def aslow_add(a: int, b: int) -> int:
        """Add two integers, slowly."""
        return await aslow_add_impl(a, b)

    tools = {"S2": [add], "S3": [slow_add], "S3a": [aslow_add]}.get(scenario, [])
    model = OpenAIChatModel(MODEL, base_url=url, api_key=API_KEY, timeout=60)
    return Agent(model, tools=tools)


def _podium(scenario: str, url: str) -> Iteration:
    from podium import TextDelta

    agent = podium_agent(scenario, url)
    prompt = PROMPTS[scenario]

    def run() -> tuple[str, int | None]:
        if scenario == "S4":
            parts = [e.text for e in agent.stream(prompt) if isinstance(e, TextDelta)]
            return "".join(parts), len(parts)
        return agent.run(prompt).output, None

    return run


def _podium_async(scenario: str, url: str) -> AsyncIteration:
    from podium import TextDelta

    agent = podium_agent(scenario, url)
    prompt = PROMPTS[scenario]

    async def run() -> tuple[str, int | None]:
        if scenario == "S4":
            parts = [e.text async for e in agent.astream(prompt) if isinstance(e, TextDelta)]
            return "".join(parts), len(parts)
        return (await agent.arun(prompt)).output, None

    return run
