"""The local engine against the bench's fake OpenAI server (real HTTP, real SQLite)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fake_server import ServerProcess

from podium import Agent
from podium.batch import run
from podium.exceptions import ServerError
from podium.messages import Message, ModelResponse, Text
from podium.providers.base import Model
from podium.providers.openai import OpenAIChatModel
from podium.store import SQLiteStore
from podium.usage import Usage


def agent_on(url: str) -> Agent:
    return Agent(OpenAIChatModel("gpt-4o-mini", base_url=url, api_key="sk-test"))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_task_once_in_the_results_the_store_and_at_the_server(server: ServerProcess, tmp_path: Path) -> None:
    url = server.url()
    tasks = [{"id": f"t{i}", "prompt": f"question {i}", "metadata": {"n": i}} for i in range(300)]
    out, db = tmp_path / "out.jsonl", tmp_path / "b.db"
    with run(lambda: agent_on(url), tasks, concurrency=16, out=out, store=db) as batch:
        seen = [result.id for result in batch]
        stats = batch.stats
    assert sorted(seen) == sorted(t["id"] for t in tasks)
    rows = lines(out)
    assert sorted(r["id"] for r in rows) == sorted(seen)
    assert {r["status"] for r in rows} == {"completed"}
    assert all(r["output"] == "The answer is 3." and r["attempts"] == 1 and r["run_id"] for r in rows)
    assert rows[0]["metadata"] == {"n": int(rows[0]["id"][1:])}
    served = server.stats()["served"]
    assert served == {f"question {i}": 1 for i in range(300)}
    assert stats.completed == 300 and stats.failed == 0 and stats.cost > 0
    with SQLiteStore(db) as store:
        for row in rows[:20]:
            messages = store.messages(row["conversation_id"])
            assert [m.role for m in messages] == ["user", "assistant"]
            assert store.get_run(row["run_id"]).status == "completed"
            traces = store.traces.list(conversation_id=row["conversation_id"])
            assert len(traces) == 1 and traces[0].status == "completed"


def test_429s_back_off_instead_of_failing(server: ServerProcess, tmp_path: Path) -> None:
    url = server.url(r429=10, retry_after_ms=30)
    out = tmp_path / "out.jsonl"
    with run(lambda: agent_on(url), [f"q{i}" for i in range(150)], concurrency=8, out=out) as batch:
        results = list(batch)
        stats = batch.stats
    assert len(results) == 150 and all(r.status == "completed" and r.attempts == 1 for r in results)
    limited = server.stats()["rate_limited"]
    assert limited >= 10
    assert sum(r.rate_limited for r in results) == limited == stats.limits["rate_limited"]
    assert stats.limits["cuts"] >= 1 and stats.limits["paused"] > 0
    assert "x 429" in stats.summary()


def test_a_real_rate_limit_is_followed(server: ServerProcess, tmp_path: Path) -> None:
    url = server.url(rps=40, retry_after_ms=50)
    with run(lambda: agent_on(url), [f"q{i}" for i in range(200)], concurrency=16) as batch:
        results = list(batch)
        stats = batch.stats
    assert len(results) == 200 and all(r.status == "completed" for r in results)
    assert stats.limits["rate_limited"] == server.stats()["rate_limited"] > 0
    assert stats.limits["lowest_rate"] is not None and stats.limits["lowest_rate"] < 40


class Flaky(Model):
    """Fails the first request of every prompt with a 503, then answers."""

    provider, model_name = "test", "flaky"

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def request(self, messages: Sequence[Message], **options: Any) -> ModelResponse:
        prompt = messages[-1].text
        self.seen[prompt] = self.seen.get(prompt, 0) + 1
        if prompt.startswith("bad") or self.seen[prompt] == 1:
            raise ServerError("overloaded", status=503, provider="test")
        return ModelResponse(parts=[Text("ok")], model="flaky", provider="test", usage=Usage(requests=1), cost=0.0)


def test_failures_are_retried_per_task_with_a_limit(tmp_path: Path) -> None:
    model = Flaky()
    out = tmp_path / "out.jsonl"
    with run(
        lambda: Agent(model), ["a", "b", "bad"], retries=2, retry_delay=0.01, out=out, store=tmp_path / "b.db"
    ) as b:
        results = {r.id: r for r in b}
        stats = b.stats
    by_prompt = {r.id: r for r in results.values()}
    statuses = sorted((r.status, r.attempts) for r in by_prompt.values())
    assert statuses == [("completed", 2), ("completed", 2), ("failed", 3)]
    failed = next(r for r in results.values() if r.status == "failed")
    assert failed.error is not None and "ServerError" in failed.error
    assert model.seen["bad"] == 3 and stats.retried == 4 and stats.failed == 1
    # a restart skips finished tasks, failed ones included, unless asked to retry them
    with run(lambda: Agent(model), ["a", "b", "bad"], out=out) as again:
        assert list(again) == [] and again.stats.skipped == 3
    with run(lambda: Agent(model), ["a", "b", "bad"], out=out, retries=0, retry_failed=True) as again:
        assert [r.status for r in again] == ["failed"]
    assert model.seen["bad"] == 4


def test_store_is_authoritative_when_the_results_line_was_lost(server: ServerProcess, tmp_path: Path) -> None:
    url = server.url()
    out, db = tmp_path / "out.jsonl", tmp_path / "b.db"
    with run(lambda: agent_on(url), ["x", "y"], out=out, store=db) as batch:
        assert len(list(batch)) == 2
    kept = lines(out)
    out.write_text(json.dumps(kept[0]) + "\n" + json.dumps(kept[1])[:30])  # the last line cut by a kill
    with run(lambda: agent_on(url), ["x", "y"], out=out, store=db) as batch:
        assert list(batch) == [] and batch.stats.skipped == 2
    rows = lines(out)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in kept)
    assert server.stats()["chat"] == 2
