"""The Ray engine on a real local Ray cluster (2 CPUs): slow, since a cluster takes ~20 s to start here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_server import ServerProcess

pytestmark = pytest.mark.slow

if importlib.util.find_spec("ray") is None:  # not imported here: importing ray changes logging for the whole session
    pytest.skip("the ray extra is not installed: pip install 'podium[ray]'", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    import ray

    root = Path(__file__).resolve().parents[2]  # the workers import this module (and the bench's fake server)
    paths = os.pathsep.join([str(root), str(root / "bench"), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": paths}},
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def make_agent(url: str) -> Any:  # sent to the workers by reference: tests.batch.test_ray must import there
    from podium import Agent
    from podium.providers.openai import OpenAIChatModel

    return Agent(OpenAIChatModel("gpt-4o-mini", base_url=url, api_key="sk-test"))


def test_1000_tasks_on_ray_with_429s_every_result_once(cluster: str, server: ServerProcess, tmp_path: Path) -> None:
    from podium.batch import run
    from podium.store import SQLiteStore

    url = server.url(r429=5, retry_after_ms=20)
    tasks = [{"id": f"t{i}", "prompt": f"question {i}"} for i in range(1000)]
    out, db = tmp_path / "out.jsonl", tmp_path / "b.db"
    factory = lambda: make_agent(url)  # noqa: E731 - a closure: sent with cloudpickle
    with run(factory, tasks, engine="ray", concurrency=32, out=out, store=db) as batch:
        results = list(batch)
        stats = batch.stats
    assert sorted(r.id for r in results) == sorted(t["id"] for t in tasks)
    assert all(r.status == "completed" for r in results), [r.error for r in results if r.error][:3]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1000 and len({r["id"] for r in rows}) == 1000
    counts = server.stats()
    assert counts["served"] == {f"question {i}": 1 for i in range(1000)}
    assert stats.limits["rate_limited"] == counts["rate_limited"] == sum(r.rate_limited for r in results) > 0
    with SQLiteStore(db) as store:  # the driver wrote what the workers shipped back
        row = rows[0]
        assert [m.role for m in store.messages(row["conversation_id"])] == ["user", "assistant"]
        assert store.traces.list(run_id=row["run_id"])[0].status == "completed"


def test_cli_joins_an_existing_cluster_with_an_agent_reference(
    cluster: str, server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "my_agents.py").write_text(
        "import os\nfrom podium import Agent\nfrom podium.providers.openai import OpenAIChatModel\n\n"
        "def make():\n"
        "    return Agent(OpenAIChatModel('gpt-4o-mini', base_url=os.environ['BATCH_URL'], api_key='sk-t'))\n"
    )
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"prompt": f"p{i}", "agent": "my_agents:make"}) + "\n" for i in range(50)))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {"BATCH_URL": server.url(), "PODIUM_DB": str(tmp_path / "p.db"), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "podium.cli",
            "batch",
            str(tasks),
            "--engine",
            "ray",
            "--address",
            cluster,
            "-m",
            "test:",
            "--env",
            "BATCH_URL",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "tasks.results.jsonl").read_text().splitlines()]
    assert len(rows) == 50 and {r["status"] for r in rows} == {"completed"}
    assert server.stats()["chat"] == 50
