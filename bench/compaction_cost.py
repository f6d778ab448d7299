"""CPU of the compaction check per model request, on a 200-turn history that needs no compaction.

Before every request the loop builds what it sends (the compacted view of the history and the messages
since), counts its tokens (estimates cached per message) and compares them with the window. This measures,
in one process and side by side:

* ``check``: that work alone for a request at the end of a 200-turn history (400 messages, ~2 KB tool
  results), the estimate cache warm as in a run (every message but the newest was counted before);
* ``check, cold``: the same with an empty cache (a history loaded from the store, first request);
* ``loop step``: CPU of one whole step of a real run over that history (FunctionModel answering at once,
  one no-op tool call per step), so the check can be read as a share of a step;
* ``compaction``: one real compaction of that history (trim + keep-last, no model call).

Run: ``python bench/compaction_cost.py [ROUNDS]``. Goal (issue 12): ``check`` under 1 ms per request.
"""

from __future__ import annotations

import statistics
import sys
import time

from podium import Agent
from podium.agent.compaction import Compaction, KeepLast, TrimToolResults
from podium.agent.window import ContextWindow
from podium.messages import Message, ModelResponse, Text, ToolCall, ToolResult
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings, ToolDefinition
from podium.testing.models import AgentInfo, FunctionModel

TURNS = 200
PROFILE = ModelProfile(context_window=2_000_000, max_output_tokens=8_000)
TOOLS = [ToolDefinition("noop", "Does nothing.", {"type": "object", "properties": {"n": {"type": "integer"}}})]


def history() -> list[Message]:
    out = [Message.system("You are a careful engineer."), Message.user("Fix the build. " * 20)]
    for n in range(TURNS):
        out.append(Message("assistant", (Text(f"Step {n}: reading."), ToolCall(f"c{n}", "noop", {"n": n}))))
        out.append(Message("tool", (ToolResult(f"c{n}", "noop", (Text(f"line {n} ok\n" * 180),)),)))
    return out


def per_call(fn: object, repeat: int) -> float:
    """CPU seconds per call of ``fn`` (median of 5 batches)."""
    samples = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            fn()  # type: ignore[operator]
        samples.append((time.process_time() - start) / repeat)
    return statistics.median(samples)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    msgs = history()
    window = ContextWindow(msgs, PROFILE, Compaction(), None)
    settings = ModelSettings()

    def check() -> None:
        view = window.view(msgs)
        counted = window.count(view, TOOLS)
        usable = window.usable(settings)
        assert usable is not None
        assert counted.tokens < 0.8 * usable

    def check_cold() -> None:
        window.estimates.clear()
        check()

    warm = per_call(check, rounds)
    cold = per_call(check_cold, max(1, rounds // 10))

    steps = 20

    def answer(messages: list[Message], info: AgentInfo) -> ModelResponse:
        if info.step < steps - 1:
            return ModelResponse((ToolCall(f"s{info.step}", "noop", {"n": info.step}),))
        return ModelResponse((Text("done"),))

    def noop(n: int) -> str:
        """Does nothing."""
        return "ok"

    def run() -> None:
        Agent(FunctionModel(answer, profile=PROFILE), tools=[noop], max_steps=steps + 1).run("go", message_history=msgs)

    step = per_call(run, 3) / steps
    strategies = (TrimToolResults(), KeepLast(20))
    compact_agent = Agent(FunctionModel(answer, profile=PROFILE), compaction=Compaction(strategies=strategies))
    compaction = per_call(lambda: compact_agent.compact(msgs), 3)

    print(f"history: {len(msgs)} messages, {TURNS} turns; median CPU per call")
    print("| what | CPU | share of a loop step |")
    print("|---|---|---|")
    print(f"| check (warm cache, as in a run) | {warm * 1e6:.0f} us | {warm / step:.1%} |")
    print(f"| check, cold cache (first request after a load) | {cold * 1e6:.0f} us | {cold / step:.1%} |")
    print(f"| one loop step over this history | {step * 1e6:.0f} us | 100% |")
    print(f"| one compaction (trim + keep last 20, no model call) | {compaction * 1e3:.1f} ms | -- |")
    print(f"goal: check under 1 ms per request: {'met' if warm < 1e-3 else 'NOT met'} ({warm * 1e3:.3f} ms)")


if __name__ == "__main__":
    main()
