"""Static checks of the fault injection's public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from typing_extensions import assert_type

from podium import Agent
from podium.providers.base import Model
from podium.providers.retry import RetryAttempt, RetryWatch, watch_retries
from podium.store.sqlite import SQLiteStore
from podium.testing import FaultPlan, FaultRecord, ModelFault, ScriptedModel, StoreFault, ToolFault
from podium.tools.toolset import Toolset


def check(agent: Agent[int], store: SQLiteStore) -> None:
    plan = FaultPlan(
        seed=1,
        model=[ModelFault.rate_limit(retry_after=30, at=1), ModelFault.cut(0.5, rate=0.1)],
        tools={"search": ToolFault.error(at=[1, 2]), "*": [ToolFault.slow(rate=0.1)]},
        store=[StoreFault.io_error(on="append", at=range(2, 4))],
    )
    assert_type(plan.agent(agent), Agent[int])
    assert_type(plan.store(store), SQLiteStore)
    assert_type(plan.model(ScriptedModel(["hi"])), Model)
    assert_type(plan.tools([]), Toolset)
    assert_type(plan.log, list[FaultRecord])
    assert_type(plan.log[0].delay, float | None)
    with watch_retries(sleep=lambda seconds: None) as watch:
        assert_type(watch, RetryWatch)
        assert_type(watch.attempts, list[RetryAttempt])
