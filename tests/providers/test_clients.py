"""A model object works from several ``asyncio.run`` calls: one async SDK client per event loop."""

from __future__ import annotations

import asyncio

import pytest
from _replay import CASSETTES, synthetic

from podium.messages import Message
from podium.providers.anthropic import AnthropicModel
from podium.providers.base import Model
from podium.providers.clients import sdk_options
from podium.providers.openai_responses import OpenAIResponsesModel
from podium.testing.cassette import ReplayServer

CASES = [
    (
        AnthropicModel,
        "claude-haiku-4-5",
        "/v1/messages",
        "",
        "anthropic/test_anthropic_sampling_settings_reach_the_wire.yaml",
    ),
    (
        OpenAIResponsesModel,
        "gpt-4o",
        "/v1/responses",
        "/v1",
        "openai_responses/test_openai_responses_model_simple_response.yaml",
    ),
]


@pytest.mark.parametrize(("cls", "name", "path", "prefix", "cassette"), CASES)
def test_async_model_reused_across_event_loops(
    cls: type[Model], name: str, path: str, prefix: str, cassette: str
) -> None:
    body = ReplayServer(CASSETTES / cassette).interactions[0].body
    json_type = {"content-type": "application/json"}
    with ReplayServer(synthetic(path, (200, json_type, body), (200, json_type, body))) as server:
        model = cls(name, base_url=server.url + prefix, api_key="x")  # type: ignore[call-arg]
        first = asyncio.run(model.arequest([Message.user("hi")]))
        second = asyncio.run(model.arequest([Message.user("hi")]))  # a new loop: failed with a closed loop before
        assert len(server.received) == 2
    assert first == second
    assert first.text


def test_sdk_options() -> None:
    assert sdk_options({"timeout": 5}, base_url=None, api_key="k", max_retries=0) == {
        "timeout": 5,
        "api_key": "k",
        "max_retries": 0,
    }
