"""Walking a directory tree by descriptors: nothing is reopened by path name, so nothing can be swapped.

A walk starts from a directory descriptor and opens each subdirectory *relative to its parent's
descriptor* with ``O_NOFOLLOW | O_DIRECTORY``: a directory that a concurrent process replaces by a symlink
(to a host directory, say) fails to open and is counted as changed, never followed, and everything the walk
yields lies under the starting directory. Files are opened the same way (``O_NOFOLLOW``, relative to their
directory's descriptor) and checked with ``fstat`` after the open: regular file, size, hard links.

The walk is iterative (no recursion, so a tree 3000 levels deep cannot raise ``RecursionError``) and bounded:
at most :attr:`WalkLimits.max_depth` levels (one open descriptor per level) and
:attr:`WalkLimits.max_entries` directory entries, with :meth:`WalkReport.notes` saying what was left out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

from podium.tools.sandbox.names import quote_path

__all__ = ["IGNORED_DIRS", "Found", "WalkLimits", "WalkReport", "descend", "open_regular", "read_regular", "walk"]

IGNORED_DIRS = frozenset({".git", ".hg", ".svn"})
"""Directories never listed or searched by walks."""

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHANGED = (errno.ELOOP, errno.ENOTDIR, errno.ENOENT)


@dataclass(frozen=True, slots=True)
class WalkLimits:
    """How far a walk goes."""

    max_depth: int = 64
    """Directory levels entered below the starting directory (one open descriptor each)."""
    max_entries: int = 100_000
    """Directory entries looked at before the walk stops."""


@dataclass
class WalkReport:
    """What a walk skipped, for a note to the model."""

    entries: int = 0
    """Directory entries looked at."""
    stopped: bool = False
    """The walk stopped at :attr:`WalkLimits.max_entries`."""
    too_deep: int = 0
    """Directories not entered because they are deeper than :attr:`WalkLimits.max_depth`."""
    first_too_deep: str | None = None
    """The first of them (relative to the start)."""
    changed: int = 0
    """Entries that vanished or changed kind while walked (e.g. a directory swapped for a symlink)."""
    unreadable: int = 0
    """Directories that could not be opened (permissions)."""
    refused: list[str] = field(default_factory=list)
    """Other notes (files refused by a check), already worded."""

    def notes(self, limits: WalkLimits) -> list[str]:
        """One bracketed line per thing left out; empty when the walk was complete."""
        out = []
        if self.stopped:
            out.append(
                f"[stopped after {limits.max_entries} directory entries: the results are incomplete; "
                "give a narrower path]"
            )
        if self.too_deep:
            example = quote_path(self.first_too_deep or "")
            if len(example) > 120:
                example = example[:60] + "..." + example[-57:]
            out.append(
                f"[{_count(self.too_deep, 'directory', 'directories')} deeper than {limits.max_depth} "
                f"levels not entered, e.g. {example}; give that path to look inside]"
            )
        if self.changed:
            out.append(
                f"[{_count(self.changed, 'entry', 'entries')} changed while being read (e.g. replaced by a symlink) "
                "and skipped]"
            )
        if self.unreadable:
            out.append(
                f"[{_count(self.unreadable, 'directory', 'directories')} could not be opened (permission denied)]"
            )
        out.extend(self.refused)
        return out


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file (by its directory entry) found by :func:`walk`."""

    rel: str
    """Its path relative to the starting directory, ``/``-separated."""
    name: str
    """Its name in its directory."""
    dir_fd: int
    """A descriptor of its directory, valid only until the walk moves on."""


def _list(fd: int, skip_dirs: frozenset[str], limits: WalkLimits, report: WalkReport) -> tuple[list[str], list[str]]:
    """The names of the regular files and of the subdirectories in ``fd``, sorted (symlinks are neither)."""
    files: list[str] = []
    dirs: list[str] = []
    try:
        it = os.scandir(fd)
    except OSError:
        report.unreadable += 1
        return files, dirs
    with it:
        for entry in it:
            report.entries += 1
            if report.entries > limits.max_entries:
                report.stopped = True
                break
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in skip_dirs:
                        dirs.append(entry.name)
                elif entry.is_file(follow_symlinks=False):
                    files.append(entry.name)
            except OSError:
                report.changed += 1
    files.sort()
    dirs.sort()
    return files, dirs


def walk(
    start_fd: int,
    limits: WalkLimits,
    report: WalkReport,
    *,
    skip_dirs: frozenset[str] = IGNORED_DIRS,
) -> Generator[Found, None, None]:
    """The regular files under the directory ``start_fd``: each directory's files (sorted), then its subdirectories.

    Symlinks are never followed (neither to directories nor to files); ``start_fd`` is not closed. Close the
    generator (or exhaust it) to release the descriptors it holds.
    """
    stack: list[tuple[int, str, list[str]]] = []  # (descriptor, prefix, subdirectories left, reversed)
    try:
        fd = os.open(".", DIR_FLAGS, dir_fd=start_fd)
        stack.append((fd, "", []))
        files, dirs = _list(fd, skip_dirs, limits, report)
        stack[-1] = (fd, "", dirs[::-1])
        for name in files:
            yield Found(name, name, fd)
        while stack and not report.stopped:
            parent, prefix, pending = stack[-1]
            if not pending:
                os.close(stack.pop()[0])
                continue
            name = pending.pop()
            rel = prefix + name
            if len(stack) > limits.max_depth:
                report.too_deep += 1
                report.first_too_deep = report.first_too_deep or rel
                continue
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    report.unreadable += 1
                else:
                    report.changed += 1
                continue
            stack.append((fd, rel + "/", []))  # first, so that the descriptor is closed whatever happens
            files, dirs = _list(fd, skip_dirs, limits, report)
            stack[-1] = (fd, rel + "/", dirs[::-1])
            for file in files:
                yield Found(rel + "/" + file, file, fd)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


@contextlib.contextmanager
def descend(start_fd: int, parts: Sequence[str]) -> Iterator[int]:
    """A descriptor of the directory ``parts`` below ``start_fd``, each level opened with ``O_NOFOLLOW``.

    Raises:
        OSError: a component is missing, not a directory, or a symlink (``ELOOP``/``ENOTDIR``).
    """
    fd = os.open(".", DIR_FLAGS, dir_fd=start_fd)
    try:
        for part in parts:
            if part in ("", ".", "..") or "/" in part:
                raise OSError(errno.EINVAL, f"bad path component {part!r}")
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def open_regular(dir_fd: int, name: str, *, allow_hardlinks: bool) -> tuple[int, os.stat_result] | str:
    """Open the regular file ``name`` in ``dir_fd`` without following a symlink; or why not, as a short reason."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return "changed" if exc.errno in _CHANGED else (exc.strerror or "cannot open")
    st = os.fstat(fd)
    reason = None
    if not stat.S_ISREG(st.st_mode):
        reason = "not a regular file"
    elif st.st_nlink > 1 and not allow_hardlinks:
        reason = "hard links"
    if reason is not None:
        os.close(fd)
        return reason
    return fd, st


def read_regular(dir_fd: int, name: str, *, max_bytes: int, allow_hardlinks: bool) -> bytes | str:
    """The content of the regular file ``name`` in ``dir_fd`` (see :func:`open_regular`), or why not."""
    opened = open_regular(dir_fd, name, allow_hardlinks=allow_hardlinks)
    if isinstance(opened, str):
        return opened
    fd, st = opened
    try:
        if st.st_size > max_bytes:
            return "too large"
        data = read_fd(fd, max_bytes + 1)
        return "too large" if len(data) > max_bytes else data
    finally:
        os.close(fd)


def read_fd(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd``."""
    chunks = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
