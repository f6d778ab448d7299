"""Model faults end in a retry, a clean typed error or a valid conversation.

Remote models are the real provider classes against the fake provider server, with the faults injected at
their HTTP transport (their own error mapping, retries and stream guards run); other models (ScriptedModel)
get the same typed errors from the wrapper.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fault_support import ANSWER, CALL, add, aoutcome, assert_valid, outcome

from podium import Agent
from podium.exceptions import (
    IncompleteStreamError,
    InvalidResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    UserError,
)
from podium.messages import Message
from podium.providers.retry import RetryPolicy
from podium.testing import FaultPlan, FaultRecord, ModelFault, ScriptedModel, call
from podium.testing.fake_server import FakeProviderServer

PROVIDERS = {
    "anthropic": "anthropic:claude-sonnet-4-5",
    "openai": "openai:gpt-4o",
    "google": "google:gemini-2.5-flash",
    "bedrock": "bedrock:us.amazon.nova-micro-v1:0",
    "ollama": "ollama:llama3.1",
}
RETRIES = RetryPolicy(max_retries=2)
EARLY = {
    "rate_limit": (ModelFault.rate_limit(retry_after=30, at=2), RateLimitError),
    "server_error": (ModelFault.server_error(503, at=2), ServerError),
    "overloaded": (ModelFault.server_error(529, at=2), ServerError),
    "timeout": (ModelFault.timeout(at=2), ProviderTimeoutError),
    "reset": (ModelFault.reset(at=2), ProviderConnectionError),
}
"""Faults that strike before the answer: the request never reaches the server."""


def _with(fault: ModelFault, at: Any) -> ModelFault:
    return ModelFault(fault.kind, at, fault.rate, fault.status, fault.retry_after, fault.fraction)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", EARLY)
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_fault_before_the_answer_is_retried_by_the_models_own_retry_loop(name: str, kind: str, stream: bool) -> None:
    fault, error = EARLY[kind]
    with FakeProviderServer(CALL, ANSWER) as server:
        plan = FaultPlan(seed=1, model=[fault])
        agent = plan.agent(Agent(server.model(PROVIDERS[name], retry=RETRIES), tools=[add]))
        started = time.monotonic()
        status, messages = outcome(agent, stream=stream)
        assert status == "ok"
        assert messages[-1].text == "It is 5."
        assert len(server.requests) == 2  # the faulted attempt never reached the server
    assert time.monotonic() - started < 10  # a 30 s retry-after was recorded, not waited
    target = PROVIDERS[name]
    injected, retry = plan.log
    assert injected == FaultRecord("model", 2, fault.kind, target, fault.describe())
    assert (retry.boundary, retry.position, retry.kind, retry.target) == ("model", 2, "retry", target)
    assert retry.detail.startswith(f"after {error.__name__}")
    if kind == "rate_limit":
        assert retry.delay == 30.0


@pytest.mark.parametrize("kind", EARLY)
@pytest.mark.parametrize("name", ["anthropic", "openai", "bedrock"])
def test_a_fault_that_outlasts_the_retries_is_a_typed_error_with_a_valid_history(name: str, kind: str) -> None:
    fault, error = EARLY[kind]
    with FakeProviderServer(CALL, ANSWER) as server:
        plan = FaultPlan(seed=1, model=[_with(fault, range(2, 20))])
        agent = plan.agent(Agent(server.model(PROVIDERS[name], retry=RETRIES), tools=[add]))
        status, exc = outcome(agent)
    assert status == "error"
    assert type(exc) is error
    assert [m.role for m in exc.messages] == ["user", "assistant", "tool"]
    assert [(r.position, r.kind) for r in plan.log] == [
        (2, fault.kind),
        (2, "retry"),
        (3, fault.kind),
        (3, "retry"),
        (4, fault.kind),
    ]
    with FakeProviderServer(ANSWER) as healthy:  # the history continues on a healthy model
        result = Agent(healthy.model(PROVIDERS[name]), tools=[add]).run(None, message_history=exc.messages)
        assert result.output == "It is 5."


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.6, 0.95])
@pytest.mark.parametrize("kind", ["cut", "reset"])
@pytest.mark.parametrize("name", PROVIDERS)
def test_an_answer_cut_or_reset_midway_is_retried_or_a_typed_error_with_partial(
    name: str, kind: str, fraction: float
) -> None:
    fault = ModelFault.cut(fraction, at=2) if kind == "cut" else ModelFault.reset(fraction, at=2)
    expected = IncompleteStreamError if kind == "cut" else ProviderConnectionError
    with FakeProviderServer(CALL, ANSWER, ANSWER) as server:
        plan = FaultPlan(seed=1, model=[fault])
        agent = plan.agent(Agent(server.model(PROVIDERS[name], retry=RETRIES), tools=[add]))
        status, value = outcome(agent)
    kinds = [r.kind for r in plan.log]
    if status == "ok":
        assert value[-1].text == "It is 5."
        # retried (nothing had reached the caller), or the cut only lost what follows a complete answer
        assert kinds in ([kind, "retry"], [kind])
    else:
        assert isinstance(value, expected)
        assert value.partial is not None and value.partial.finish_reason == "error"
        assert kinds == [kind]  # deltas had reached the caller: not retried
    if fraction == 0.0:  # nothing arrived: always retried
        assert status == "ok" and kinds == [kind, "retry"]


@pytest.mark.parametrize("name", ["anthropic", "openai", "google"])
def test_a_whole_answer_cut_is_an_invalid_response_that_is_retried(name: str) -> None:
    with FakeProviderServer(CALL, ANSWER, ANSWER) as server:
        plan = FaultPlan(seed=1, model=[ModelFault.cut(0.5, at=2)])
        agent = plan.agent(Agent(server.model(PROVIDERS[name], retry=RETRIES), tools=[add]))
        status, messages = outcome(agent, stream=False)
    assert status == "ok" and messages[-1].text == "It is 5."
    assert [r.kind for r in plan.log] == ["cut", "retry"]
    assert plan.log[1].detail == "after InvalidResponseError"


@pytest.mark.parametrize("name", ["anthropic", "openai", "bedrock"])
def test_the_async_driver_meets_the_same_faults(name: str) -> None:
    async def main() -> tuple[str, Any, list[FaultRecord]]:
        with FakeProviderServer(CALL, ANSWER, ANSWER) as server:
            plan = FaultPlan(seed=1, model=[ModelFault.rate_limit(retry_after=45, at=1), ModelFault.cut(0.0, at=3)])
            agent = plan.agent(Agent(server.model(PROVIDERS[name], retry=RETRIES), tools=[add]))
            status, value = await aoutcome(agent)
            return status, value, plan.log

    status, messages, log = asyncio.run(main())
    assert status == "ok" and messages[-1].text == "It is 5."
    assert [(r.position, r.kind, r.delay) for r in log] == [
        (1, "rate_limit", None),
        (1, "retry", 45.0),
        (3, "cut", None),
        (3, "retry", log[3].delay),
    ]


# --------------------------------------------------------------------------- models that are not remote

GENERIC = {
    "rate_limit": (ModelFault.rate_limit(retry_after=30, at=2), RateLimitError),
    "server_error": (ModelFault.server_error(at=2), ServerError),
    "timeout": (ModelFault.timeout(at=2), ProviderTimeoutError),
    "reset": (ModelFault.reset(at=2), ProviderConnectionError),
    "reset_midway": (ModelFault.reset(0.5, at=2), ProviderConnectionError),
    "cut": (ModelFault.cut(0.5, at=2), IncompleteStreamError),
}


def scripted() -> ScriptedModel:
    return ScriptedModel([[call("add", {"a": 2, "b": 3})], "It is 5.", "It is 5."])


@pytest.mark.parametrize("kind", GENERIC)
def test_a_model_without_retries_gets_the_typed_error_with_a_valid_history(kind: str) -> None:
    fault, error = GENERIC[kind]
    plan = FaultPlan(seed=1, model=[fault])
    status, exc = outcome(plan.agent(Agent(scripted(), tools=[add])))
    assert status == "error" and type(exc) is error
    assert [m.role for m in exc.messages] == ["user", "assistant", "tool"]
    if kind == "rate_limit":
        assert exc.retry_after == 30 and exc.status == 429
    if fault.fraction:  # midway: what had streamed is kept
        assert exc.partial is not None and exc.partial.text
    assert [r.kind for r in plan.log] == [fault.kind]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", GENERIC)
def test_a_model_given_a_retry_policy_retries_through_the_real_retry_functions(kind: str, stream: bool) -> None:
    fault, error = GENERIC[kind]
    plan = FaultPlan(seed=1, model=[fault])
    model = plan.model(scripted(), retry=RetryPolicy(max_retries=1))
    status, value = outcome(Agent(model, tools=[add]), stream=stream)
    if status == "ok":
        assert value[-1].text == "It is 5."
        assert [r.kind for r in plan.log] == [fault.kind, "retry"]
    else:  # a stream cut after deltas reached the caller is not retried
        assert stream and fault.fraction and type(value) is error and value.partial is not None


def test_an_async_run_of_a_scripted_model_meets_the_faults() -> None:
    plan = FaultPlan(seed=1, model=[ModelFault.server_error(at=1), ModelFault.timeout(at=3)])
    model = plan.model(scripted(), retry=RetryPolicy(max_retries=1, jitter=0.0))
    status, messages = asyncio.run(aoutcome(Agent(model, tools=[add])))
    assert status == "ok" and messages[-1].text == "It is 5."
    assert [(r.position, r.kind, r.delay) for r in plan.log] == [
        (1, "server_error", None),
        (1, "retry", 0.5),
        (3, "timeout", None),
        (3, "retry", 0.5),
    ]


def test_the_wrapper_keeps_what_the_model_is() -> None:
    inner = scripted()
    model = FaultPlan(model=[ModelFault.timeout(rate=0.5)]).model(inner)
    assert (model.provider, model.model_name, model.profile) == (inner.provider, inner.model_name, inner.profile)
    assert model.requests is inner.requests  # type: ignore[attr-defined]  # the scripted model's own attributes
    with pytest.raises(UserError, match="already under a fault plan"):
        FaultPlan(model=[ModelFault.timeout(at=1)]).model(model)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ModelFault.timeout(), "never happen"),
        (lambda: ModelFault.timeout(at=0), "count from 1"),
        (lambda: ModelFault.timeout(rate=1.5), "between 0 and 1"),
        (lambda: ModelFault.cut(1.0, at=1), r"\[0, 1\)"),
        (lambda: ModelFault.server_error(404, at=1), "5xx"),
        (lambda: FaultPlan(model=["timeout"]), "takes ModelFault"),  # type: ignore[list-item]
    ],
)
def test_a_plan_that_makes_no_sense_is_refused_clearly(make: Any, match: str) -> None:
    with pytest.raises(UserError, match=match):
        make()


def test_a_model_error_message_names_the_injection() -> None:
    plan = FaultPlan(model=[ModelFault.reset(at=1)])
    with pytest.raises(ProviderError, match="injected"):
        plan.model(scripted()).request([Message.user("hi")])
    with FakeProviderServer(ANSWER) as server, pytest.raises(ProviderConnectionError, match="injected"):
        remote = server.model(PROVIDERS["openai"], retry=RetryPolicy(0))
        FaultPlan(model=[ModelFault.reset(at=1)]).model(remote).request([Message.user("hi")])
    assert InvalidResponseError  # the cut of a whole answer (above) is one
    assert_valid([Message.user("hi")])
