"""The JSON API of a real ``podium serve``: turns and their events, approvals, stop, steering, conversations."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.web.conftest import Served


class Events:
    """The server-sent events of a conversation, collected on a thread."""

    def __init__(self, served: Served, cid: str) -> None:
        self.items: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._client = served.client()
        self._thread = threading.Thread(target=self._read, args=(cid,), daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    def _read(self, cid: str) -> None:
        try:
            with self._client.stream("GET", f"/api/conversations/{cid}/events", timeout=None) as r:
                for line in r.iter_lines():
                    if line == ": connected":
                        self._ready.set()
                    elif line.startswith("data: "):
                        self.items.append(json.loads(line[6:]))
        except Exception:  # closed at the end of the test
            pass

    def wait(self, kind: str, timeout: float = 15, count: int = 1) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.items if e["kind"] == kind]
            if len(found) >= count:
                return found[count - 1]
            assert time.monotonic() < deadline, f"no {kind} event: {[e['kind'] for e in self.items]}"
            time.sleep(0.02)

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.items]

    def close(self) -> None:
        self._client.close()


def test_a_turn_streams_its_events_and_is_stored(served: Served) -> None:
    model = served.script("stream", [{"thinking": "Let me think.", "text": "Here:\n\n```python\nprint(1)\n```"}])
    cid = served.conversation(model)
    events = Events(served, cid)
    with served.client() as c:
        r = c.post(f"/api/conversations/{cid}/messages", json={"text": "code please"})
        assert r.status_code == 202
        assert r.json() == {"status": "started"}
    events.wait("turn_ended")
    kinds = events.kinds()
    assert kinds[0] == "turn_started"
    assert "thinking_delta" in kinds
    assert kinds.index("thinking_delta") < kinds.index("text_delta") < kinds.index("model_response_finished")
    text = "".join(e["text"] for e in events.items if e["kind"] == "text_delta")
    assert text == "Here:\n\n```python\nprint(1)\n```"
    finished = events.wait("model_response_finished")
    assert finished["usage"]["output_tokens"] > 0
    assert events.wait("turn_ended")["status"] == "done"
    doc = served.wait_idle(cid)
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]
    assert doc["messages"][1]["parts"][0] == {"type": "thinking", "text": "Let me think."}
    assert doc["usage"]["output_tokens"] > 0
    assert doc["title"] == "code please"
    events.close()


def test_a_late_client_catches_up_with_the_turn_in_progress(served: Served) -> None:
    cid = served.conversation("test:slow")
    with served.client() as c:
        c.post(f"/api/conversations/{cid}/messages", json={"text": "one two three four five six"})
        first = Events(served, cid)
        first.wait("text_delta")
        late = Events(served, cid)  # connects mid-answer, as a reload does
        late.wait("turn_started")
        assert late.items[0]["kind"] == "turn_started"
        assert late.items[0]["base"] == 0
        c.post(f"/api/conversations/{cid}/stop")
    first.close()
    late.close()
    served.wait_idle(cid)


def test_approval_allow_deny_and_always(served: Served) -> None:
    write = {"name": "write_file", "args": {"path": ".envrc", "content": "export A=1"}}
    model = served.script(
        "approve",
        [
            {"calls": [write]},
            "written",
            {"calls": [{**write, "args": {"path": ".envrc", "content": "export B=2"}}]},
            "denied then",
            {"calls": [{**write, "args": {"path": ".envrc", "content": "export C=3"}}]},
            "always",
            {"calls": [{**write, "args": {"path": ".envrc", "content": "export D=4"}}]},
            "no question",
        ],
    )
    cid = served.conversation(model)
    envrc = served.workspace / ".envrc"
    with served.client() as c:
        url = f"/api/conversations/{cid}"
        c.post(f"{url}/messages", json={"text": "write it"})
        doc = served.wait_idle(cid)
        [pending] = doc["pending"]
        assert pending["call"]["name"] == "write_file"
        assert "run code later" in pending["reason"]
        assert not envrc.exists()
        # a new message is refused while calls wait
        assert c.post(f"{url}/messages", json={"text": "hey"}).status_code == 409
        r = c.post(f"{url}/approvals", json={"decisions": {pending["call"]["id"]: "allow"}})
        assert r.json()["status"] == "resumed"
        doc = served.wait_idle(cid)
        assert envrc.read_text() == "export A=1"
        assert doc["pending"] == []
        assert doc["messages"][-1]["parts"][0]["text"] == "written"

        c.post(f"{url}/messages", json={"text": "again"})
        [pending] = served.wait_idle(cid)["pending"]
        c.post(f"{url}/approvals", json={"decisions": {pending["call"]["id"]: "deny"}})
        doc = served.wait_idle(cid)
        assert envrc.read_text() == "export A=1"
        [result] = [p for m in doc["messages"] if m["role"] == "tool" for p in m["parts"]][-1:]
        assert result["is_error"] is True

        c.post(f"{url}/messages", json={"text": "once more"})
        [pending] = served.wait_idle(cid)["pending"]
        c.post(f"{url}/approvals", json={"decisions": {pending["call"]["id"]: "always"}})
        served.wait_idle(cid)
        assert envrc.read_text() == "export C=3"
        c.post(f"{url}/messages", json={"text": "last"})
        doc = served.wait_idle(cid)
        assert doc["pending"] == []  # the same rule no longer asks
        assert envrc.read_text() == "export D=4"
        assert doc["messages"][-1]["parts"][0]["text"] == "no question"


def test_stop_interrupts_and_keeps_the_conversation_valid(served: Served) -> None:
    cid = served.conversation("test:slow")
    events = Events(served, cid)
    with served.client() as c:
        c.post(f"/api/conversations/{cid}/messages", json={"text": " ".join(f"w{i}" for i in range(60))})
        events.wait("text_delta")
        assert c.post(f"/api/conversations/{cid}/stop").json() == {"stopped": True}
        assert events.wait("turn_ended", timeout=5)["status"] == "cancelled"
        doc = served.wait_idle(cid)
        assert doc["messages"][0]["role"] == "user"
        assert c.post(f"/api/conversations/{cid}/stop").json() == {"stopped": False}
        # the conversation goes on
        c.post(f"/api/conversations/{cid}/messages", json={"text": "next"})
    events.wait("turn_ended", count=2)
    events.close()


def test_a_message_sent_while_the_agent_works_reaches_the_model(served: Served) -> None:
    cid = served.conversation("test:slow")
    events = Events(served, cid)
    with served.client() as c:
        c.post(f"/api/conversations/{cid}/messages", json={"text": "alpha beta gamma delta"})
        events.wait("text_delta")
        r = c.post(f"/api/conversations/{cid}/messages", json={"text": "steer"})
        assert r.json() == {"status": "sent"}
    events.wait("message_delivered")
    events.wait("turn_ended", timeout=30)
    doc = served.wait_idle(cid)
    texts = [m["parts"][0]["text"] for m in doc["messages"] if m["parts"]]
    assert "steer" in texts
    assert any("steer" in t for t in texts if t.startswith("You said"))
    events.close()


def test_conversations_rename_fork_undo_redo_search_delete(served: Served) -> None:
    cid = served.conversation()
    with served.client() as c:
        url = f"/api/conversations/{cid}"
        for text in ("first question", "second zebra"):
            c.post(f"{url}/messages", json={"text": text})
            served.wait_idle(cid)
        assert c.patch(url, json={"title": "My chat"}).json()["title"] == "My chat"
        assert c.patch(url, json={"title": "  "}).status_code == 400
        assert c.patch(url, json={"model": "test:slow"}).json()["model"] == "test:slow"

        found = c.get("/api/conversations", params={"q": "zebra"}).json()["conversations"]
        assert [x["id"] for x in found] == [cid]
        assert c.get("/api/conversations", params={"q": "no such words"}).json()["conversations"] == []
        assert c.get("/api/conversations", params={"q": "100%_"}).json()["conversations"] == []

        messages = c.get(url).json()["messages"]
        first_answer = messages[1]["id"]
        fork = c.post(f"{url}/fork", json={"up_to": first_answer}).json()
        forked = c.get(f"/api/conversations/{fork['id']}").json()
        assert [m["parts"][0]["text"] for m in forked["messages"]] == ["first question", "first question"]
        assert forked["parent_id"] == cid

        assert c.post(f"{url}/undo").json() == {"hidden": 2}
        doc = c.get(url).json()
        assert len(doc["messages"]) == 2
        assert doc["can_redo"] is True
        assert c.get("/api/conversations", params={"q": "zebra"}).json()["conversations"] == []
        assert c.post(f"{url}/redo").json() == {"shown": 2}
        assert len(c.get(url).json()["messages"]) == 4

        assert c.delete(url).json() == {"deleted": cid}
        assert c.get(url).status_code == 404
        assert c.get(f"/api/conversations/{fork['id']}").status_code == 200


def test_models_and_info(served: Served) -> None:
    with served.client() as c:
        models = c.get("/api/models").json()
        info = c.get("/api/info").json()
    assert models["default"] == "test:echo"
    assert "test:echo" in [m["id"] for m in models["models"]]
    assert info["tools"] is True
    assert info["limits"]["upload_bytes"] == 10 * 1024 * 1024


def test_a_failing_model_ends_the_turn_with_an_error_and_keeps_the_conversation(served: Served) -> None:
    cid = served.conversation(served.script("one-reply", ["the only reply"]))
    events = Events(served, cid)
    with served.client() as c:
        c.post(f"/api/conversations/{cid}/messages", json={"text": "first"})
        events.wait("turn_ended")
        c.post(f"/api/conversations/{cid}/messages", json={"text": "second"})  # the script has no more replies
        ended = events.wait("turn_ended", count=2)
        assert ended["status"] == "error"
        assert "scripted" in ended["error"].lower()
        doc = served.wait_idle(cid)
    texts = [m["parts"][0]["text"] for m in doc["messages"]]
    assert texts[:2] == ["first", "the only reply"]
    assert "second" in texts  # the prompt is kept; the conversation stays valid to continue
    events.close()
