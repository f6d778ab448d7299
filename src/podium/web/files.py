"""A read-only view of the workspace: list a directory, read a file; nothing outside it, no symlink followed.

A path is relative to the workspace, given with ``/``. It is refused when it is absolute, holds ``..``, a
NUL byte or a backslash, or when any part of it is a symbolic link (even one that points inside: the link
could change between the check and the read). The final open uses ``O_NOFOLLOW`` and the opened file is
checked to be a regular file (a FIFO or a device is refused without blocking). Known secrets (the API keys
Podium holds) are scrubbed from the text shown. Nothing here writes, renames or changes the workspace.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from podium.exceptions import UserError
from podium.secrets import scrub

__all__ = ["MAX_FILE_BYTES", "MAX_LISTING", "FileRefused", "list_dir", "read_file", "safe_path"]

MAX_FILE_BYTES = 1024 * 1024
"""The most of a file the view returns (the rest is cut, with ``truncated: true``)."""

MAX_LISTING = 2000
"""The most entries of one directory listed."""

_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


class FileRefused(UserError):
    """The path is outside the workspace, a symlink, or not something the view shows."""


def safe_path(workspace: Path, relative: str) -> Path:
    """``relative`` inside ``workspace`` (resolved), or :class:`FileRefused` saying why not."""
    if "\x00" in relative or "\\" in relative:
        raise FileRefused("a path may not hold NUL bytes or backslashes")
    if relative.startswith("/") or (len(relative) > 1 and relative[1] == ":"):
        raise FileRefused("give a path relative to the workspace, not an absolute one")
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FileRefused("'..' is not allowed: the view shows the workspace only")
    root = workspace.resolve()
    current = root
    for part in parts:
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            raise FileRefused(f"{relative!r} does not exist in the workspace") from None
        except OSError as exc:
            raise FileRefused(f"{relative!r} cannot be read: {exc.strerror or exc}") from None
        if stat.S_ISLNK(info.st_mode):
            raise FileRefused(f"{'/'.join(parts)!r} goes through a symbolic link; the view does not follow links")
    if not current.resolve().is_relative_to(root):  # cannot happen without links; kept as the last word
        raise FileRefused(f"{relative!r} is outside the workspace")
    return current


def list_dir(workspace: Path, relative: str) -> dict[str, Any]:
    """The entries of a directory: name, kind (``dir``, ``file``, ``link``, ``other``) and size."""
    path = safe_path(workspace, relative)
    if not path.is_dir():
        raise FileRefused(f"{relative!r} is not a directory")
    entries: list[dict[str, Any]] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                info = entry.stat(follow_symlinks=False)
                kind = (
                    "link"
                    if stat.S_ISLNK(info.st_mode)
                    else "dir"
                    if stat.S_ISDIR(info.st_mode)
                    else "file"
                    if stat.S_ISREG(info.st_mode)
                    else "other"
                )
                entries.append({"name": entry.name, "kind": kind, "size": info.st_size if kind == "file" else None})
                if len(entries) >= MAX_LISTING:
                    break
    except OSError as exc:
        raise FileRefused(f"{relative!r} cannot be listed: {exc.strerror or exc}") from None
    entries.sort(key=lambda e: (e["kind"] != "dir", e["name"].lower()))
    return {"path": "/".join(p for p in relative.split("/") if p not in ("", ".")), "entries": entries}


def read_file(workspace: Path, relative: str) -> dict[str, Any]:
    """A file's text (UTF-8, invalid bytes replaced), at most :data:`MAX_FILE_BYTES`; images as base64."""
    path = safe_path(workspace, relative)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileRefused(f"{relative!r} cannot be opened: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{relative!r} is not a regular file")
        data = handle.read(MAX_FILE_BYTES + 1)
    truncated = len(data) > MAX_FILE_BYTES
    data = data[:MAX_FILE_BYTES]
    out: dict[str, Any] = {"path": relative, "size": info.st_size, "truncated": truncated}
    media = _IMAGE_TYPES.get(path.suffix.lower())
    if media is not None and not truncated:
        import base64

        out.update(kind="image", media_type=media, data=base64.b64encode(data).decode("ascii"))
    elif b"\x00" in data[:8192]:
        out.update(kind="binary", text="")
    else:
        out.update(kind="text", text=scrub(data.decode("utf-8", "replace")))
    return out
