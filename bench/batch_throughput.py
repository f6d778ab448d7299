"""Batch throughput: N tasks through ``podium.batch.run`` on the local engine and on a local Ray cluster.

Every task is one chat turn against the bench's fake OpenAI server (its own process, answering at once, or
after ``--delay-ms`` like a real model), so what is measured is the batch machinery: the agent, the
limiter, the results file and the SQLite store (conversation, run, messages, trace per task), and for Ray
the actors, the object store and shipping results back to the driver. Each row checks that every result
is present exactly once (results file, server's count per prompt).

    .venv/bin/python bench/batch_throughput.py                  # 1,000 tasks, local vs Ray, with and without 429s
    .venv/bin/python bench/batch_throughput.py --tasks 300 --engines local
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fake_server import ServerProcess

from podium import Agent
from podium.providers.openai import OpenAIChatModel


def make_agent(url: str) -> Agent:
    return Agent(OpenAIChatModel("gpt-4o-mini", base_url=url, api_key="sk-bench"))


def one(engine: str, server: ServerProcess, url: str, n: int, concurrency: int, store: bool) -> dict[str, Any]:
    from functools import partial

    from podium.batch import run

    work = Path(tempfile.mkdtemp(prefix="podium-batch-"))
    out = work / "out.jsonl"
    tasks = [{"id": f"t{i}", "prompt": f"question {i}"} for i in range(n)]
    urllib_reset(server)
    started = time.monotonic()
    with run(
        partial(make_agent, url),
        tasks,
        engine=engine,  # type: ignore[arg-type]
        concurrency=concurrency,
        out=out,
        store=work / "b.db" if store else None,
    ) as batch:
        first: float | None = None
        for _ in batch:
            if first is None:
                first = time.monotonic() - started
        stats = batch.stats
    wall = time.monotonic() - started
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    served = server.stats()
    once = len(rows) == n and len({r["id"] for r in rows}) == n and set(served["served"].values()) == {1}
    return {
        "engine": engine,
        "tasks": n,
        "concurrency": concurrency,
        "store": store,
        "wall_s": round(wall, 2),
        "run_s": round(stats.seconds, 2),
        "first_result_s": round(first or 0.0, 2),
        "tasks_per_s": round(n / wall, 1),
        "completed": stats.completed,
        "failed": stats.failed,
        "all_once": once,
        "server_429": served["rate_limited"],
        "limits": stats.limits,
    }


def urllib_reset(server: ServerProcess) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(server.root + "/reset", method="POST"), timeout=10).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--delay-ms", type=int, default=0, help="the fake model's answer time")
    parser.add_argument("--r429", type=int, default=5, help="percent of requests answered 429 in the 429 rows")
    args = parser.parse_args()
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="podium-batch-server-")))
    rows = []
    try:
        for engine in args.engines.split(","):
            if engine == "ray":
                import ray

                root = Path(__file__).resolve().parent
                paths = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
                started = time.monotonic()
                ray.init(
                    num_cpus=os.cpu_count(),
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"PYTHONPATH": paths}},
                )
                print(f"ray.init: {time.monotonic() - started:.1f} s (not counted below)", flush=True)
            for settings, store in (({}, True), ({}, False), ({"r429": args.r429, "retry_after_ms": 20}, True)):
                url = server.url(delay_ms=args.delay_ms, **settings)
                row = one(engine, server, url, args.tasks, args.concurrency, store)
                row["scenario"] = "429 share" if settings else "plain"
                rows.append(row)
                print(json.dumps(row), flush=True)
            if engine == "ray":
                import ray

                ray.shutdown()
    finally:
        server.stop()
    print()
    print("| engine | scenario | store | tasks/s | wall s | first result s | all once | 429s | lowest rate |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['scenario']} | {'yes' if r['store'] else 'no'} | {r['tasks_per_s']} | "
            f"{r['wall_s']} | {r['first_result_s']} | {r['all_once']} | {r['server_429']} | "
            f"{r['limits'].get('lowest_rate')} |"
        )


if __name__ == "__main__":
    main()
