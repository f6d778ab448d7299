"""What a sandboxed command may do: resource limits and the sandbox policy.

A :class:`SandboxPolicy` is plain, frozen data so that an approval policy (or a person) can read it, and so
that ``podium sandbox run`` can show exactly what the agent's shell tool would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, TypeAlias

__all__ = ["HOST_HIDDEN_PATHS", "SYSTEM_PATHS", "BackendName", "Limits", "SandboxPolicy", "ViewName"]

BackendName: TypeAlias = Literal["auto", "bubblewrap", "process"]
ViewName: TypeAlias = Literal["system", "host"]

SYSTEM_PATHS: tuple[str, ...] = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/nix/store",
)
"""What the ``system`` view shows, read-only, where it exists: programs, libraries and their configuration.
In ``/etc``, entries other users could not read (``/etc/shadow``, ``/etc/ssl/private``, mode 0600 files),
unix sockets and FIFOs are hidden. Software installed elsewhere (``/opt/...``) is shown by adding it to
``readable_paths``."""

HOST_HIDDEN_PATHS: tuple[str, ...] = (
    "/root",
    "/home",
    "/run",
    "/var/run",
    "/var/lib",
    "/var/log",
    "/var/spool",
    "/var/mail",
    "/var/cache",
    "/media",
    "/mnt",
    "/srv",
    "/boot",
    "/lost+found",
)
"""What the ``host`` view hides (user data, service state, and the trees where services keep unix sockets)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for one command. ``None`` means "no limit" for the rlimit-based ones.

    The rlimits are set in the sandboxed process itself, right before the command is executed, so they
    apply to the command and every process it starts (each process has its own CPU and memory budget;
    the process limit counts them all).
    """

    wall_seconds: float = 120.0
    """Wall-clock seconds before the whole process group is killed (SIGTERM, then SIGKILL)."""
    cpu_seconds: int | None = 60
    """CPU seconds per process (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL one second later."""
    memory_mb: int | None = 2048
    """Memory in MiB: the address space of each process (RLIMIT_AS: allocations past it fail) and, where a
    memory cgroup can be made (Podium runs as root), the memory of all the command's processes together,
    page cache and tmpfs included (the kernel kills the command past it)."""
    max_processes: int | None = 128
    """Processes (and threads) the command may have at once (RLIMIT_NPROC, or a pids cgroup as root)."""
    tmp_mb: int | None = 512
    """Size of each private tmpfs the bubblewrap back-end mounts (``/tmp``, ``/dev/shm``), in MiB."""
    disk_mb: int | None = 4096
    """How much the command may add to the workspace's file system, in MiB, and 64 files (inodes) per MiB:
    the file system's used space and inodes are checked every 50 ms while the command runs and the command
    is killed past them (so other writers on that file system count too, and a fast writer may overshoot by
    one interval)."""
    file_size_mb: int | None = 1024
    """Largest file the command may write, in MiB (RLIMIT_FSIZE): SIGXFSZ past it."""
    open_files: int | None = 512
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    max_output_chars: int = 30_000
    """Characters of stdout (and of stderr) kept: the head and the tail, with the cut marked."""
    output_kill_bytes: int = 64 * 1024 * 1024
    """Bytes of output (stdout and stderr together) after which the command is killed."""
    kill_grace: float = 1.0
    """Seconds between SIGTERM and SIGKILL when the wall timeout fires."""

    def __post_init__(self) -> None:
        if self.wall_seconds <= 0:
            raise ValueError(f"wall_seconds must be positive, got {self.wall_seconds}")
        for name in ("cpu_seconds", "memory_mb", "max_processes", "file_size_mb", "open_files", "tmp_mb", "disk_mb"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit), got {value}")
        if self.memory_mb is not None and self.memory_mb < 32:
            raise ValueError(f"memory_mb={self.memory_mb} is too small to start a program; use at least 32")
        if self.max_output_chars < 100:
            raise ValueError("max_output_chars must be at least 100")

    def replace(self, **changes: float | int | None) -> Limits:
        """A copy with some limits changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _empty_env() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SandboxPolicy:
    """How shell and Python commands run, and what the file tools allow.

    Example::

        policy = SandboxPolicy(allow_network=False, limits=Limits(wall_seconds=30, memory_mb=1024))
    """

    backend: BackendName = "auto"
    """``bubblewrap`` (isolation), ``process`` (limits only, NOT isolation), or ``auto`` (bubblewrap when it works)."""
    allow_network: bool = False
    """Whether commands (and the fetch tool) may use the network. Off: bubblewrap gives an empty network namespace."""
    limits: Limits = field(default_factory=Limits)
    """Resource limits per command."""
    view: ViewName = "system"
    """What of the host commands see, read-only, under bubblewrap: ``system`` (an allow-list:
    :data:`SYSTEM_PATHS`, Podium's interpreter, :attr:`readable_paths`) or ``host`` (all of ``/`` but
    :attr:`hidden_paths`). Either way the workspace is the only writable host directory."""
    hidden_paths: tuple[str, ...] = HOST_HIDDEN_PATHS
    """With ``view="host"``: directories replaced by an empty read-only directory (the workspace and
    :attr:`readable_paths` stay visible even if under one)."""
    readable_paths: tuple[str, ...] = ()
    """Extra host directories visible read-only under bubblewrap (e.g. ``/opt/conda``, a data set)."""
    writable_paths: tuple[str, ...] = ()
    """Extra directories mounted writable inside bubblewrap, besides the workspace (default: none)."""
    readonly_in_workspace: tuple[str, ...] = ()
    """Paths relative to the workspace that bubblewrap mounts read-only when they exist, e.g. ``(".git",
    ".envrc")``: code that an allowed command runs (tests, a Makefile) then cannot plant a git hook. Commands
    that must write there (``git commit``) fail with "Read-only file system"."""
    env: Mapping[str, str] = field(default_factory=_empty_env)
    """Extra environment variables for commands."""
    pass_env: tuple[str, ...] = ("LANG", "LC_ALL", "TZ")
    """Names of variables copied from Podium's environment. Nothing else is (API keys stay out)."""
    python: str | None = None
    """Interpreter for the Python tool; Podium's own interpreter when ``None``."""
    shell: str = "/bin/bash"
    """Shell that runs shell commands (``shell -c command``); ``/bin/sh`` is used if it does not exist."""
    max_read_bytes: int = 2 * 1024 * 1024
    """Largest file the file tools read."""
    max_write_bytes: int = 8 * 1024 * 1024
    """Largest content the file tools write."""
    allow_hardlinks: bool = False
    """Let file tools open files with more than one hard link (another link may be outside the workspace)."""
    allow_fetch: bool = False
    """Offer the fetch-URL tool (it also needs ``allow_network``)."""

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "bubblewrap", "process"):
            raise ValueError(f"backend must be 'auto', 'bubblewrap' or 'process', got {self.backend!r}")
        if self.view not in ("system", "host"):
            raise ValueError(f"view must be 'system' or 'host', got {self.view!r}")
        for p in self.readonly_in_workspace:
            if p.startswith("/") or ".." in p.split("/"):
                raise ValueError(f"readonly_in_workspace paths are relative to the workspace, got {p!r}")
        for p in (*self.hidden_paths, *self.readable_paths, *self.writable_paths):
            if not p.startswith("/"):
                raise ValueError(f"sandbox paths must be absolute, got {p!r}")
        if not isinstance(self.env, MappingProxyType):
            object.__setattr__(self, "env", MappingProxyType(dict(self.env)))

    def with_limits(self, **changes: float | int | None) -> SandboxPolicy:
        """A copy with some limits changed, e.g. ``policy.with_limits(wall_seconds=10)``."""
        return replace(self, limits=self.limits.replace(**changes))
