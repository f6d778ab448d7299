"""An agent that records into a store and gets killed mid-run by ``test_store_kill.py``.

``python kill_child.py DB CONVERSATION MARKER WHERE``: answers "hello" fully, then starts a second run
that blocks (``WHERE`` = ``tool``: inside a tool call, next to a call that finished; ``model``: while
the model is answering), writing MARKER once it blocks, until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from podium import Agent, tool
from podium.agent.recording import RunRecorder
from podium.messages import Message, ModelResponse, Text
from podium.store import SQLiteStore
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.models import AgentInfo, call
from podium.usage import Usage

MARKER = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("marker")

FIRST_CALLS = ModelResponse(
    (Text("Let me check."), call("quick", {"n": 1}, id="call_quick"), call("sleepy", {"n": 2}, id="call_sleepy")),
    usage=Usage(120, 30, requests=1),
    cost=0.004,
)


@tool
def quick(n: int) -> str:
    """Return at once."""
    return f"quick {n}"


@tool
def sleepy(n: int) -> str:
    """Block until killed."""
    MARKER.write_text("in tool")
    time.sleep(600)
    return "never"


def blocking_model(messages: list[Message], info: AgentInfo) -> str:
    MARKER.write_text("in model")
    time.sleep(600)
    return "never"


def main() -> None:
    db, conversation, where = sys.argv[1], sys.argv[2], sys.argv[4]
    store = SQLiteStore(db)
    first = Agent(ScriptedModel(["Hello! How can I help?"]), tools=[quick, sleepy])
    with RunRecorder(store, conversation, model="test:scripted") as recorder:
        for event in first.stream("hello", message_history=store.messages(conversation)):
            recorder.record(event)
    if where == "tool":
        second = Agent(ScriptedModel([FIRST_CALLS, "never"]), tools=[quick, sleepy])
    else:
        second = Agent(FunctionModel(blocking_model), tools=[quick, sleepy])
    with RunRecorder(store, conversation, model="test:scripted") as recorder:
        for event in second.stream("check things", message_history=store.messages(conversation)):
            recorder.record(event)


if __name__ == "__main__":
    main()
