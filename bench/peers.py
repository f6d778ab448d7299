"""Put Podium in the same interleaved run as the peer frameworks, with the shared harness.

The harness (``../shared/bench/run.py``, its fake server and the peers' scenario scripts) is a reference
tool and stays outside this project. This script only resolves ``bench/peers.json`` (a copy of the
harness's ``frameworks.json`` plus the Podium rows, whose scenario script is ``bench/podium_peer.py``)
to a file under ``/tmp`` with absolute paths, and runs the harness with it::

    python bench/peers.py --setup      # create the venvs (under /tmp/perf) once
    python bench/peers.py              # a full run: every row, S1-S4, cold start, imports, sizes
    python bench/peers.py --rounds 3 --frameworks raw_httpx,openai_sdk,podium

Any other argument goes to ``run.py`` as is. Results land in ``/tmp/podium-bench/peers/<stamp>/``
(``summary.md`` is the combined table; copy it into ``bench/RESULTS.md``). The harness is looked for
in ``$PODIUM_PEER_BENCH``, else ``../shared/bench`` next to this checkout or its parent folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = Path(os.environ.get("PODIUM_BENCH_OUT", "/tmp/podium-bench"))


def harness() -> Path:
    """The folder of the shared harness (``run.py``)."""
    env = os.environ.get("PODIUM_PEER_BENCH")
    candidates = [Path(env)] if env else []
    candidates += [parent / "shared" / "bench" for parent in ROOT.parents]
    for folder in candidates:
        if (folder / "run.py").is_file():
            return folder
    raise SystemExit("the shared harness (run.py) was not found: set PODIUM_PEER_BENCH to its folder")


def resolved_registry() -> Path:
    """Write ``peers.json`` with ``{root}`` and ``{bench}`` replaced by absolute paths; return its path."""
    text = (BENCH / "peers.json").read_text()
    data = json.loads(text.replace("{root}", str(ROOT)).replace("{bench}", str(BENCH)))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "peers.resolved.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def main() -> int:
    args = sys.argv[1:]
    run = harness() / "run.py"
    cmd = [sys.executable, str(run), "--registry", str(resolved_registry())]
    if "--setup" not in args and "--out" not in args:
        cmd += ["--out", str(OUT / "peers")]
    # .pyc files must be written (the harness times imports after one untimed run, like an installed package)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print("+", " ".join(cmd + args), flush=True)
    return subprocess.call(cmd + args, env=env)


if __name__ == "__main__":
    sys.exit(main())
