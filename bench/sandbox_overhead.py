"""Sandbox overhead per command: `true` run many times in each back-end, median wall time.

    python bench/sandbox_overhead.py                       # this checkout
    python bench/sandbox_overhead.py --compare OLD/src     # interleaved with another source tree (e.g. a
                                                           # `git worktree` of an older commit), same run

Each measurement runs in a fresh child process (``PYTHONPATH`` set to the source tree), alternating between the
trees round by round, so a busy machine slows both alike; the table gives medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, tempfile, time
from podium.tools.sandbox import SandboxPolicy, create_sandbox
ws = tempfile.mkdtemp()
out = {}
for backend in ("bubblewrap", "process"):
    box = create_sandbox(ws, SandboxPolicy(backend=backend))
    box.run(["true"])  # warm up
    times = []
    for _ in range(int(sys.argv[1])):
        t = time.perf_counter()
        r = box.run(["true"])
        times.append(time.perf_counter() - t)
        assert r.exit_code == 0, r
    out[backend] = times
print(json.dumps(out))
"""


def measure(src: Path, n: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(n)], env=env, cwd=cwd, capture_output=True, text=True, check=True
        )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, help="another src/ directory to measure side by side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=10, help="commands per back-end per round")
    args = parser.parse_args()
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.compare:
        trees["other"] = args.compare.resolve()
    samples: dict[str, dict[str, list[float]]] = {name: {"bubblewrap": [], "process": []} for name in trees}
    for _ in range(args.rounds):
        for name, src in trees.items():
            for backend, times in measure(src, args.n).items():
                samples[name][backend] += times
    print("| tree | back-end | median ms | p90 ms |")
    print("|---|---|---|---|")
    for name, by_backend in samples.items():
        for backend, times in by_backend.items():
            times.sort()
            p90 = times[int(len(times) * 0.9)]
            print(f"| {name} | {backend} | {statistics.median(times) * 1000:.1f} | {p90 * 1000:.1f} |")
    if "other" in samples:
        for backend in ("bubblewrap", "process"):
            ratio = statistics.median(samples["this"][backend]) / statistics.median(samples["other"][backend])
            print(f"{backend}: this / other = {ratio:.2f}")


if __name__ == "__main__":
    main()
