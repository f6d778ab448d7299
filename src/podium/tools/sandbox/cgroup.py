"""A cgroup per command when Podium runs as root: the process limit, total memory, and a full process list.

Why: the kernel does not apply RLIMIT_NPROC to root (user id 0 is exempt, even inside a user namespace that
maps to it), and rlimits bound each process alone (ten processes of 1 GiB each pass a 1 GiB RLIMIT_AS). A
cgroup bounds the processes of one command *together*: ``pids.max`` for their number, ``memory.max``
(``memory.limit_in_bytes`` on cgroup v1) for the memory they use together, page cache and tmpfs included,
with swap held at the same bound. It also lists every process of the command, so that every leftover is
killed, even one that left the process group and the session.

Where: cgroup v1 (one hierarchy per controller) and v2 (one hierarchy) are both handled. On v1 each command
gets ``<hierarchy>/<Podium's cgroup>/podium/cmd-<pid namespace>-<pid>-<start>-<n>``, so the limits of the
cgroup Podium runs in still hold; on v2 the cgroup is made under the root of the mount (only the root may hold
both processes and controller-enabled children). The name carries Podium's pid namespace, pid and start time:
cgroups left by a Podium process that was killed are found and removed (their processes killed) each time one
is opened; those of a Podium in another pid namespace are left alone.
Without a writable cgroup file system (Podium not root, or no controller), :func:`open_command_cgroup`
returns ``None`` and the sandboxes say that the total limits are not enforced.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupSupport", "CommandCgroup", "cgroup_support", "open_command_cgroup", "remove_stale_cgroups"]

logger = logging.getLogger("podium.tools.sandbox")

_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class _Hierarchy:
    mount: Path
    version: int
    own: str  # Podium's cgroup in this hierarchy ("/" or "/a/b")

    def base(self) -> Path:
        """The directory under which command cgroups are made."""
        if self.version == 2:
            return self.mount / "podium"
        return self.mount / self.own.lstrip("/") / "podium"


@dataclass(frozen=True, slots=True)
class CgroupSupport:
    """Which totals a command cgroup can enforce here."""

    pids: bool
    """Whether a pids controller is available (and writable: Podium is root)."""
    memory: bool
    """Whether a memory controller is available."""
    version: int | None
    """1 or 2, or ``None`` without cgroups."""


def _own_cgroups() -> dict[str, str]:
    """Controller (or ``""`` for v2) -> Podium's cgroup path in that hierarchy."""
    out: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            out[controller] = parts[2]
    return out


@functools.lru_cache(maxsize=1)
def _hierarchies() -> dict[str, _Hierarchy]:
    """``pids`` and ``memory`` -> where their controller is mounted."""
    own = _own_cgroups()
    found: dict[str, _Hierarchy] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mount, fstype, options = Path(fields[4]), rfields[0], rfields[2].split(",")
        if fstype == "cgroup":
            for controller in ("pids", "memory"):
                if controller in options and controller not in found:
                    found[controller] = _Hierarchy(mount, 1, own.get(controller, "/"))
        elif fstype == "cgroup2":
            with contextlib.suppress(OSError):
                available = (mount / "cgroup.controllers").read_text().split()
                for controller in ("pids", "memory"):
                    if controller in available and controller not in found:
                        found[controller] = _Hierarchy(mount, 2, own.get("", "/"))
    return found


def cgroup_support() -> CgroupSupport:
    """What a command cgroup can enforce here (nothing unless Podium is root)."""
    if os.geteuid() != 0:
        return CgroupSupport(False, False, None)
    found = _hierarchies()
    versions = {h.version for h in found.values()}
    return CgroupSupport("pids" in found, "memory" in found, max(versions) if versions else None)


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _start_time(pid: int) -> str | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


class CommandCgroup:
    """One command's cgroup directories (one per v1 hierarchy, or one on v2)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        """Wrap existing directories: controller -> path (several controllers may share a path)."""
        self.paths = paths
        self.dirs = list(dict.fromkeys(paths.values()))

    @property
    def limits_memory(self) -> bool:
        """Whether the command's total memory is bounded."""
        return "memory" in self.paths

    @property
    def limits_pids(self) -> bool:
        """Whether the command's number of processes is bounded."""
        return "pids" in self.paths

    def add(self, pid: int) -> None:
        """Move process ``pid`` into every directory (its later children are born there)."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(f"{pid}\n")

    def pids(self) -> list[int]:
        """The processes in the cgroup now."""
        found: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in (path / "cgroup.procs").read_text().split())
        return sorted(found)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the command for exceeding the memory bound."""
        path = self.paths.get("memory")
        if path is None:
            return False
        for name in ("memory.events", "memory.oom_control"):
            with contextlib.suppress(OSError, ValueError):
                for line in (path / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        return False

    def kill_all(self, deadline: float = 2.0) -> int:
        """SIGKILL every process in the cgroup until none is left; how many were killed."""
        killed: set[int] = set()
        for path in self.dirs:
            kill_file = path / "cgroup.kill"
            if kill_file.exists():
                before = self.pids()
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
                    killed.update(before)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)
        return len(killed)

    def remove(self) -> None:
        """Kill what is left and delete the directories."""
        self.kill_all()
        for path in self.dirs:
            _rmdir(path)


def _rmdir(path: Path) -> None:
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)  # zombies are still being reaped
    logger.warning("could not remove cgroup %s", path)


def remove_stale_cgroups(base: Path) -> int:
    """Remove command cgroups under ``base`` whose Podium process is gone (killing what they hold)."""
    removed = 0
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    own_ns = _pid_namespace()
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) == 5 and parts[0] == "cmd" and parts[2].isdigit():
            if parts[1] != own_ns:
                continue  # made by a Podium in another pid namespace: its pids mean nothing here
            owner, started = int(parts[2]), parts[3]
        elif len(parts) == 3 and parts[0] == "cmd" and parts[1].isdigit():
            owner, started = int(parts[1]), None  # the older naming
        else:
            continue
        alive = _start_time(owner)
        if alive is not None and (started is None or alive == started):
            continue  # its Podium still runs
        group = CommandCgroup({"stale": entry})
        killed = group.kill_all()
        _rmdir(entry)
        removed += 1
        logger.info("removed the cgroup %s left by a Podium process that ended (%d processes killed)", entry, killed)
    return removed


def open_command_cgroup(max_pids: int | None, memory_bytes: int | None) -> CommandCgroup | None:
    """A new cgroup with these bounds, or ``None`` when cgroups cannot be used here (not root, none mounted).

    Only controllers that are available are used: check :attr:`CommandCgroup.limits_pids` and
    :attr:`CommandCgroup.limits_memory`.
    """
    if os.geteuid() != 0:
        return None
    wanted = {"pids": max_pids, "memory": memory_bytes}
    name = f"cmd-{_pid_namespace()}-{os.getpid()}-{_start_time(os.getpid()) or 0}-{next(_counter)}"
    paths: dict[str, Path] = {}
    for controller, hierarchy in _hierarchies().items():
        path = _make(hierarchy, controller, name)
        if path is not None:
            paths[controller] = path
    if not paths:
        return None
    made = set(paths.values())
    for controller, path in list(paths.items()):
        value = wanted[controller]
        try:
            if value is not None:
                _set_limit(path, controller, value, version=2 if (path / "cgroup.controllers").exists() else 1)
        except OSError as exc:
            logger.debug("cannot set the %s limit in %s: %s", controller, path, exc)
            del paths[controller]
    for path in made - set(paths.values()):
        _rmdir(path)
    return CommandCgroup(paths) if paths else None


def _make(hierarchy: _Hierarchy, controller: str, name: str) -> Path | None:
    base = hierarchy.base()
    path = base / name
    try:
        if hierarchy.version == 2:
            _enable(hierarchy.mount, controller)
        base.mkdir(exist_ok=True)
        if hierarchy.version == 2:
            _enable(base, controller)
        remove_stale_cgroups(base)
        path.mkdir(exist_ok=hierarchy.version == 2)
    except OSError as exc:
        logger.debug("no %s cgroup under %s: %s", controller, base, exc)
        return None
    return path


def _enable(directory: Path, controller: str) -> None:
    control = directory / "cgroup.subtree_control"
    if controller not in control.read_text().split():
        control.write_text(f"+{controller}")


def _set_limit(path: Path, controller: str, value: int, version: int) -> None:
    if controller == "pids":
        (path / "pids.max").write_text(f"{value}\n")
        return
    if version == 2:
        (path / "memory.max").write_text(f"{value}\n")
        with contextlib.suppress(OSError):
            (path / "memory.swap.max").write_text("0\n")
        return
    (path / "memory.limit_in_bytes").write_text(f"{value}\n")
    with contextlib.suppress(OSError):  # swap accounting may be off
        (path / "memory.memsw.limit_in_bytes").write_text(f"{value}\n")
