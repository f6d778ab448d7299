"""The web UI's latency and memory (issue 15).

1. Send to first token rendered, measured in the browser (Chromium headless, Playwright): from the click on
   Send to the first answer text in the page, after the next animation frame; a scripted model that answers at
   once, so what is measured is Podium's path (POST, thread start, agent, SSE, markdown render).
   Beside it the same path without the browser: POST to the first ``text_delta`` on the event stream.
2. The server's memory (RSS) with 100 idle conversations open: each with one exchange, each with a client
   holding its event stream open.

Usage: ``.venv/bin/python bench/web_latency.py [--sends 30]`` (needs the web extra, playwright and Chromium).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx


def start(tmp: Path, model: str) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, "PODIUM_DB": str(tmp / "podium.db"), "PODIUM_CONFIG": str(tmp / "config.toml")}
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", "0", "-m", model, "-w", str(tmp)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    match = re.search(r"(http://\S+)/\?token=(\S+)", process.stdout.readline())
    assert match, "podium serve printed no URL"
    return process, match.group(1), match.group(2)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


FIRST_TOKEN_JS = """() => new Promise((resolve) => {
    const t0 = performance.now();
    const obs = new MutationObserver(() => {
        const md = document.querySelector('#live .msg.assistant .md');
        if (md && md.textContent.trim()) {
            obs.disconnect();
            requestAnimationFrame(() => resolve(performance.now() - t0));
        }
    });
    obs.observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
    document.getElementById('send').click();
})"""


def browser_first_token(base: str, token: str, cid: str, sends: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Chromium: apt-get install chromium"
    times: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/?token={token}")
        page.goto(f"{base}/c/{cid}")
        page.locator("#model option").first.wait_for(state="attached")
        for i in range(sends):
            page.locator("#prompt").fill(f"question {i}")
            times.append(page.evaluate(FIRST_TOKEN_JS))
            page.locator("#history .msg.assistant").nth(i).wait_for()
            page.locator("#stop").wait_for(state="hidden")
        browser.close()
    return times


def api_first_token(base: str, token: str, cid: str, sends: int) -> list[float]:
    headers = {"authorization": f"Bearer {token}"}
    times: list[float] = []
    with (
        httpx.Client(base_url=base, headers=headers, timeout=30) as c,
        c.stream("GET", f"/api/conversations/{cid}/events") as events,
    ):
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        for i in range(sends):
            t0 = time.perf_counter()
            c.post(f"/api/conversations/{cid}/messages", json={"text": f"api question {i}"})
            first = None
            for line in lines:
                if not line.startswith("data: "):
                    continue
                kind = json.loads(line[6:])["kind"]
                if kind == "text_delta" and first is None:
                    first = (time.perf_counter() - t0) * 1000
                if kind == "turn_ended":
                    break
            assert first is not None
            times.append(first)
    return times


async def hold_streams(base: str, token: str, ids: list[str], seconds: float, pid: int) -> float:
    """Open an event stream per conversation, wait, and read the server's RSS while they are all open."""
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=len(ids) + 5)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=None, limits=limits) as c:
        opened = asyncio.Event()
        count = 0

        async def one(cid: str) -> None:
            nonlocal count
            async with c.stream("GET", f"/api/conversations/{cid}/events") as r:
                async for _line in r.aiter_lines():
                    count += 1
                    if count >= len(ids):
                        opened.set()
                    await asyncio.sleep(seconds)
                    return

        tasks = [asyncio.create_task(one(cid)) for cid in ids]
        await asyncio.wait_for(opened.wait(), 60)
        await asyncio.sleep(1)
        value = rss_mb(pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return value


def memory(tmp: Path, n: int) -> tuple[float, float, float]:
    process, base, token = start(tmp / "mem", "test:echo")
    try:
        headers = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            c.get("/api/info")
            idle = rss_mb(process.pid)
            ids = []
            for i in range(n):
                cid = c.post("/api/conversations", json={}).json()["id"]
                c.post(f"/api/conversations/{cid}/messages", json={"text": f"hello number {i} " + "x" * 200})
                ids.append(cid)
            for cid in ids:
                while c.get(f"/api/conversations/{cid}").json()["running"]:
                    time.sleep(0.01)
            stored = rss_mb(process.pid)
        held = asyncio.run(hold_streams(base, token, ids, 5.0, process.pid))
        return idle, stored, held
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=30)
    parser.add_argument("--conversations", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="podium-web-bench-"))
    (tmp / "mem").mkdir()
    answer = "Sure. Here is the **answer** with `code`:\n\n```python\nprint('hi')\n```\n"
    script = tmp / "script.json"
    script.write_text(json.dumps([answer] * (2 * args.sends + 2)))
    process, base, token = start(tmp, f"test:scripted:{script}")
    try:
        with httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}) as c:
            cid = c.post("/api/conversations", json={}).json()["id"]
        api = api_first_token(base, token, cid, args.sends)
        browser = browser_first_token(base, token, cid, args.sends)
    finally:
        process.terminate()
        process.wait(10)
    idle, stored, held = memory(tmp, args.conversations)
    shutil.rmtree(tmp, ignore_errors=True)

    def line(name: str, values: list[float]) -> str:
        values = sorted(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        return f"| {name} | {statistics.median(values):.1f} ms | {p90:.1f} ms | {min(values):.1f} ms | {len(values)} |"

    print("| send -> first token | median | p90 | min | n |")
    print("|---|---|---|---|---|")
    print(line("browser: click -> first answer text painted", browser))
    print(line("API: POST -> first text_delta event", api))
    print()
    n = args.conversations
    print("| server RSS | MB |")
    print("|---|---|")
    print(f"| started, idle | {idle:.1f} |")
    print(f"| after {n} conversations with one exchange each | {stored:.1f} |")
    print(f"| with those {n} conversations' event streams open | {held:.1f} |")
    print(f"| per open, idle conversation | {(held - idle) * 1024 / n:.0f} KB |")


if __name__ == "__main__":
    main()
