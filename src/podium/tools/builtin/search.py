"""Finding files by glob and searching their contents by regex (ripgrep when present, else Python)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from typing import Any

from podium.exceptions import ModelRetry
from podium.tools.sandbox.workspace import Workspace, WorkspaceError, looks_binary
from podium.tools.tool import Tool

__all__ = ["IGNORED_DIRS", "glob_to_regex", "search_tools"]

IGNORED_DIRS = frozenset({".git", ".hg", ".svn"})
"""Directories never listed or searched."""


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over ``/``-separated relative paths: ``**`` spans directories, ``*`` does not.

    A pattern without ``/`` matches file names anywhere (``*.py`` finds ``src/a.py``).
    """
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _walk(ws: Workspace, base: str, max_bytes: int) -> Iterator[str]:
    """Relative paths of the regular files under ``base`` (no symlinks followed, ignored dirs skipped)."""
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            if st.st_size > max_bytes and _is_binary_file(full):
                continue  # large binaries are skipped
            yield ws.relative(full)


def _is_binary_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return looks_binary(f.read(8192))
    except OSError:
        return True


def search_tools(
    ws: Workspace, *, use_ripgrep: bool | None = None, large_file_bytes: int = 1 << 20
) -> list[Tool[..., Any]]:
    """``find_files`` and ``search_files`` for ``ws``; ``use_ripgrep=None`` uses ripgrep when installed."""
    rg = shutil.which("rg") if use_ripgrep is not False else None
    if use_ripgrep and rg is None:
        raise ValueError("use_ripgrep=True but ripgrep (rg) is not installed")

    def _base(path: str) -> str:
        try:
            real = ws.resolve(path)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        if not real.is_dir():
            raise ModelRetry(f"{path!r} is not a directory")
        return str(real)

    def find_files(pattern: str, path: str = ".", max_results: int = 200) -> str:
        """Find files by glob (``**/*.py``, ``src/*.ts``; a pattern without ``/`` matches names anywhere).

        Args:
            pattern: Glob over paths relative to ``path``.
            path: Directory to search, relative to the workspace.
            max_results: Most paths to return.
        """
        base = _base(path)
        regex = glob_to_regex(pattern)
        matches = sorted(
            rel for rel in _walk(ws, base, large_file_bytes) if regex.match(os.path.relpath(ws.root / rel, base))
        )
        total = len(matches)
        found = matches[:max_results]
        if not found:
            return f"[no files match {pattern!r}]"
        more = f"\n[{total - len(found)} more not shown; narrow the pattern]" if total > len(found) else ""
        return "\n".join(found) + more

    def search_files(
        pattern: str, path: str = ".", glob: str | None = None, ignore_case: bool = False, max_results: int = 100
    ) -> str:
        """Search file contents with a regular expression; prints ``path:line:text`` for each match.

        Args:
            pattern: Regular expression (Rust/Python syntax).
            path: Directory to search, relative to the workspace.
            glob: Only files whose path matches this glob, e.g. ``*.py``.
            ignore_case: Match case-insensitively.
            max_results: Most matching lines to return.
        """
        base = _base(path)
        try:
            regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise ModelRetry(f"invalid regular expression {pattern!r}: {exc}") from None
        found = _ripgrep(rg, pattern, base, glob, ignore_case) if rg else None
        lines: Iterable[str] = found if found is not None else _python_search(regex, base, glob, large_file_bytes)
        results = []
        for line in lines:
            results.append(line if len(line) <= 500 else line[:500] + " [...]")
            if len(results) > max_results:
                break
        if not results:
            return f"[no matches for {pattern!r}]"
        more = "\n[more matches not shown; narrow the search]" if len(results) > max_results else ""
        return "\n".join(results[:max_results]) + more

    def _ripgrep(exe: str, pattern: str, base: str, glob: str | None, ignore_case: bool) -> list[str] | None:
        args = [exe, "--line-number", "--no-heading", "--color=never", "--no-follow", "--max-columns=500"]
        args += ["--max-filesize", str(large_file_bytes * 8), "--glob", "!.git"]
        if ignore_case:
            args.append("--ignore-case")
        if glob:
            args += ["--glob", glob]
        args += ["--regexp", pattern, "--", os.path.relpath(base, ws.root)]
        try:
            proc = subprocess.run(args, cwd=ws.root, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode == 2 and not proc.stdout:
            return None  # rg rejected the pattern (syntax differs from Python): use Python
        out = proc.stdout.decode("utf-8", "replace").splitlines()
        return [line[2:] if line.startswith("./") else line for line in out]

    def _python_search(regex: re.Pattern[str], base: str, glob: str | None, limit_bytes: int) -> Iterator[str]:
        glob_re = glob_to_regex(glob) if glob else None
        for rel in _walk(ws, base, limit_bytes):
            if glob_re and not glob_re.match(os.path.relpath(os.path.join(ws.root, rel), base)):
                continue
            full = os.path.join(ws.root, rel)
            try:
                if os.path.getsize(full) > limit_bytes * 8:
                    continue
                with open(full, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if looks_binary(data):
                continue
            for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
                if regex.search(line):
                    yield f"{rel}:{n}:{line}"

    return [Tool(find_files), Tool(search_files)]
