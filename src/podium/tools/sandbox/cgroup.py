"""A pids cgroup per command, used when Podium runs as root.

The kernel does not apply RLIMIT_NPROC to root (user id 0 is exempt, even inside a user namespace that maps
to it), so as root the process limit needs a cgroup: a fresh ``pids`` cgroup per command with ``pids.max``
set. It also gives a complete list of the command's processes, so that every leftover is killed, even one
that left the process group and the session. cgroup v1 (a ``pids`` hierarchy) and v2 (``pids`` controller)
are both handled. Without a writable cgroup file system, :func:`open_pids_cgroup` returns ``None`` and the
sandbox reports the process limit as not enforced.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["PidsCgroup", "open_pids_cgroup", "pids_root"]

logger = logging.getLogger("podium.tools.sandbox")

_counter = itertools.count()
_ROOT_CACHE: list[tuple[Path, int] | None] = []


def pids_root() -> tuple[Path, int] | None:
    """The mount point of the pids controller and its cgroup version, or ``None``."""
    if _ROOT_CACHE:
        return _ROOT_CACHE[0]
    found: tuple[Path, int] | None = None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mount_point, fstype, super_opts = fields[4], rfields[0], rfields[2]
        if fstype == "cgroup" and "pids" in super_opts.split(","):
            found = (Path(mount_point), 1)
            break
        if fstype == "cgroup2" and found is None:
            with contextlib.suppress(OSError):
                if "pids" in (Path(mount_point) / "cgroup.controllers").read_text().split():
                    found = (Path(mount_point), 2)
    _ROOT_CACHE.append(found)
    return found


class PidsCgroup:
    """One command's pids cgroup: limit, membership, and killing everything in it."""

    def __init__(self, path: Path) -> None:
        """Wrap an existing cgroup directory."""
        self.path = path

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup (its later children are born there)."""
        (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def pids(self) -> list[int]:
        """The processes in the cgroup now."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(x) for x in text.split()]

    def kill_all(self, exclude: frozenset[int] = frozenset(), deadline: float = 2.0) -> int:
        """SIGKILL every process in the cgroup (but ``exclude``) until none is left; how many were killed."""
        killed: set[int] = set()
        end = time.monotonic() + deadline
        kill_file = self.path / "cgroup.kill"
        if not exclude and kill_file.exists():
            before = self.pids()
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
                killed.update(before)
        while time.monotonic() < end:
            pids = [p for p in self.pids() if p not in exclude]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)
        return len(killed)

    def remove(self) -> None:
        """Kill what is left and delete the cgroup."""
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)  # zombies are still being reaped
        logger.warning("could not remove cgroup %s", self.path)


def open_pids_cgroup(max_pids: int | None) -> PidsCgroup | None:
    """A new pids cgroup limited to ``max_pids``, or ``None`` when cgroups cannot be used here."""
    if os.geteuid() != 0:
        return None
    root = pids_root()
    if root is None:
        return None
    mount, version = root
    base = mount / "podium"
    try:
        if version == 2:
            _enable_pids(mount)
        base.mkdir(exist_ok=True)
        if version == 2:
            _enable_pids(base)
        path = base / f"cmd-{os.getpid()}-{next(_counter)}"
        path.mkdir()
    except OSError as exc:
        logger.debug("no pids cgroup: %s", exc)
        return None
    group = PidsCgroup(path)
    if max_pids is not None:
        try:
            (path / "pids.max").write_text(f"{max_pids}\n")
        except OSError as exc:
            logger.debug("cannot set pids.max: %s", exc)
            group.remove()
            return None
    return group


def _enable_pids(directory: Path) -> None:
    control = directory / "cgroup.subtree_control"
    if "pids" not in control.read_text().split():
        control.write_text("+pids")
