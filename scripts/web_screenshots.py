"""Take the web UI's screenshots for the README (docs/images/web-*.png): light and dark, desktop and narrow.

Runs a real ``podium serve`` on a scripted model in a temporary workspace and drives the system's Chromium
with Playwright. Usage: ``.venv/bin/python scripts/web_screenshots.py`` (from the repository root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"

ANSWER = """Here is a small, dependency-free way to summarise a CSV file:

```python
import csv
from statistics import mean

def column_stats(path: str, column: str) -> dict[str, float]:
    with open(path, newline="") as f:
        values = [float(row[column]) for row in csv.DictReader(f)]
    return {"count": len(values), "mean": mean(values), "max": max(values)}
```

| key | meaning |
|---|---|
| `count` | rows read |
| `mean` | the average |
| `max` | the largest value |

Want me to **save it** in the workspace and run it on `sales.csv`?"""

SCRIPT = [
    {"thinking": "The user wants summary statistics for one CSV column; the standard library is enough.",
     "text": ANSWER},
    {"text": "Saving it as `csv_stats.py`.",
     "calls": [{"name": "write_file", "args": {"path": "csv_stats.py", "content": "import csv\n..."}}]},
    {"text": "Saved **csv_stats.py**. I'll also add a `.envrc` so the virtualenv activates when you enter the folder.",
     "calls": [{"name": "write_file", "args": {"path": ".envrc", "content": "source .venv/bin/activate\n"}}]},
    "Done.",
]


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("install Chromium first: apt-get install chromium")
    tmp = Path(tempfile.mkdtemp(prefix="podium-shots-"))
    workspace = tmp / "analytics"
    workspace.mkdir()
    (workspace / "sales.csv").write_text("region,amount\nnorth,120\nsouth,80\neast,95\n")
    (workspace / "README.md").write_text("# Analytics\n\nQuarterly sales scripts.\n")
    script = tmp / "script.json"
    script.write_text(json.dumps(SCRIPT))
    env = {**os.environ, "PODIUM_DB": str(tmp / "podium.db"), "PODIUM_CONFIG": str(tmp / "config.toml")}
    server = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", "0", "-m", "anthropic:claude-sonnet-4-5",
         "-w", str(workspace), "--tool", "write_file", "--tool", "read_file"],
        env={**env, "ANTHROPIC_API_KEY": "sk-ant-not-used"},
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"(http://\S+)/\?token=(\S+)", server.stdout.readline())
        assert match, "no URL printed"
        base, token = match.groups()
        _conversations(base, token, f"test:scripted:{script}")
        _shoot(chromium, base, token)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _conversations(base: str, token: str, model: str) -> None:
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=10) as c:
        for title in ("Quarterly report outline", "Regex for ISO dates", "Why is my Docker build slow?"):
            cid = c.post("/api/conversations", json={"model": "test:echo"}).json()["id"]
            c.post(f"/api/conversations/{cid}/messages", json={"text": title})
            time.sleep(0.3)
            c.patch(f"/api/conversations/{cid}", json={"title": title})
        cid = c.post("/api/conversations", json={"model": model}).json()["id"]
        for text in ("Summarise a column of a CSV file in Python, no pandas.", "Yes, save it please."):
            c.post(f"/api/conversations/{cid}/messages", json={"text": text})
            while c.get(f"/api/conversations/{cid}").json()["running"]:
                time.sleep(0.1)
        c.patch(f"/api/conversations/{cid}", json={"title": "CSV column stats", "model": "anthropic:claude-sonnet-4-5"})


def _shoot(chromium: str, base: str, token: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        for scheme in ("light", "dark"):
            for name, size, mobile in (("desktop", (1360, 1020), False), ("narrow", (390, 844), True)):
                ctx = browser.new_context(
                    viewport={"width": size[0], "height": size[1]}, color_scheme=scheme, is_mobile=mobile,
                    device_scale_factor=2 if mobile else 1,
                )
                page = ctx.new_page()
                page.goto(f"{base}/?token={token}")
                page.locator(".approval").wait_for()
                page.locator("details.thinking summary").first.click()
                page.locator("#messages").evaluate("el => { el.style.scrollBehavior = 'auto'; el.scrollTop = 1e6; }")
                time.sleep(0.4)
                page.screenshot(path=str(OUT / f"web-{name}-{scheme}.png"))
                ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
