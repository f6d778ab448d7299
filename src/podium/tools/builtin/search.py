"""Finding files by glob and searching their contents by regex, race-free.

Both tools open the directory to search once (an ``O_NOFOLLOW`` walk from the workspace root) and never use a
path name after that:

- ``find_files`` and the Python search walk the tree by descriptors (:mod:`podium.tools.sandbox.walk`):
  iterative, bounded in depth and entries, skipping ``.git``/``.hg``/``.svn``, never following a symlink.
- With ripgrep, ``rg`` runs with its working directory set to that descriptor (``/proc/self/fd/N``), so its
  root cannot be swapped. ripgrep still opens subdirectories and files *by relative path*, following any
  directory a concurrent command swaps for a symlink, so its output is not trusted: every file it reports
  is re-opened through the descriptor walk (``O_NOFOLLOW`` at each level, a regular file, hard-link and size
  checks) and a match is shown only when that file holds the same line at the same number. Whatever ripgrep
  read from elsewhere is dropped and counted in a note. ripgrep keeps its own ignore rules (``.gitignore``,
  hidden files); it is stopped as soon as enough lines are verified.

Paths are shown as :func:`~podium.tools.sandbox.names.quote_path` shows them and matched text has control
characters escaped, so a name or a line holding a newline, a carriage return or an ANSI escape cannot forge
lines. Line numbers count newlines only, as ``read_file`` does.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from podium.exceptions import ModelRetry
from podium.tools.sandbox.names import escape_controls, quote_path
from podium.tools.sandbox.walk import (
    IGNORED_DIRS,
    WalkLimits,
    WalkReport,
    descend,
    open_regular,
    read_fd,
    read_regular,
    walk,
)
from podium.tools.sandbox.workspace import Workspace, WorkspaceError, looks_binary
from podium.tools.tool import Tool

__all__ = ["IGNORED_DIRS", "glob_to_regex", "search_tools", "split_lines"]

MAX_MATCH_CHARS = 500
RIPGREP_TIMEOUT = 60.0


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
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data``, split at newlines only (as ripgrep, ``sed -n`` and ``read_file`` count them)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _show_line(rel: str, number: int, line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    if text.endswith("\r"):
        text = text[:-1]
    out = f"{quote_path(rel)}:{number}:{escape_controls(text)}"
    return out if len(out) <= MAX_MATCH_CHARS else out[:MAX_MATCH_CHARS] + " [...]"


@dataclass
class _Search:
    """One ``search_files`` call: where, what, and what was left out."""

    ws: Workspace
    base_fd: int
    prefix: str  # the searched directory relative to the workspace, "" for the root
    glob: re.Pattern[str] | None
    limits: WalkLimits
    max_file_bytes: int
    report: WalkReport = field(default_factory=WalkReport)
    unverified: int = 0
    proc: subprocess.Popen[bytes] | None = None
    timer: threading.Timer | None = None

    def wanted(self, rel: str) -> bool:
        return self.glob is None or self.glob.match(rel) is not None

    def python(self, regex: re.Pattern[str]) -> Generator[str, None, None]:
        """Matches found by walking the tree by descriptors."""
        with contextlib.closing(walk(self.base_fd, self.limits, self.report)) as files:
            for found in files:
                if not self.wanted(found.rel):
                    continue
                data = read_regular(
                    found.dir_fd, found.name, max_bytes=self.max_file_bytes, allow_hardlinks=self.ws.allow_hardlinks
                )
                if isinstance(data, str) or looks_binary(data):
                    continue
                for number, line in enumerate(split_lines(data), start=1):
                    if regex.search(line.decode("utf-8", "replace")):
                        yield _show_line(self.prefix + found.rel, number, line)

    def lines_of(self, rel: str) -> list[bytes] | None:
        """The lines of ``rel`` (under the base) read through the descriptor walk, or ``None`` when refused."""
        *dirs, name = rel.split("/")
        if len(dirs) > self.limits.max_depth:
            self.report.too_deep += 1
            self.report.first_too_deep = self.report.first_too_deep or "/".join(dirs)
            return None
        try:
            with descend(self.base_fd, dirs) as dfd:
                data = read_regular(dfd, name, max_bytes=self.max_file_bytes, allow_hardlinks=self.ws.allow_hardlinks)
        except (OSError, ValueError):  # ValueError: a NUL in a name ripgrep reported
            return None
        return None if isinstance(data, str) else split_lines(data)

    def ripgrep(self, argv: list[str]) -> Iterator[str] | None:
        """Verified matches from ripgrep, or ``None`` when it cannot run this search (Python is used then).

        The process runs until :meth:`close`.
        """
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=f"/proc/self/fd/{self.base_fd}",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        proc = self.proc

        def timeout() -> None:
            self.report.refused.append(f"[ripgrep timed out after {RIPGREP_TIMEOUT:.0f} s: results are incomplete]")
            proc.kill()

        self.timer = threading.Timer(RIPGREP_TIMEOUT, timeout)
        self.timer.start()
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first and proc.wait() == 2:
            return None  # no output and an error: rg refused the pattern (its syntax differs from Python's)
        return self._verified(itertools.chain([first], proc.stdout))

    def _verified(self, messages: Iterable[bytes]) -> Iterator[str]:
        """The matches of ripgrep that the descriptor walk reads back identically."""
        current: str | None = None
        lines: list[bytes] | None = None
        wanted = True
        for raw in messages:
            if not raw.strip():
                continue
            message = json.loads(raw)
            if message.get("type") != "match":
                continue
            data = message["data"]
            rel = _rg_text(data["path"])
            rel = rel[2:] if rel.startswith("./") else rel
            if rel != current:
                current = rel
                wanted = self.wanted(rel)  # rg's glob may differ from ours: ours decides, quietly
                lines = self.lines_of(rel) if wanted else None
            if not wanted:
                continue
            number = int(data["line_number"])
            text = _rg_bytes(data["lines"])
            text = text[:-1] if text.endswith(b"\n") else text
            if lines is None or number > len(lines) or lines[number - 1] != text:
                self.unverified += 1
                continue
            yield _show_line(self.prefix + rel, number, text)

    def close(self) -> None:
        """Stop ripgrep if it still runs."""
        if self.timer is not None:
            self.timer.cancel()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc.wait()

    def notes(self) -> list[str]:
        notes = self.report.notes(self.limits)
        if self.unverified:
            notes.append(
                f"[{self.unverified} {'match was' if self.unverified == 1 else 'matches were'} not shown: their "
                "file changed while searched, or is a symlink, hard link or too large]"
            )
        return notes


def _rg_text(value: dict[str, str]) -> str:
    if "text" in value:
        return value["text"]
    return os.fsdecode(base64.b64decode(value["bytes"]))


def _rg_bytes(value: dict[str, str]) -> bytes:
    if "text" in value:
        return value["text"].encode("utf-8")
    return base64.b64decode(value["bytes"])


def search_tools(
    ws: Workspace,
    *,
    use_ripgrep: bool | None = None,
    large_file_bytes: int = 1 << 20,
    limits: WalkLimits | None = None,
) -> list[Tool[..., Any]]:
    """``find_files`` and ``search_files`` for ``ws``; ``use_ripgrep=None`` uses ripgrep when installed.

    Args:
        ws: The workspace.
        use_ripgrep: Search contents with ripgrep (``None``: when installed and ``/proc`` is mounted).
        large_file_bytes: ``find_files`` skips binary files larger than this; contents are searched in files
            up to 8 times this.
        limits: Depth and entry bounds of the walks.
    """
    rg = shutil.which("rg") if use_ripgrep is not False else None
    if use_ripgrep and rg is None:
        raise ValueError("use_ripgrep=True but ripgrep (rg) is not installed")
    if rg is not None and not os.path.isdir("/proc/self/fd"):
        rg = None  # ripgrep's working directory is set through /proc/self/fd
    walk_limits = limits or WalkLimits()

    @contextlib.contextmanager
    def _base(path: str) -> Iterator[tuple[int, str]]:
        try:
            with ws.open_dir(path) as (fd, real):
                rel = ws.relative(real)
                yield fd, "" if rel == "." else rel + "/"
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None

    def find_files(pattern: str, path: str = ".", max_results: int = 200) -> str:
        """Find files by glob (``**/*.py``, ``src/*.ts``; a pattern without ``/`` matches names anywhere).

        Args:
            pattern: Glob over paths relative to ``path``.
            path: Directory to search, relative to the workspace.
            max_results: Most paths to return.
        """
        if max_results < 1:
            raise ModelRetry("max_results must be at least 1")
        regex = glob_to_regex(pattern)
        report = WalkReport()
        matches = []
        with _base(path) as (fd, prefix), contextlib.closing(walk(fd, walk_limits, report)) as files:
            for found in files:
                if regex.match(found.rel) and not _large_binary(found.dir_fd, found.name, large_file_bytes):
                    matches.append(prefix + found.rel)
        matches.sort()
        notes = report.notes(walk_limits)
        if not matches:
            return "\n".join([f"[no files match {pattern!r}]", *notes])
        shown = [quote_path(m) for m in matches[:max_results]]
        if len(matches) > max_results:
            shown.append(f"[{len(matches) - max_results} more not shown; narrow the pattern]")
        return "\n".join(shown + notes)

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
        if max_results < 1:
            raise ModelRetry("max_results must be at least 1")
        with _base(path) as (fd, prefix):
            search = _Search(ws, fd, prefix, glob_to_regex(glob) if glob else None, walk_limits, large_file_bytes * 8)
            found: Iterator[str] | None = None
            try:
                found = search.ripgrep(_rg_argv(rg, pattern, glob, ignore_case, large_file_bytes * 8)) if rg else None
                if found is None:
                    try:
                        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
                    except re.error as exc:
                        raise ModelRetry(f"invalid regular expression {pattern!r}: {exc}") from None
                    found = search.python(regex)
                results = list(itertools.islice(found, max_results + 1))
            finally:
                if isinstance(found, Generator):
                    found.close()  # releases the walk's descriptors
                search.close()
        notes = search.notes()
        if not results:
            return "\n".join([f"[no matches for {pattern!r}]", *notes])
        more = ["[more matches not shown; narrow the search]"] if len(results) > max_results else []
        return "\n".join(results[:max_results] + more + notes)

    return [Tool(find_files), Tool(search_files)]


def _rg_argv(exe: str, pattern: str, glob: str | None, ignore_case: bool, max_bytes: int) -> list[str]:
    argv = [exe, "--json", "--no-config", "--no-follow", "--encoding=none", "--max-filesize", str(max_bytes)]
    for name in sorted(IGNORED_DIRS):
        argv += ["--glob", f"!{name}"]
    if ignore_case:
        argv.append("--ignore-case")
    if glob:
        argv += ["--glob", glob]
    return [*argv, "--regexp", pattern, "--", "."]


def _large_binary(dir_fd: int, name: str, limit: int) -> bool:
    """Whether the file is larger than ``limit`` and binary (such files are left out of ``find_files``)."""
    try:
        size = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_size
    except OSError:
        return True
    if size <= limit:
        return False
    opened = open_regular(dir_fd, name, allow_hardlinks=True)
    if isinstance(opened, str):
        return True
    fd, _ = opened
    try:
        return looks_binary(read_fd(fd, 8192))
    finally:
        os.close(fd)
