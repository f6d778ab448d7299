"""The same seed and the same run give the same faults, the same log and the same outcome, sync and async.

A real remote model (the fake provider server), parallel tool calls that finish in random order, and a real
SQLite store, all with random (``rate=``) faults.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest
from fault_support import assert_valid

from podium import Agent, tool
from podium.agent.recording import RunRecorder
from podium.exceptions import AgentRunError, ProviderError
from podium.messages import dump_messages
from podium.providers.retry import RetryPolicy
from podium.store.base import StoreError
from podium.store.sqlite import SQLiteStore
from podium.testing import FaultPlan, ModelFault, StoreFault, ToolFault
from podium.testing.fake_server import FakeProviderServer, Reply


@tool(timeout=0.2)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    time.sleep(random.random() * 0.005)
    return a + b


@tool(timeout=0.2)
async def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    await asyncio.sleep(random.random() * 0.005)
    return a * b


SCRIPT = [
    Reply.answer("", calls=[("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4}), ("mul", {"a": 2, "b": 5})]),
    Reply.answer("", calls=[("mul", {"a": 3, "b": 3}), ("add", {"a": 5, "b": 5})]),
    Reply.answer("", calls=[("add", {"a": 7, "b": 1})]),
]


def plan_for(seed: int) -> FaultPlan:
    return FaultPlan(
        seed=seed,
        model=[
            ModelFault.rate_limit(retry_after=20, rate=0.25),
            ModelFault.server_error(502, rate=0.15),
            ModelFault.cut(0.0, rate=0.15),
            ModelFault.timeout(rate=0.1),
        ],
        tools={"add": ToolFault.error(rate=0.35), "mul": ToolFault.retry(rate=0.4), "*": ToolFault.slow(rate=0.1)},
        store=[StoreFault.io_error(on="append", rate=0.06)],
    )


def summary(messages: list[Any]) -> str:
    assert_valid(messages)
    return dump_messages(messages)


def run_once(seed: int, path: Path, *, use_async: bool) -> tuple[list[Any], tuple[str, ...]]:
    """One run under ``plan_for(seed)``: the plan's log and what the run came to."""
    plan = plan_for(seed)
    with FakeProviderServer(*SCRIPT, default=Reply.answer("Done.")) as server, SQLiteStore(path) as store:
        model = server.model("anthropic:claude-sonnet-4-5", retry=RetryPolicy(max_retries=2))
        agent = plan.agent(Agent(model, tools=[add, mul], retries=3))
        faulty = plan.store(store)
        conv = store.create()

        async def arun() -> None:
            with RunRecorder(faulty, conv.id) as recorder:
                async for event in agent.astream("Compute."):
                    recorder.record(event)

        try:
            if use_async:
                asyncio.run(arun())
            else:
                with RunRecorder(faulty, conv.id) as recorder:
                    for event in agent.stream("Compute."):
                        recorder.record(event)
            outcome: tuple[str, ...] = ("ok",)
        except (ProviderError, AgentRunError) as exc:
            outcome = ("error", type(exc).__name__, summary(exc.messages or []))
        except StoreError as exc:
            outcome = ("store error", type(exc).__name__)
        stored = store.messages(conv.id)
        runs = [(r.status, (r.error or "").split(":")[0]) for r in store.runs(conv.id)]
        return plan.log, (*outcome, summary(stored), str(runs), str(len(server.requests)))


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_same_seed_gives_the_same_faults_log_and_outcome(tmp_path: Path, use_async: bool) -> None:
    seen: dict[int, tuple[list[Any], tuple[str, ...]]] = {}
    for seed in range(6):
        first = run_once(seed, tmp_path / f"a{seed}.db", use_async=use_async)
        again = run_once(seed, tmp_path / f"b{seed}.db", use_async=use_async)
        assert first[0] == again[0], f"seed {seed}: the fault logs differ"
        assert first[1] == again[1], f"seed {seed}: the outcomes differ"
        assert [r.order for r in first[0]] == sorted(r.order for r in first[0])
        seen[seed] = first
    logs = [tuple(log) for log, _ in seen.values()]
    assert len(set(logs)) > 3  # seeds give different faults
    boundaries = {r.boundary for log, _ in seen.values() for r in log}
    assert boundaries == {"model", "tool", "store"}
    kinds = {r.kind for log, _ in seen.values() for r in log}
    assert {"rate_limit", "retry", "error"} <= kinds
    outcomes = {result[0] for _, result in seen.values()}
    assert "ok" in outcomes and len(outcomes) > 1  # some seeds survive, some end in a clean error
