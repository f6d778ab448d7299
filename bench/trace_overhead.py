"""What recording a run's trace costs: client CPU per S2 run with tracing off vs on, and bytes per step.

    python bench/trace_overhead.py [--runs 300] [--rounds 5]

Scenario S2 of the bench (``bench/variants.py``): the real OpenAI-wire model talks HTTP to the bench's fake
server (its own process, so its CPU is not counted); the model calls ``add(a, b)`` once, the tool runs, the
model answers: 2 model requests, 1 tool call per run. Variants, interleaved round by round so the shared
machine's noise hits each alike:

* ``off``: ``agent.run(prompt)``;
* ``memory``: ``agent.run(prompt, trace=Trace())`` -- every effect and answer recorded and scrubbed in memory;
* ``store``: the same with the trace written record by record into a SQLite store (``synchronous=NORMAL``,
  one transaction per record), as ``podium run`` / ``podium chat`` do with ``FULL``;
* ``store FULL``: the CLI's default durability (each record's commit survives a power cut).

CPU is ``time.process_time()`` of this process per run (median over rounds); bytes per step are the trace's
JSONL size divided by the steps (model requests + tool calls). Goal (issue 14): <= 5 % CPU for ``memory``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from fake_server import ServerProcess  # noqa: E402

from podium import Agent, tool  # noqa: E402
from podium.providers.openai import OpenAIChatModel  # noqa: E402
from podium.store.sqlite import SQLiteStore  # noqa: E402
from podium.trace import Trace  # noqa: E402

PROMPT = "What is 1 + 2? Use the add tool."


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300, help="runs per variant per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = ServerProcess(work)
        try:
            rows = measure(server, work, args.runs, args.rounds)
        finally:
            server.stop()
    base = rows["off"]["cpu"]
    print(f"S2 ({args.runs} runs x {args.rounds} rounds per variant, interleaved; client CPU per run, median)")
    print(f"{'variant':<12} {'CPU ms/run':>10} {'vs off':>8} {'bytes/step':>11} {'records/run':>12}")
    for name, row in rows.items():
        ratio = row["cpu"] / base
        print(f"{name:<12} {row['cpu'] * 1000:>10.3f} {ratio:>7.3f}x {row['bytes']:>11.0f} {row['records']:>12.1f}")


def measure(server: ServerProcess, work: Path, runs: int, rounds: int) -> dict[str, dict[str, float]]:
    model = OpenAIChatModel("gpt-4o-mini", base_url=server.url(), api_key="sk-fake")
    agent = Agent(model, tools=[add])
    stores = {
        "store": SQLiteStore(work / "normal.db", synchronous="NORMAL"),
        "store FULL": SQLiteStore(work / "full.db"),
    }
    cpu: dict[str, list[float]] = {name: [] for name in ("off", "memory", *stores)}
    sizes: dict[str, list[tuple[int, int, int]]] = {name: [] for name in cpu}
    for name in cpu:  # warm-up: imports, connections, caches
        for _ in range(5):
            one(agent, name, stores)
    for _ in range(rounds):
        for name in cpu:
            start = time.process_time()
            for _ in range(runs):
                trace = one(agent, name, stores)
            cpu[name].append((time.process_time() - start) / runs)
            sizes[name].append(measure_trace(trace))  # serialised once per round, outside the timing
    for store in stores.values():
        store.close()
    out: dict[str, dict[str, float]] = {}
    for name in cpu:
        total, steps, records = sizes[name][-1]
        out[name] = {
            "cpu": statistics.median(cpu[name]),
            "bytes": total / steps if steps else 0.0,
            "records": float(records),
        }
    return out


def one(agent: Agent, variant: str, stores: dict[str, SQLiteStore]) -> Trace | None:
    """One S2 run; returns its trace (``None`` with tracing off)."""
    if variant == "off":
        result = agent.run(PROMPT)
        assert result.output
        return None
    trace = Trace(sinks=[stores[variant].traces.sink()] if variant in stores else [])
    result = agent.run(PROMPT, trace=trace)
    assert result.output
    assert trace.end is not None
    return trace


def measure_trace(trace: Trace | None) -> tuple[int, int, int]:
    """(JSONL bytes, steps, records) of a run's trace; zeros for none."""
    if trace is None:
        return (0, 0, 0)
    steps = len(trace.of_kind("request")) + len(trace.of_kind("tool"))
    return (sum(len(line.encode()) + 1 for line in trace.lines), steps, len(trace))


if __name__ == "__main__":
    main()
