"""The system-call filter every sandboxed command runs under, compiled with libseccomp.

The filter allows everything except a short list, chosen for what a command without capabilities could
still do to outlive or widen its sandbox:

- **setuid/setgid bits**: ``chmod``, ``fchmod``, ``fchmodat``, ``fchmodat2``, and creating a file, directory or
  node with ``open``, ``openat``, ``creat``, ``mkdir``, ``mkdirat``, ``mknod``, ``mknodat`` fail with ``EPERM``
  when the mode has ``S_ISUID`` or ``S_ISGID``. (The owner of a file may set these bits without any
  capability, and a root-owned setuid file left in the workspace would be a way into the host.)
  ``openat2`` (its mode is in a structure the filter cannot read) fails with ``ENOSYS``, so C libraries
  fall back to ``openat``.
- **new user namespaces**: ``clone`` and ``unshare`` with ``CLONE_NEWUSER`` fail with ``EPERM``; ``clone3``
  (its flags are in a structure) fails with ``ENOSYS``, so C libraries fall back to ``clone``.
- **mounts**: ``mount``, ``umount2``, ``pivot_root``, ``chroot``, ``move_mount``, ``open_tree``, ``fsopen``,
  ``fsmount``, ``fsconfig``, ``fspick``, ``mount_setattr`` fail with ``EPERM`` (they also need a capability
  the command does not have).
- **kernel surfaces that sandboxes close by habit**: ``io_uring_setup`` (its operations bypass this filter),
  ``keyctl``, ``add_key``, ``request_key`` (kernel keyrings are not namespaced), ``userfaultfd``, ``bpf``,
  ``perf_event_open``, and the ``TIOCSTI``/``TIOCLINUX`` ioctls (typing into a terminal).

The filter is for the machine's native architecture; a system call made through another ABI (32-bit
``int 0x80`` on x86-64, x32) kills the process. libseccomp (``libseccomp.so.2``, part of every systemd-based
distribution) is loaded with :mod:`ctypes`; where it is missing, :func:`seccomp_program` says why and the
sandboxes say that the filter is not applied.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

__all__ = ["FILTERED_SYSCALLS", "seccomp_program", "seccomp_unavailable"]


_ALLOW = 0x7FFF0000
_CMP_MASKED_EQ = 7
_FLTATR_CTL_NNP = 3
_S_ISUID = 0o4000
_S_ISGID = 0o2000
_CLONE_NEWUSER = 0x10000000
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C

# syscall -> index of its mode argument (setuid/setgid bits refused)
_MODE_ARG = {
    "chmod": 1,
    "fchmod": 1,
    "fchmodat": 2,
    "fchmodat2": 2,
    "open": 2,
    "openat": 3,
    "creat": 1,
    "mkdir": 1,
    "mkdirat": 2,
    "mknod": 1,
    "mknodat": 2,
}
_ENOSYS = ("openat2", "clone3", "io_uring_setup")
_EPERM = (
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "bpf",
    "perf_event_open",
)
# Numbers of system calls newer than some libseccomp releases know; the same on every architecture
# (the unified numbering used for all calls added since Linux 5.1).
_UNIFIED_NUMBERS = {
    "io_uring_setup": 425,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "openat2": 437,
    "mount_setattr": 442,
    "fchmodat2": 452,
}

FILTERED_SYSCALLS: tuple[str, ...] = (*_MODE_ARG, *_ENOSYS, *_EPERM, "clone", "unshare", "ioctl")
"""Every system call the filter has a rule for."""


class _ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | str:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        return f"libseccomp is not installed ({exc}); install it with `apt-get install libseccomp2`"
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_release.argtypes = (ctypes.c_void_p,)
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    )
    lib.seccomp_attr_set.restype = ctypes.c_int
    lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
    return lib


def _number(lib: ctypes.CDLL, name: str) -> int | None:
    number = int(lib.seccomp_syscall_resolve_name(name.encode()))
    if number >= 0:
        return number
    return _UNIFIED_NUMBERS.get(name)  # None: the call does not exist on this architecture (e.g. open on arm64)


def _masked(arg: int, mask: int) -> _ArgCmp:
    return _ArgCmp(arg, _CMP_MASKED_EQ, mask, mask)


def _equal(arg: int, value: int) -> _ArgCmp:
    return _ArgCmp(arg, _CMP_MASKED_EQ, 0xFFFFFFFF, value)


def _rules() -> list[tuple[str, int, _ArgCmp | None]]:
    eperm, enosys = _errno_action(errno.EPERM), _errno_action(errno.ENOSYS)
    rules: list[tuple[str, int, _ArgCmp | None]] = []
    for name, arg in _MODE_ARG.items():
        rules.append((name, eperm, _masked(arg, _S_ISUID)))
        rules.append((name, eperm, _masked(arg, _S_ISGID)))
    rules += [(name, enosys, None) for name in _ENOSYS]
    rules += [(name, eperm, None) for name in _EPERM]
    rules.append(("clone", eperm, _masked(0, _CLONE_NEWUSER)))
    rules.append(("unshare", eperm, _masked(0, _CLONE_NEWUSER)))
    rules.append(("ioctl", eperm, _equal(1, _TIOCSTI)))
    rules.append(("ioctl", eperm, _equal(1, _TIOCLINUX)))
    return rules


@functools.lru_cache(maxsize=1)
def _compile() -> bytes | str:
    lib = _library()
    if isinstance(lib, str):
        return lib
    ctx = lib.seccomp_init(_ALLOW)
    if not ctx:
        return "libseccomp could not create a filter"
    try:
        lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 1)
        for name, action, cmp in _rules():
            number = _number(lib, name)
            if number is None:
                continue
            args = (_ArgCmp * 1)(cmp) if cmp is not None else None
            rc = lib.seccomp_rule_add_array(ctx, action, number, 1 if cmp is not None else 0, args)
            if rc < 0:
                return f"libseccomp refused the rule for {name}: {os.strerror(-rc)}"
        fd = os.memfd_create("podium-seccomp", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                return f"libseccomp could not export the filter: {os.strerror(-rc)}"
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def seccomp_program() -> bytes | None:
    """The compiled filter (classic BPF, ``struct sock_filter`` records), or ``None`` when unavailable."""
    program = _compile()
    return program if isinstance(program, bytes) else None


def seccomp_unavailable() -> str | None:
    """Why the filter cannot be built here, or ``None`` when it can."""
    program = _compile()
    return program if isinstance(program, str) else None
