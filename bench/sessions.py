"""Many concurrent async sessions through one process: each a 2-call tool loop (scenario S2).

``python bench/sessions.py VARIANT SERVER_ROOT [--sessions 1000] [--delay-ms 50]`` starts all sessions at
once on one event loop (the fake server holds each answer ``delay_ms``, so they are all in flight together)
and prints one JSON line: wall time, throughput, per-session latency percentiles, process CPU per session,
and memory: RSS after a warm-up session, peak RSS, and (peak - before) / sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import variants
from worker import rss_mb


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def measure(variant: str, root: str, sessions: int, delay_ms: int) -> dict[str, Any]:
    fn = variants.make(variant, "S2", root, delay_ms=delay_ms)
    for _ in range(3):  # warm-up: imports, connection, lazy set-up
        await fn()
    gc.collect()
    before = rss_mb()
    latencies: list[float] = []
    errors: list[str] = []

    async def one() -> None:
        t0 = time.perf_counter()
        try:
            text, deltas = await fn()
            problem = variants.check("S2", text, deltas)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        latencies.append(time.perf_counter() - t0)
        if problem:
            errors.append(problem)

    runs0 = variants.TOOL_RUNS.n
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(sessions)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if variants.TOOL_RUNS.n - runs0 != sessions:
        errors.append(f"tools ran {variants.TOOL_RUNS.n - runs0} times, want {sessions}")
    ms = [x * 1000 for x in latencies]
    return {
        "variant": variant,
        "sessions": sessions,
        "delay_ms": delay_ms,
        "wall_s": round(wall, 3),
        "sessions_per_s": round(sessions / wall, 1),
        "cpu_ms_per_session": round(cpu * 1000 / sessions, 3),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_kb_per_session": round((peak - before) * 1024 / sessions, 1),
        "ok": not errors,
        "errors": sorted(set(errors))[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=sorted(variants.ASYNC))
    parser.add_argument("root", help="the fake server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--delay-ms", type=int, default=50)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ResourceWarning)
    result = asyncio.run(measure(args.variant, args.root, args.sessions, args.delay_ms))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
