"""CPU per step of a scripted run with OpenTelemetry export (podium.trace.otel.OTelSink) vs without.

The run is the bench's S2 shape on a function model (no network, no server): the model calls ``add(a, b)``
once, the tool runs, the model answers -- 2 steps (model requests), 1 tool call, 4 spans when exported. One
agent per variant serves all its runs (its tool schema is built once). The variants run side by side in one
process, in rounds with the order rotated; each round times ``R`` runs of each variant with
``time.process_time`` (CPU of the whole process: the SDK's span processor included):

* ``plain``: ``Agent(model, tools=[add]).run(...)``, no trace;
* ``trace``: the same run recording its trace (``trace=Trace()``), no sink;
* ``otel-noop``: ``trace_sinks=[OTelSink()]`` with no SDK configured (the API's no-op provider: what a user
  who installed the extra but set no exporter pays);
* ``otel-sdk``: ``OTelSink(provider)`` with the real SDK, a ``SimpleSpanProcessor`` and an in-memory exporter
  (spans built, ended and handed over; no network);
* ``otel-sdk-content``: the same with ``capture_content=True`` (messages serialised to JSON attributes).

With ``--http`` the model is Podium's OpenAI provider talking to a fake OpenAI server on localhost (in a
process of its own, so its CPU is not counted): the same run with real request building, HTTP and parsing,
closer to the bench's S2 scenario.

A ratio is the median over rounds of that round's ratio to ``plain`` (and ``otel-*`` to ``trace``: the
sink's own cost on top of tracing).

Run: ``.venv/bin/python bench/otel_overhead.py [--runs 200] [--rounds 7] [--http]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STEPS = 2  # model requests per run


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


SERVER = """
import sys
from podium.testing.fake_server import FakeProviderServer, Reply
pair = [Reply.answer("", calls=[("add", {"a": 2, "b": 3})]), Reply.answer("5")]
server = FakeProviderServer(*(pair * int(sys.argv[1]))).start()
print(server.url, flush=True)
sys.stdin.read()
"""


@contextmanager
def fake_openai(runs: int) -> Iterator[str]:
    """A fake OpenAI server in its own process, answering ``runs`` S2 runs (a tool call, then "5")."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(runs)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def variants(url: str | None = None) -> dict[str, Callable[[], Any]]:
    """Each variant: a function doing one whole run (against the fake server at ``url`` if given)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from podium import Agent, Message, ModelResponse, Text
    from podium.testing import FunctionModel
    from podium.testing.models import AgentInfo, call
    from podium.trace import OTelSink, Trace
    from podium.usage import Usage

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def answer(messages: list[Message], info: AgentInfo) -> Any:
        usage = Usage(20 * len(messages), 5, requests=1)
        if messages[-1].tool_results:
            return ModelResponse((Text(messages[-1].tool_results[0].text),), usage=usage)
        return ModelResponse((call("add", {"a": 2, "b": 3}),), usage=usage)

    def agent(*sinks: Any) -> Any:
        if url is None:
            model: Any = FunctionModel(answer)
        else:
            import podium
            from podium.providers.retry import RetryPolicy

            model = podium.model("openai:gpt-4o-mini", base_url=url + "/v1", api_key="k", retry=RetryPolicy(0))
        return Agent(model, tools=[add], name="bench", trace_sinks=list(sinks))

    def runner(agent: Any, *, trace: bool = False) -> Callable[[], Any]:
        def one() -> Any:
            result = agent.run("what is 2 + 3?", trace=Trace() if trace else None)
            assert result.output == "5"
            exporter.clear()
            return result

        return one

    return {
        "plain": runner(agent()),
        "trace": runner(agent(), trace=True),
        "otel-noop": runner(agent(OTelSink())),
        "otel-sdk": runner(agent(OTelSink(provider))),
        "otel-sdk-content": runner(agent(OTelSink(provider, capture_content=True))),
    }


def cpu_of(fn: Callable[[], Any], runs: int) -> float:
    """CPU seconds of ``runs`` calls of ``fn``."""
    gc.collect()
    start = time.process_time()
    for _ in range(runs):
        fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per variant per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--http", action="store_true", help="an OpenAI model against a fake server on localhost")
    args = parser.parse_args()
    if not args.http:
        measure(variants(), args.runs, args.rounds, "function model")
        return
    total = 5 * (20 + args.runs * args.rounds)
    with fake_openai(total) as url:
        measure(variants(url), args.runs, args.rounds, "openai provider, fake server on localhost")


def measure(fns: dict[str, Callable[[], Any]], runs: int, rounds: int, model: str) -> None:
    """Time the variants side by side and print CPU per step and ratios."""
    names = list(fns)
    for fn in fns.values():  # warm-up: imports, caches
        for _ in range(20):
            fn()
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        per_round.append({name: cpu_of(fns[name], runs) for name in order})

    print(f"S2 run, {model} ({STEPS} steps, 1 tool call); {runs} runs x {rounds} rounds; CPU per step:")
    print(f"{'variant':<18} {'us/step':>9} {'x plain':>8} {'x trace':>8}")
    for name in names:
        per_step = statistics.median(rd[name] for rd in per_round) / (runs * STEPS) * 1e6
        vs_plain = statistics.median(rd[name] / rd["plain"] for rd in per_round)
        vs_trace = statistics.median(rd[name] / rd["trace"] for rd in per_round)
        print(f"{name:<18} {per_step:>9.1f} {vs_plain:>8.3f} {vs_trace:>8.3f}")


if __name__ == "__main__":
    main()
