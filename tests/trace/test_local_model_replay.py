"""The embedded model (SmolLM2-135M on llama.cpp), recorded once and replayed with no model loaded (slow).

Two ways: a run's trace replayed by the replay driver, and a recording made with ``ModelRecording`` (the
record mode of users' tests). Both replay without loading the weights or the tokenizer (exact token counts
are in the recording), to the same events and output. The time ratio is printed (``-s`` shows it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from podium import Agent
from podium.agent.replay import replay
from podium.settings import ModelSettings
from podium.testing.recording import ModelRecording
from podium.trace import Trace
from podium.trace.codec import encode

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)


def agent_for(model: object) -> Agent:
    return Agent(model, instructions="You are brief.", settings=ModelSettings(max_tokens=24))  # type: ignore[arg-type]


def test_a_local_run_replays_with_no_model_loaded() -> None:
    local = pytest.importorskip("podium.providers.local")
    started = time.perf_counter()
    model = local.LocalModel(n_ctx=1024, n_threads=1)
    trace = Trace()
    stream = agent_for(model).stream("Name one colour.", trace=trace)
    events = [encode(e) for e in stream]
    recorded_in = time.perf_counter() - started
    assert stream.result.output.strip()
    assert trace.header["exact_counts"] and any(r.get("counts") for r in trace.records)

    fresh = local.LocalModel(n_ctx=1024, n_threads=1)
    started = time.perf_counter()
    again_stream = replay(agent_for(fresh), Trace.from_jsonl(trace.to_jsonl()))
    again = [encode(e) for e in again_stream]
    replayed_in = time.perf_counter() - started
    assert fresh._llama is None  # neither the weights nor the tokenizer were loaded
    assert again == events and again_stream.result.output == stream.result.output
    ratio = recorded_in / replayed_in
    print(f"\nembedded model: recorded in {recorded_in:.2f} s, replayed in {replayed_in * 1000:.1f} ms: {ratio:.0f}x")
    assert ratio > 10


def test_a_model_recording_of_the_local_model_replays_without_it(tmp_path: Path) -> None:
    local = pytest.importorskip("podium.providers.local")
    path = tmp_path / "local.jsonl"
    recording = ModelRecording(path, "once")
    first = agent_for(recording.model(local.LocalModel(n_ctx=1024, n_threads=1))).run("Name one animal.")
    recording.save()
    fresh = local.LocalModel(n_ctx=1024, n_threads=1)
    again = agent_for(ModelRecording(path, "none").model(fresh)).run("Name one animal.")
    assert fresh._llama is None
    assert again.output == first.output and again.usage == first.usage
