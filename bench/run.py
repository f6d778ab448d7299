"""Podium's overhead benchmark: Podium (sync and async) against the raw openai SDK and a plain httpx loop.

One command (about 4-5 minutes on 2 quiet cores)::

    .venv/bin/python bench/run.py                 # everything; tables on stdout and in the output folder
    .venv/bin/python bench/run.py --quick         # fewer rounds and sessions, for a check (~2 minutes)

What it does, all in one process tree:

1. starts the bench's own fake OpenAI server (:mod:`fake_server`) in a process of its own;
2. starts one worker process per variant (:mod:`worker`: ``raw_httpx``, ``raw_httpx_async``,
   ``openai_sdk``, ``openai_sdk_async``, ``podium``, ``podium_async``), then for each round and scenario
   (S1, S2, S3, S3a, S4; see :mod:`variants`) asks each worker in turn, starting point rotated per round,
   to run a batch; only one worker runs at a time;
3. 1,000 concurrent async sessions, each a 2-call tool loop, through one process (:mod:`sessions`), for
   ``raw_httpx2_async`` (the floor: the HTTP stack the SDK uses), the async SDK and Podium, interleaved;
4. cold start: ``python -c "import podium"`` and the other imports, and a whole process answering one chat
   turn (:mod:`first_turn`: import + first request, and its peak RSS), repeated and interleaved;
5. writes ``results.json`` and ``summary.md`` to ``--out`` (default ``/tmp/podium-bench/<stamp>``) and
   prints the summary.

Numbers are ratios between variants measured side by side in the same rounds; CPU is each worker's own
process CPU (all threads) per iteration, the fake server's excluded. A ratio is the median over rounds of
that round's ratio (each round measures both sides within seconds of each other, so load from other jobs
mostly cancels). Bytecode writing is turned on for every child (``PYTHONDONTWRITEBYTECODE`` dropped) and
each import runs once untimed, so import times are those of an installed package with ``.pyc`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from fake_server import ServerProcess  # noqa: E402
from variants import ASYNC, MODEL_CALLS_PER_ITER  # noqa: E402

SCENARIOS = ("S1", "S2", "S3", "S3a", "S4")
TITLES = {
    "S1": "S1 one chat turn (1 call)",
    "S2": "S2 tool loop: add(a, b) once, then the answer (2 calls)",
    "S3": "S3 4 tool calls at once, each a blocking 100 ms sleep (2 calls)",
    "S3a": "S3a 4 tool calls at once, each an async 100 ms sleep (2 calls)",
    "S4": "S4 stream of 200 text chunks, every delta consumed (1 call)",
}
SYNC_VARIANTS = ("raw_httpx", "openai_sdk", "podium")
ASYNC_VARIANTS = ("raw_httpx_async", "openai_sdk_async", "podium_async")
FLOOR = {"podium": "raw_httpx", "openai_sdk": "raw_httpx", "raw_httpx": "raw_httpx"} | {
    v: "raw_httpx_async" for v in ASYNC_VARIANTS
}
SDK = {v: "openai_sdk" for v in SYNC_VARIANTS} | {v: "openai_sdk_async" for v in ASYNC_VARIANTS}
N = {"S1": 100, "S2": 60, "S3": 8, "S3a": 8, "S4": 30}
WARMUP = {"S1": 5, "S2": 5, "S3": 1, "S3a": 1, "S4": 3}
IMPORTS = {
    "python -c pass": "pass",
    "import podium": "import podium",
    "from podium import Agent, tool": "from podium import Agent, tool",
    "Podium + OpenAI provider": "from podium import Agent, tool; from podium.providers.openai import OpenAIChatModel",
    "from openai import OpenAI": "from openai import OpenAI",
    "import httpx": "import httpx",
    "import httpx2": "import httpx2",
}
SESSION_VARIANTS = ("raw_httpx2_async", "openai_sdk_async", "podium_async")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(BENCH)
    return env


def loadavg() -> float:
    return os.getloadavg()[0]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Worker:
    """A :mod:`worker` process for one variant, answering one command at a time."""

    def __init__(self, variant: str, root: str, python: str) -> None:
        self.variant = variant
        self.proc = subprocess.Popen(
            [python, str(BENCH / "worker.py"), variant, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )

    def ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.variant} did not start")

    def run(self, scenario: str, n: int, warmup: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"scenario": scenario, "n": n, "warmup": warmup}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"ok": False, "errors": ["the worker died"], "variant": self.variant, "scenario": scenario}
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def scenario_rounds(
    server: ServerProcess, python: str, rounds: int, scale: float, scenarios: tuple[str, ...] = SCENARIOS
) -> list[dict[str, Any]]:
    workers = {v: Worker(v, server.root, python) for v in (*SYNC_VARIANTS, *ASYNC_VARIANTS)}
    records = []
    try:
        for w in workers.values():
            w.ready()
        for r in range(rounds):
            log(f"--- round {r + 1}/{rounds} (load average {loadavg():.2f})")
            for scenario in scenarios:
                names = [v for v in workers if scenario != "S3a" or v in ASYNC]
                k = r % len(names)
                for variant in names[k:] + names[:k]:
                    n = max(1, round(N[scenario] * scale))
                    before, load = server.stats()["chat"], loadavg()
                    rec = workers[variant].run(scenario, n, WARMUP[scenario])
                    calls = server.stats()["chat"] - before
                    rec.update(round=r + 1, load=load, calls_per_iter=calls / (n + WARMUP[scenario]))
                    if rec.get("ok") and abs(rec["calls_per_iter"] - MODEL_CALLS_PER_ITER[scenario]) > 1e-9:
                        rec["ok"] = False
                        rec["errors"] = [f"{rec['calls_per_iter']} model calls per iteration"]
                    records.append(rec)
                    samples = rec.get("samples_ms") or [float("nan")]
                    log(
                        f"  {scenario:4} {variant:17} cpu {rec.get('cpu_ms_per_iter', float('nan')):8.2f} ms  "
                        f"wall {statistics.median(samples):8.2f} ms" + ("" if rec.get("ok") else f"  {rec['errors']}")
                    )
    finally:
        for w in workers.values():
            w.stop()
    return records


def sessions_test(server: ServerProcess, python: str, repeats: int, sessions: int, delay_ms: int) -> list[Any]:
    out = []
    for i in range(repeats):
        k = i % len(SESSION_VARIANTS)
        for variant in SESSION_VARIANTS[k:] + SESSION_VARIANTS[:k]:
            cmd = [python, str(BENCH / "sessions.py"), variant, server.root]
            cmd += ["--sessions", str(sessions), "--delay-ms", str(delay_ms)]
            load = loadavg()
            p = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=600)
            try:
                rec = json.loads(p.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                rec = {"variant": variant, "ok": False, "errors": [p.stderr[-400:]]}
            rec["load"] = load
            out.append(rec)
            log(
                f"  sessions {variant:17} {rec.get('sessions_per_s')} sessions/s  p50 {rec.get('p50_ms')} ms  "
                f"p99 {rec.get('p99_ms')} ms  {rec.get('rss_kb_per_session')} KB/session"
                + ("" if rec.get("ok") else f"  {rec.get('errors')}")
            )
    return out


# Appended to each timed ``-c`` statement: print the process's own peak RSS (a few microseconds).
_PEAK = "\nprint(next(x for x in open('/proc/self/status') if x.startswith('VmHWM')).strip())"


def _wait_child(cmd: list[str]) -> tuple[float, float, float, int]:
    """Run ``cmd``; its wall ms, CPU ms, peak RSS MB (``VmHWM`` it prints) and exit code."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    code = os.waitstatus_to_exitcode(status)
    assert proc.stdout is not None
    assert proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = code
    peak = [line.split()[1] for line in out.splitlines() if line.startswith("VmHWM")]
    if code or not peak:
        log(f"  {' '.join(cmd[-3:])} exited {code}: {err[-300:]}")
        code = code or 1
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, int(peak[0]) / 1024 if peak else 0.0, code


def cold_starts(server: ServerProcess, python: str, repeats: int) -> dict[str, Any]:
    items = [(name, [python, "-c", stmt + _PEAK]) for name, stmt in IMPORTS.items()]
    items += [(f"first turn: {v}", [python, str(BENCH / "first_turn.py"), v, server.root]) for v in SYNC_VARIANTS]
    for _, cmd in items:  # once untimed: .pyc written, files in the page cache
        _wait_child(cmd)
    runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name, _ in items}
    for i in range(repeats):
        k = i % len(items)
        for name, cmd in items[k:] + items[:k]:
            runs[name].append(_wait_child(cmd))
    out = {}
    for name, xs in runs.items():
        out[name] = {
            "wall_ms": round(statistics.median(x[0] for x in xs), 1),
            "wall_ms_min": round(min(x[0] for x in xs), 1),
            "cpu_ms": round(statistics.median(x[1] for x in xs), 1),
            "peak_rss_mb": round(statistics.median(x[2] for x in xs), 1),
            "ok": all(x[3] == 0 for x in xs),
            "runs": len(xs),
        }
    return out


# --------------------------------------------------------------------------- summary


def _by(records: list[dict[str, Any]], variant: str, scenario: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("variant") == variant and r.get("scenario") == scenario and r.get("ok")]


def _paired_ratio(records: list[dict[str, Any]], a: str, b: str, scenario: str, key: str) -> float | None:
    """Median over rounds of a's value / b's value in the same round."""
    ratios = []
    for ra in _by(records, a, scenario):
        for rb in _by(records, b, scenario):
            if rb["round"] == ra["round"]:
                ratios.append(_value(ra, key) / _value(rb, key))
    return statistics.median(ratios) if ratios else None


def _value(rec: dict[str, Any], key: str) -> float:
    if key == "wall":
        return float(statistics.median(rec["samples_ms"]))
    return float(rec[key])


def _fmt(x: float | None, nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def summarize(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    records = data["scenarios"]
    lines = [f"# Podium overhead benchmark, {data['stamp']}", ""]
    meta = data["meta"]
    lines.append(
        f"Machine: {meta['machine']}. Load average (1 min) during the scenario rounds: min {meta['load_min']:.2f}, "
        f"median {meta['load_med']:.2f}, max {meta['load_max']:.2f} (above 2 = other jobs competed for the 2 cores). "
        f"Rounds: {meta['rounds']}; Python {meta['python']}; openai {meta['versions'].get('openai')}, "
        f"httpx {meta['versions'].get('httpx')}."
    )
    lines.append("")
    lines.append(
        "CPU = the client process's own CPU per iteration (all threads; the fake server's is not counted), "
        "median over rounds. Wall = median of all timed iterations. Ratios are medians over rounds of the "
        "same-round ratio; sync variants are compared with `raw_httpx` and `openai_sdk`, async ones with "
        "`raw_httpx_async` and `openai_sdk_async`."
    )
    goals: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if not any(r.get("scenario") == scenario for r in records):
            continue
        lines += ["", f"## {TITLES[scenario]}", ""]
        lines.append(
            "| variant | CPU ms/iter | CPU x raw loop | CPU x SDK | wall ms (median) | p10-p90 ms | wall x raw loop "
            "| calls/iter | RSS MB | ok |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for variant in (*SYNC_VARIANTS, *ASYNC_VARIANTS):
            recs = [r for r in records if r.get("variant") == variant and r.get("scenario") == scenario]
            if not recs:
                continue
            good = [r for r in recs if r.get("ok")]
            samples = sorted(s for r in good for s in r["samples_ms"])
            cpu = statistics.median(r["cpu_ms_per_iter"] for r in good) if good else None
            wall = statistics.median(samples) if samples else None
            p10 = samples[int(0.1 * (len(samples) - 1))] if samples else None
            p90 = samples[int(0.9 * (len(samples) - 1))] if samples else None
            floor, sdk = FLOOR[variant], SDK[variant]
            cpu_floor = _paired_ratio(records, variant, floor, scenario, "cpu_ms_per_iter")
            cpu_sdk = _paired_ratio(records, variant, sdk, scenario, "cpu_ms_per_iter")
            wall_floor = _paired_ratio(records, variant, floor, scenario, "wall")
            calls = statistics.median(r["calls_per_iter"] for r in recs)
            rss = max((r.get("rss_mb", 0) for r in recs), default=None)
            ok = "yes" if len(good) == len(recs) else f"{len(good)}/{len(recs)}: {recs[0].get('errors')}"
            lines.append(
                f"| {variant} | {_fmt(cpu)} | {_fmt(cpu_floor)} | {_fmt(cpu_sdk)} | {_fmt(wall)} | "
                f"{_fmt(p10, 1)}-{_fmt(p90, 1)} | {_fmt(wall_floor)} | {calls:.2f} | {_fmt(rss, 0)} | {ok} |"
            )
            if variant.startswith("podium"):
                goals[f"{scenario} {variant}"] = {
                    "cpu_x_floor": cpu_floor,
                    "cpu_x_sdk": cpu_sdk,
                    "wall_x_floor": wall_floor,
                }

    sessions = data.get("sessions") or []
    if sessions:
        lines += ["", f"## {sessions[0].get('sessions')} concurrent async sessions, each a 2-call tool loop", ""]
        lines.append(
            f"All sessions start at once on one event loop; the fake server holds each answer "
            f"{sessions[0].get('delay_ms')} ms, so every session is in flight together. Medians over "
            f"{len(sessions) // len(SESSION_VARIANTS)} runs per variant (interleaved). Floor: a plain `httpx2` loop "
            "(the HTTP stack of the openai SDK; `httpx`'s pool slows down with 1,000 connections). Added = "
            "this variant's latency minus the floor's in the same repeat."
        )
        lines.append("")
        lines.append(
            "| variant | sessions/s (wall) | sessions per CPU-second | CPU ms/session | p50 latency ms | "
            "p99 latency ms | p50 added ms | p99 added ms | RSS before MB | peak RSS MB | RSS KB/session | ok |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for variant in SESSION_VARIANTS:
            recs = [r for r in sessions if r.get("variant") == variant and r.get("ok")]
            if not recs:
                failed = [r.get("errors") for r in sessions if r.get("variant") == variant][:1]
                lines.append(f"| {variant} | failed: {failed} |")
                continue
            floors = [r for r in sessions if r.get("variant") == SESSION_VARIANTS[0] and r.get("ok")]

            def med(key: str, rs: list[dict[str, Any]] = recs) -> float:
                return float(statistics.median(r[key] for r in rs))

            added50 = med("p50_ms") - med("p50_ms", floors) if floors else None
            added99 = med("p99_ms") - med("p99_ms", floors) if floors else None
            cpu = med("cpu_ms_per_session")
            lines.append(
                f"| {variant} | {med('sessions_per_s'):.0f} | {1000 / cpu:.0f} | {cpu:.2f} | {med('p50_ms'):.0f} | "
                f"{med('p99_ms'):.0f} | {_fmt(added50, 0)} | {_fmt(added99, 0)} | {med('rss_before_mb'):.1f} | "
                f"{med('rss_peak_mb'):.1f} | {med('rss_kb_per_session'):.1f} | yes |"
            )
            if variant == "podium_async":
                goals["sessions"] = {
                    "p50_added_ms": added50,
                    "p99_added_ms": added99,
                    "kb_per_session": med("rss_kb_per_session"),
                }

    lines += goals_table(data, goals)
    cold = data.get("cold") or {}
    if cold:
        lines += ["", "## Cold start (a new process each time, `.pyc` files written)", ""]
        lines.append(
            "Wall time of the whole process (interpreter start-up included; `python -c pass` is start-up alone), "
            "its CPU, and its peak RSS (`VmHWM`, read by the process itself: a parent's `ru_maxrss` would count "
            "the parent's own RSS at the fork), medians of the repeats, interleaved. `first turn` = import, "
            "build the client, one chat turn against the fake server, exit."
        )
        lines.append("")
        lines.append("| what | wall ms | min ms | CPU ms | peak RSS MB | ok |")
        lines.append("|---|---|---|---|---|---|")
        for name, row in cold.items():
            lines.append(
                f"| {name} | {row['wall_ms']:.0f} | {row['wall_ms_min']:.0f} | {row['cpu_ms']:.0f} | "
                f"{row['peak_rss_mb']:.1f} | {'yes' if row['ok'] else 'no'} |"
            )
    return "\n".join(lines) + "\n", goals


def _session_ratio(sessions: list[dict[str, Any]], variant: str, floor: str) -> float | None:
    """Median over repeats of ``variant``'s sessions/s over the floor's in the same repeat."""
    mine = [r for r in sessions if r.get("variant") == variant and r.get("ok")]
    base = [r for r in sessions if r.get("variant") == floor and r.get("ok")]
    pairs = [a["sessions_per_s"] / b["sessions_per_s"] for a, b in zip(mine, base, strict=False) if b["sessions_per_s"]]
    return statistics.median(pairs) if pairs else None


def goals_table(data: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    """The performance goals of the one-transport issue, each measured here, against the floor and the SDK."""
    cold = data.get("cold") or {}
    rows: list[tuple[str, str, float | None, float | None, str]] = []

    def first(v: str, key: str) -> float | None:
        row = cold.get(f"first turn: {v}")
        return float(row[key]) if row else None

    pod, floor, sdk = first("podium", "wall_ms"), first("raw_httpx", "wall_ms"), first("openai_sdk", "wall_ms")
    if pod and floor:
        rows.append(("start to first answer, x plain httpx", "<= 1.5", pod / floor, sdk / floor if sdk else None, "x"))
    rss = first("podium", "peak_rss_mb")
    if rss:
        rows.append(("peak RSS of one chat turn, MB", "<= 40", rss, first("openai_sdk", "peak_rss_mb"), "MB"))
    for scenario, target in (("S1", "<= 1.3"), ("S4", "<= 1.2")):
        for variant in ("podium", "podium_async"):
            g = goals.get(f"{scenario} {variant}")
            if g:
                sdk_variant = "openai_sdk" if variant == "podium" else "openai_sdk_async"
                theirs = _paired_ratio(data["scenarios"], sdk_variant, FLOOR[sdk_variant], scenario, "cpu_ms_per_iter")
                rows.append(
                    (f"{scenario} CPU per call, {variant}, x plain loop", target, g["cpu_x_floor"], theirs, "x")
                )
    sessions = data.get("sessions") or []
    if sessions:
        ratio = _session_ratio(sessions, "podium_async", SESSION_VARIANTS[0])
        sdk_ratio = _session_ratio(sessions, "openai_sdk_async", SESSION_VARIANTS[0])
        rows.append(("1,000 async sessions: throughput x floor", ">= 0.9", ratio, sdk_ratio, "x"))
        kb = (goals.get("sessions") or {}).get("kb_per_session")
        sdk_kb = [r["rss_kb_per_session"] for r in sessions if r.get("variant") == "openai_sdk_async" and r.get("ok")]
        rows.append(
            ("1,000 async sessions: KB per session", "<= 40", kb, statistics.median(sdk_kb) if sdk_kb else None, "KB")
        )
    agent, bare = cold.get("from podium import Agent, tool"), cold.get("python -c pass")
    if agent and bare:
        rows.append(
            (
                "`from podium import Agent` (process minus bare start-up), ms",
                "<= 100",
                agent["wall_ms"] - bare["wall_ms"],
                None,
                "ms",
            )
        )
    if not rows:
        return []
    out = [
        "",
        "## Goals",
        "",
        "`openai SDK`: the same measure for the official openai SDK in the same run (its own ratio to the floor).",
        "",
    ]
    out += ["| goal | target | Podium | openai SDK | met |", "|---|---|---|---|---|"]
    for name, target, value, theirs, _unit in rows:
        op, bound = target.split()
        met = value is not None and (value <= float(bound) if op == "<=" else value >= float(bound))
        out.append(f"| {name} | {target} | {_fmt(value)} | {_fmt(theirs)} | {'yes' if met else 'NO'} |")
    return out


def versions(python: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d: m.version(d) for d in ('openai', 'httpx', 'httpx2', 'podium', 'genai-prices')}))"
    )
    p = subprocess.run([python, "-c", code], capture_output=True, text=True)
    try:
        result: dict[str, str] = json.loads(p.stdout)
        return result
    except ValueError:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the iterations per batch")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--session-repeats", type=int, default=3)
    parser.add_argument("--delay-ms", type=int, default=1000, help="fake server delay per answer, sessions test")
    parser.add_argument("--cold-repeats", type=int, default=7)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, e.g. S1,S4")
    parser.add_argument("--only", choices=["all", "scenarios", "sessions", "cold"], default="all")
    parser.add_argument("--quick", action="store_true", help="3 rounds, half batches, 300 sessions once, 3 cold runs")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the clients (with podium installed)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.scale, args.sessions, args.session_repeats, args.cold_repeats = 3, 0.5, 300, 1, 3
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("/tmp/podium-bench") / stamp
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data: dict[str, Any] = {"stamp": stamp, "args": {k: str(v) for k, v in vars(args).items()}}
    server = ServerProcess(out, args.python)
    loads: list[float] = [loadavg()]
    try:
        if args.only in ("all", "scenarios"):
            data["scenarios"] = scenario_rounds(
                server, args.python, args.rounds, args.scale, tuple(args.scenarios.split(","))
            )
            loads += [r["load"] for r in data["scenarios"] if "load" in r]
        else:
            data["scenarios"] = []
        if args.only in ("all", "sessions"):
            log(f"--- {args.sessions} concurrent sessions (load average {loadavg():.2f})")
            data["sessions"] = sessions_test(server, args.python, args.session_repeats, args.sessions, args.delay_ms)
            loads += [r["load"] for r in data["sessions"]]
        if args.only in ("all", "cold"):
            log(f"--- cold starts (load average {loadavg():.2f})")
            data["cold"] = cold_starts(server, args.python, args.cold_repeats)
            loads.append(loadavg())
    finally:
        server.stop()
    kernel = ".".join(platform.release().split(".")[:2])  # major.minor: no build names
    data["meta"] = {
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {kernel}",
        "python": platform.python_version(),
        "versions": versions(args.python),
        "rounds": args.rounds,
        "load_min": min(loads),
        "load_med": statistics.median(loads),
        "load_max": max(loads),
        "seconds": round(time.perf_counter() - started, 1),
    }
    text, goals = summarize(data)
    text += f"\nWhole run: {data['meta']['seconds']:.0f} s.\n"
    data["goals"] = goals
    (out / "results.json").write_text(json.dumps(data, indent=1))
    (out / "summary.md").write_text(text)
    print(text)
    log(f"results in {out}")


if __name__ == "__main__":
    main()
