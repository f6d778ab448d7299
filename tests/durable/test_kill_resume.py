"""Durable runs killed with SIGKILL at effect boundaries and inside tools, then resumed to the end.

Each run is a real child process (parallel tool calls in three turns, a streamed final answer) that kills
itself right after trace record K is committed to the SQLite store, or from inside its N-th tool call. The
test then resumes it from the store (``agent.resume``, or ``podium resume`` for CLI runs) and checks, from
the tools' own log: no finished call ran again, and a non-idempotent call never ran twice; from the result
and the store: the history is valid, complete, and the same in both.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from podium.agent.replay import replay
from podium.messages import Message, dump_messages, load_messages
from podium.store.sqlite import SQLiteStore
from podium.trace import Trace

HERE = Path(__file__).parent
APP = HERE / "kill_app.py"
sys.path.insert(0, str(HERE))
import kill_app  # noqa: E402

sys.path.remove(str(HERE))

FINAL = "All work is done, and here is a longer closing sentence to stream in pieces."


def start(tmp: Path, kill_at: int, die_in_tool: int = 0) -> tuple[str, int]:
    env = {**os.environ, "KILL_APP_DIE_IN_TOOL": str(die_in_tool)}
    proc = subprocess.run(
        [sys.executable, str(APP), str(tmp / "c.db"), str(tmp / "log.txt"), "start", str(kill_at)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if proc.stdout.startswith("RUN "):
        return proc.stdout.split()[1], proc.returncode
    with SQLiteStore(tmp / "c.db") as store:  # killed before it printed its id: the store has it
        return store.traces.list(limit=1)[0].run_id, proc.returncode


def assert_valid(messages: list[Message]) -> None:
    """Every tool call answered by one result in the next message; a JSON round trip keeps it."""
    for index, message in enumerate(messages):
        if message.tool_calls:
            answer = messages[index + 1]
            assert answer.role == "tool"
            assert [r.call_id for r in answer.tool_results] == [c.id for c in message.tool_calls]
    assert load_messages(dump_messages(messages)) == messages


def check_log(log: Path) -> Counter[str]:
    """``work`` (not idempotent) never started twice, so never finished twice. Returns the ends.

    ``look`` is idempotent: a call that had finished when the process died, but whose end the trace had not
    committed yet (the tool returned; the process died within the same millisecond), may run once more --
    that is what idempotent allows. A call whose end is recorded is never run again: see
    ``test_a_finished_call_recorded_as_done_is_not_run_again``.
    """
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for line in log.read_text().splitlines() if log.exists() else []:
        what, key = line.split()
        if what == "start":
            starts[key] += 1
            if key.startswith("work-"):
                assert starts[key] == 1, f"{key} (not idempotent) started twice"
        else:
            ends[key] += 1
            if key.startswith("work-"):
                assert ends[key] == 1, f"{key} finished twice"
    return ends


def resume_and_check(tmp: Path, run_id: str) -> None:
    kill_app.LOG = tmp / "log.txt"
    with SQLiteStore(tmp / "c.db") as store:
        result = kill_app.make_agent().resume(run_id, store=store)
        assert result.output == FINAL
        assert_valid(result.messages)
        assert sum(1 for m in result.messages if m.role == "assistant") == 4
        stored = store.messages(store.get_run(run_id).conversation_id)
        assert [(m.role, m.text) for m in stored] == [(m.role, m.text) for m in result.messages]
        trace = Trace.from_jsonl("\n".join(store.traces.lines(store.traces.find(run_id))))
    ends = check_log(tmp / "log.txt")
    assert trace.end is not None and trace.end["status"] == "completed"
    assert [r["seq"] for r in trace.records] == list(range(len(trace.records)))
    again = replay(kill_app.make_agent(), trace)  # the whole trace, first part and resumed part, replays
    list(again)
    assert again.result.output == FINAL
    assert len(ends) <= 9


def full_length(tmp: Path) -> int:
    """Records in the trace of a run that is not killed."""
    tmp = tmp / "whole"
    tmp.mkdir()
    run_id, code = start(tmp, -1)
    assert code == 0
    with SQLiteStore(tmp / "c.db") as store:
        return len(store.traces.lines(store.traces.find(run_id)))


def test_a_run_killed_at_each_kind_of_boundary_resumes(tmp_path: Path) -> None:
    total = full_length(tmp_path)
    assert total > 20
    for kill_at in (0, 1, 2, 3, 5, 8, total // 2, total - 3, total - 2):
        folder = tmp_path / f"k{kill_at}"
        folder.mkdir()
        run_id, code = start(folder, kill_at)
        assert code == -9, f"the run was not killed at record {kill_at}"
        resume_and_check(folder, run_id)


def test_a_run_killed_inside_a_tool_call_resumes_without_running_it_twice(tmp_path: Path) -> None:
    for n in (1, 2, 4, 6):
        folder = tmp_path / f"t{n}"
        folder.mkdir()
        run_id, code = start(folder, -1, die_in_tool=n)
        assert code == -9
        resume_and_check(folder, run_id)
        with SQLiteStore(folder / "c.db") as store:
            trace = Trace.from_jsonl("\n".join(store.traces.lines(store.traces.find(run_id))))
        outcomes = [r["answer"]["outcome"] for r in trace.of_kind("tool") if "outcome" in r["answer"]]
        assert any(o["kind"] == "interrupted" for o in outcomes)  # the call in flight: an error result, not a rerun


@pytest.mark.slow
def test_sixty_kills_at_random_boundaries(tmp_path: Path) -> None:
    rng = random.Random(20261203)
    total = full_length(tmp_path)
    for i in range(60):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        in_tool = rng.random() < 0.2
        run_id, code = start(
            folder, -1 if in_tool else rng.randrange(0, total - 1), die_in_tool=rng.randint(1, 6) if in_tool else 0
        )
        assert code == -9
        resume_and_check(folder, run_id)


def test_a_finished_call_recorded_as_done_is_not_run_again(tmp_path: Path) -> None:
    """Killed right after an idempotent call's ``done`` record, before the loop took its result: not re-run."""
    probe = tmp_path / "probe"
    probe.mkdir()
    run_id, _ = start(probe, -1)
    with SQLiteStore(probe / "c.db") as store:
        trace = Trace.from_jsonl("\n".join(store.traces.lines(store.traces.find(run_id))))
    names = {c["id"]: c["name"] for r in trace.of_kind("tools") for c in r["calls"]}
    looks = [r["seq"] for r in trace.of_kind("done") if names.get(r["call_id"]) == "look"]
    assert looks
    folder = tmp_path / "kill"
    folder.mkdir()
    run_id, code = start(folder, looks[0])
    assert code == -9
    before = Counter(
        line.split()[1] for line in (folder / "log.txt").read_text().splitlines() if line.startswith("end")
    )
    resume_and_check(folder, run_id)
    starts = Counter(
        line.split()[1] for line in (folder / "log.txt").read_text().splitlines() if line.startswith("start")
    )
    for key in before:
        assert starts[key] == 1, f"{key} had finished and was recorded, yet ran again"
