"""One client variant in its own process, measuring batches of iterations on command.

``python bench/worker.py VARIANT SERVER_ROOT``: imports the variant's libraries, prints ``{"ready": ...}``,
then reads one JSON command per line on stdin, ``{"scenario": "S2", "n": 40, "warmup": 3}``, and answers
each with one JSON line: wall time of every timed iteration, process CPU (all threads) over the timed
iterations, errors, tool runs, RSS. The driver (:mod:`run`) keeps one worker per variant alive for the
whole run and sends them commands in turn, so the variants are measured interleaved while only one runs.
An async variant keeps one event loop for the whole run, the way a server would.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import variants


def rss_mb() -> float:
    """Current resident set size."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    variant, root = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.simplefilter("ignore", ResourceWarning)
    loop = asyncio.new_event_loop() if variant in variants.ASYNC else None
    fns: dict[str, Any] = {}
    out = sys.stdout
    out.write(json.dumps({"ready": variant}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        scenario, n, warmup = command["scenario"], command["n"], command["warmup"]
        result: dict[str, Any] = {"variant": variant, "scenario": scenario, "n": n}
        try:
            fn = fns.get(scenario)
            if fn is None:
                fn = fns[scenario] = variants.make(variant, scenario, root)
            errors: list[str] = []

            def once(fn: Any = fn, scenario: str = scenario, errors: list[str] = errors) -> None:
                text, deltas = fn() if loop is None else loop.run_until_complete(fn())
                problem = variants.check(scenario, text, deltas)
                if problem:
                    errors.append(problem)

            runs0 = variants.TOOL_RUNS.n
            for _ in range(warmup):
                once()
            gc.collect()
            samples = []
            cpu0 = time.process_time()
            for _ in range(n):
                t0 = time.perf_counter()
                once()
                samples.append(time.perf_counter() - t0)
            cpu = time.process_time() - cpu0
            tool_runs = variants.TOOL_RUNS.n - runs0
            want_runs = (n + warmup) * variants.TOOL_CALLS_PER_ITER[scenario]
            if tool_runs != want_runs:
                errors.append(f"tools ran {tool_runs} times, want {want_runs}")
            result.update(
                samples_ms=[round(s * 1000, 4) for s in samples],
                cpu_ms_per_iter=cpu * 1000 / n,
                errors=errors[:3],
                ok=not errors,
                rss_mb=round(rss_mb(), 1),
            )
        except Exception as exc:  # report, keep serving
            result.update(ok=False, errors=[f"{type(exc).__name__}: {exc}"])
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
