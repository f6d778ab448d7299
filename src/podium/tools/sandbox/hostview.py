"""What of the host a bubblewrap sandbox shows: the read-only trees, and what inside them stays hidden.

Two views (:attr:`~podium.tools.sandbox.policy.SandboxPolicy.view`):

- ``system`` (the default) is an allow-list: only :data:`~podium.tools.sandbox.policy.SYSTEM_PATHS`
  (programs, libraries, ``/etc``, ``/opt``), Podium's own interpreter and the policy's ``readable_paths``.
  There is no ``/home``, ``/root``, ``/run``, ``/var`` (but an empty ``/var/tmp``), ``/srv``, ``/mnt`` ...
- ``host`` shows all of ``/`` but the policy's ``hidden_paths``.

In both, :func:`masked_entries` hides inside ``/etc`` and ``/opt`` what a normal user could not read (files
without the "others may read" bit, directories others may not enter: ``/etc/shadow``, ``/etc/ssl/private``,
a database's password file), so that a command run by root sees no more than any user would, and every unix
socket and FIFO (a way to talk to a host service even without network). The scan is done for every command
(about 30 ms for ``/etc`` and ``/opt`` of a Debian machine), so a socket made a moment ago is hidden too; a tree
too large to scan completely is not shown at all (fail closed) and a warning says how to show it anyway
(``readable_paths``, which is shown as it is, without a scan).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass

__all__ = ["MAX_SCAN_ENTRIES", "SCANNED_TREES", "Masks", "masked_entries"]

logger = logging.getLogger("podium.tools.sandbox")

MAX_SCAN_ENTRIES = 100_000
"""Entries scanned per tree before giving up on showing it."""

SCANNED_TREES = ("/etc", "/opt")
"""Trees whose unreadable entries, sockets and FIFOs are hidden (in both views)."""


@dataclass(frozen=True, slots=True)
class Masks:
    """What to cover inside one tree."""

    files: tuple[str, ...]
    """Files, sockets and FIFOs to cover with an unreadable node."""
    dirs: tuple[str, ...]
    """Directories to cover with an empty read-only directory."""
    complete: bool
    """Whether the scan finished (if not, the tree must not be shown)."""


def _others_can_read(st: os.stat_result) -> bool:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return bool(mode & stat.S_IROTH) and bool(mode & stat.S_IXOTH)
    return bool(mode & stat.S_IROTH)


_warned: set[str] = set()


def masked_entries(tree: str, limit: int = MAX_SCAN_ENTRIES) -> Masks:
    """The entries of ``tree`` to hide; iterative (no recursion), symlinks not followed."""
    files: list[str] = []
    dirs: list[str] = []
    if not os.path.isdir(tree):
        return Masks((), (), True)
    stack = [tree]
    seen = 0
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            dirs.append(directory)  # cannot be listed: hide it
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                if tree not in _warned:
                    _warned.add(tree)
                    logger.warning(
                        "%s has more than %d entries: it is not shown in the sandbox (add it to the policy's "
                        "readable_paths to show it as it is)",
                        tree,
                        limit,
                    )
                return Masks(tuple(files), tuple(dirs), False)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                continue
            if stat.S_ISDIR(mode):
                if not _others_can_read(st):
                    dirs.append(entry.path)
                else:
                    stack.append(entry.path)
            elif stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode) or not _others_can_read(st):
                files.append(entry.path)
    return Masks(tuple(sorted(files)), tuple(sorted(dirs)), True)
