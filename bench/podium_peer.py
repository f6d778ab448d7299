"""Podium's scenario script for the shared peers' harness (``../shared/bench/run.py``, via ``bench/peers.py``).

The harness runs it with its ``scenarios/`` folder on ``PYTHONPATH``, so ``_common`` (argument parsing,
timing loop, checks, the JSON line) is the harness's own, the same as every peer's script:
``--base-url URL --scenario S1..S4 --n N [--warmup W] [--mode sync|async]``.

* ``--mode sync``: ``agent.run(prompt)``; S3's four calls run on Podium's tool thread pool;
  S4 is ``agent.stream(prompt)`` with every ``TextDelta`` consumed.
* ``--mode async``: ``await agent.arun(prompt)`` and ``agent.astream(prompt)`` in one event loop;
  S3a's tool is an ``async def``.
"""

import _common as C

from podium import Agent, TextDelta, tool
from podium.providers.openai import OpenAIChatModel


def extra(ap):
    ap.add_argument("--mode", choices=["sync", "async"], default="sync")


args = C.parse_args("podium", extra=extra)
FW = "podium" if args.mode == "sync" else "podium_async"
if args.scenario == "S3a" and args.mode == "sync":
    C.fail(FW, args, "S3a (async tools) needs --mode async")
url = C.scenario_url(args.base_url, args.scenario, args.chunks)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return C.add_impl(a, b)


@tool
def slow_add(a: int, b: int) -> int:
    """Add two integers, slowly."""
    return C.slow_add_impl(a, b)


@tool(name="slow_add")
async def aslow_add(a: int, b: int) -> int:
    """Add two integers, slowly."""
    return await C.aslow_add_impl(a, b)


TOOLS = {"S2": [add], "S3": [slow_add], "S3a": [aslow_add]}
PROMPT = C.user_text(args.scenario)


def make_agent():
    model = OpenAIChatModel(args.model, base_url=url, api_key="sk-fake")
    return Agent(model, tools=TOOLS.get(args.scenario, []))


if args.mode == "sync":
    agent = make_agent()

    def it():
        if args.scenario == "S4":
            parts = [e.text for e in agent.stream(PROMPT) if isinstance(e, TextDelta)]
            return "".join(parts), len(parts)
        return agent.run(PROMPT).output, None

    C.run_sync(FW, args, it, C.pkg_version("podium"), note="Agent.run / Agent.stream")
else:
    agent = make_agent()

    async def ait():
        if args.scenario == "S4":
            parts = [e.text async for e in agent.astream(PROMPT) if isinstance(e, TextDelta)]
            return "".join(parts), len(parts)
        return (await agent.arun(PROMPT)).output, None

    C.run_async(FW, args, ait, C.pkg_version("podium"), note="Agent.arun / Agent.astream")
