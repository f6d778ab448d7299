"""Speed of ``find_files`` and ``search_files`` on a tree of 20,000 files, ripgrep and Python.

``python bench/file_tools.py`` times the installed Podium; ``--compare SRC`` also times the Podium whose
``src`` directory is ``SRC`` (e.g. an older checkout extracted with ``git archive``) on the same tree, in a
child process, and prints both side by side. Each number is the best of ``--repeat`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [
    ("find_files *.py", "find_files", {"pattern": "*.py"}),
    ("search rare (rg)", "search_files:rg", {"pattern": "RARE_TOKEN_42"}),
    ("search common (rg)", "search_files:rg", {"pattern": "^import", "max_results": 100}),
    ("search rare (python)", "search_files:py", {"pattern": "RARE_TOKEN_42"}),
    ("search common (python)", "search_files:py", {"pattern": "^import", "max_results": 100}),
]


def build_tree(root: Path, files: int) -> None:
    """``files`` small source files in a 3-level tree of 10 x 10 x 10 directories; 3 hold a rare token."""
    body = "".join(f"import mod{i}\nvalue_{i} = compute({i}, 'text')\n" for i in range(30))
    for n in range(files):
        a, b, c = n % 10, (n // 10) % 10, (n // 100) % 10
        d = root / f"pkg{a}" / f"sub{b}" / f"leaf{c}"
        d.mkdir(parents=True, exist_ok=True)
        extra = "RARE_TOKEN_42 = True\n" if n in (7, 9000, 19999) else ""
        (d / f"m{n}.py").write_text(body + extra)


def measure(root: str, repeat: int) -> dict[str, float]:
    """Best time in ms of each case, with the Podium on ``sys.path``."""
    from podium.tools.builtin.search import search_tools
    from podium.tools.sandbox import Workspace

    tools = {
        "find_files": {t.name: t.fn for t in search_tools(Workspace(root), use_ripgrep=False)}["find_files"],
        "search_files:rg": {t.name: t.fn for t in search_tools(Workspace(root), use_ripgrep=True)}["search_files"],
        "search_files:py": {t.name: t.fn for t in search_tools(Workspace(root), use_ripgrep=False)}["search_files"],
    }
    results = {}
    for label, name, args in CASES:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            out = tools[name](**args)
            best = min(best, time.perf_counter() - start)
        if not out or "no matches" in out or "no files" in out:
            raise RuntimeError(f"{label}: unexpected result {out[:200]!r}")
        results[label] = best * 1000
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", metavar="SRC", help="also time the Podium in this src directory")
    parser.add_argument("--tree", help=argparse.SUPPRESS)  # used by the child process
    args = parser.parse_args()
    if args.tree:
        print(json.dumps(measure(args.tree, args.repeat)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build_tree(Path(tmp), args.files)
        runs = {"this": measure(tmp, args.repeat)}
        if args.compare:
            env = {**os.environ, "PYTHONPATH": args.compare}
            child = [sys.executable, __file__, "--tree", tmp, "--repeat", str(args.repeat)]
            runs["compared"] = json.loads(subprocess.run(child, env=env, check=True, capture_output=True).stdout)
    print(f"{args.files} files, best of {args.repeat}, ms")
    print(f"{'case':<24}" + "".join(f"{name:>12}" for name in runs))
    for label, _, _ in CASES:
        print(f"{label:<24}" + "".join(f"{run[label]:>12.1f}" for run in runs.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
