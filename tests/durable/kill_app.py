"""A durable run that kills its own process at a chosen point (for tests/durable).

    python kill_app.py DB LOG start KILL_AT
    python kill_app.py DB LOG resume RUN_ID

``KILL_AT``: SIGKILL right after trace record number KILL_AT is committed to the store (an effect boundary;
-1: never). ``KILL_APP_DIE_IN_TOOL=N``: the N-th call of ``work`` (1-based) kills the process mid-call.
Every tool logs ``start ID`` and ``end ID`` lines (flushed and synced) so the test counts executions.
Prints ``RUN <id>`` first and ``OUT <output>`` at the end.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from podium import Agent, tool
from podium.agent.durable import resume, start_stream
from podium.messages import Message
from podium.store.sqlite import SQLiteStore
from podium.testing import FunctionModel
from podium.testing.models import AgentInfo, call

LOG = Path(os.environ.get("KILL_APP_LOG", "log.txt"))
DIE_IN_TOOL = int(os.environ.get("KILL_APP_DIE_IN_TOOL", "0"))
_calls = {"work": 0}


def log(line: str) -> None:
    with LOG.open("a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


@tool
def work(n: int) -> str:
    """Do a unit of work that must not happen twice."""
    key = f"work-{n}"
    log(f"start {key}")
    _calls["work"] += 1
    if DIE_IN_TOOL and _calls["work"] == DIE_IN_TOOL:
        os.kill(os.getpid(), signal.SIGKILL)
    log(f"end {key}")
    return f"worked {n}"


@tool(idempotent=True)
def look(n: int) -> str:
    """Look something up (safe to repeat)."""
    key = f"look-{n}"
    log(f"start {key}")
    log(f"end {key}")
    return f"saw {n}"


def answer(messages: list[Message], info: AgentInfo) -> Any:
    turn = sum(1 for m in messages if m.role == "assistant")
    if turn < 3:
        return [
            call("work", {"n": turn * 10 + 1}),
            call("work", {"n": turn * 10 + 2}),
            call("look", {"n": turn * 10 + 3}),
        ]
    return "All work is done, and here is a longer closing sentence to stream in pieces."


def killer(at: int) -> Any:
    def sink(record: dict[str, Any], line: str) -> None:
        if record["seq"] == at:
            os.kill(os.getpid(), signal.SIGKILL)

    return sink


def make_agent(kill_at: int = -1) -> Agent:
    return Agent(FunctionModel(answer), tools=[work, look], trace_sinks=[killer(kill_at)] if kill_at >= 0 else [])


def main() -> None:
    db, log_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    global LOG
    LOG = Path(log_path)
    store = SQLiteStore(db)
    if mode == "start":
        kill_at = int(sys.argv[4])
        agent = make_agent(kill_at)
        stream = start_stream(agent, "do the work", store=store)
        print("RUN", stream.run_id, flush=True)
        for _ in stream:
            pass
        print("OUT", stream.result.output, flush=True)
    else:
        result = resume(make_agent(), sys.argv[4], store=store)
        print("OUT", result.output, flush=True)


if __name__ == "__main__":
    main()
