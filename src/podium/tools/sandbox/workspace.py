"""Workspace confinement for the file tools: real paths, no escapes, no following a swapped symlink.

A path given by the model is checked twice:

1. **Resolved**: made absolute against the workspace, every symlink followed (:func:`os.path.realpath`), and the
   result must be the workspace or under it, compared by path components, so ``ws2`` is not inside ``ws``,
   ``a/../../x`` and ``/proc/self/root/...`` resolve to where they really point, and a symlink inside the
   workspace that points out is refused.
2. **Opened component by component** from a descriptor of the workspace root with ``O_NOFOLLOW`` (the
   ``openat`` walk), so a symlink swapped in between the check and the open is refused rather than
   followed, and a final-component symlink is never followed.

Opened files must be regular files (not FIFOs or devices), within the size limits, and, unless the policy
allows it, have a single hard link: a second link could be a file outside the workspace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace", "WorkspaceError", "looks_binary"]


class WorkspaceError(ValueError):
    """A path was refused or a file operation failed; the message is meant for the model."""


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` (the start of a file) is binary: a NUL byte, or not UTF-8."""
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(data) <= 8192)
    except UnicodeDecodeError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry, as ``list_directory`` shows it."""

    name: str
    """File name."""
    kind: str
    """``file``, ``dir``, ``link`` or ``other``."""
    size: int
    """Size in bytes (files)."""
    target: str | None = None
    """Where a symlink points."""


class Workspace:
    """A directory that file tools are confined to.

    Example::

        ws = Workspace("./project")
        ws.write_text("notes/todo.md", "- [ ] ship")
        print(ws.read_text("notes/todo.md"))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_read_bytes: int = 2 * 1024 * 1024,
        max_write_bytes: int = 8 * 1024 * 1024,
        allow_hardlinks: bool = False,
    ) -> None:
        """Confine to ``root`` (which must exist and be a directory other than ``/``)."""
        real = os.path.realpath(os.fspath(root))
        if not os.path.isdir(real):
            raise WorkspaceError(f"the workspace {os.fspath(root)!r} is not an existing directory")
        if real == os.path.sep:
            raise WorkspaceError("the workspace cannot be '/': choose a project directory")
        self.root = Path(real)
        self.max_read_bytes = max_read_bytes
        self.max_write_bytes = max_write_bytes
        self.allow_hardlinks = allow_hardlinks

    # -- resolving

    def contains(self, real: str) -> bool:
        """Whether the real path ``real`` is the workspace or inside it (by components, not string prefix)."""
        root = str(self.root)
        return real == root or real.startswith(root + os.sep)

    def resolve(self, path: str) -> Path:
        """The real path for ``path`` (relative to the workspace, or absolute inside it), or raise.

        Raises:
            WorkspaceError: the path is empty, contains NUL, or resolves outside the workspace.
        """
        if not isinstance(path, str) or not path.strip():
            raise WorkspaceError("the path is empty; give a path relative to the workspace, e.g. 'src/app.py'")
        if "\x00" in path:
            raise WorkspaceError("the path contains a NUL character")
        candidate = path if os.path.isabs(path) else os.path.join(self.root, path)
        real = os.path.realpath(candidate)
        if self.contains(real):
            return Path(real)
        lexical = os.path.normpath(candidate)
        if self.contains(lexical):
            raise WorkspaceError(
                f"{path!r} goes through a symlink that points outside the workspace (to {real}); "
                "only paths inside the workspace can be used"
            )
        raise WorkspaceError(
            f"{path!r} is outside the workspace ({self.root}); use a path inside it, relative like 'src/app.py'"
        )

    def relative(self, real: str | os.PathLike[str]) -> str:
        """``real`` relative to the workspace (``.`` for the root)."""
        return os.path.relpath(os.fspath(real), self.root)

    # -- the openat walk

    @contextlib.contextmanager
    def _parent_fd(self, real: Path, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """A descriptor of ``real``'s parent, reached from the root without following symlinks, and the name."""
        rel = self.relative(real)
        if rel == ".":
            raise WorkspaceError("that is the workspace directory itself, not a file")
        *dirs, name = rel.split(os.sep)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in dirs:
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise WorkspaceError(f"directory {self.relative(real.parent)!r} does not exist") from None
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    raise _walk_error(real, exc) from None
                os.close(fd)
                fd = nxt
            yield fd, name
        finally:
            os.close(fd)

    def _check_file(self, st: os.stat_result, real: Path) -> None:
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise WorkspaceError(f"{self.relative(real)!r} is {kind}")
        if st.st_nlink > 1 and not self.allow_hardlinks:
            raise WorkspaceError(
                f"{self.relative(real)!r} has {st.st_nlink} hard links; another link may be a file outside "
                "the workspace, so file tools refuse it (copy the file to make an independent one)"
            )

    # -- reading

    def stat(self, path: str) -> os.stat_result:
        """``lstat`` of a path inside the workspace (raises :class:`WorkspaceError` when missing)."""
        real = self.resolve(path)
        try:
            return os.lstat(real)
        except FileNotFoundError:
            raise WorkspaceError(f"{path!r} does not exist") from None

    def read_bytes(self, path: str) -> bytes:
        """The bytes of a regular file inside the workspace (at most ``max_read_bytes``)."""
        real = self.resolve(path)
        with self._parent_fd(real) as (dfd, name):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
            except FileNotFoundError:
                raise WorkspaceError(f"{path!r} does not exist") from None
            except OSError as exc:
                raise _walk_error(real, exc) from None
        try:
            st = os.fstat(fd)
            self._check_file(st, real)
            if st.st_size > self.max_read_bytes:
                raise WorkspaceError(
                    f"{path!r} is {st.st_size} bytes, over the {self.max_read_bytes}-byte read limit; "
                    "search it with search_files, or read parts with the shell (head, sed -n)"
                )
            chunks = []
            remaining = self.max_read_bytes + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            if len(data) > self.max_read_bytes:
                raise WorkspaceError(f"{path!r} grew past the {self.max_read_bytes}-byte read limit while read")
            return data
        finally:
            os.close(fd)

    def read_text(self, path: str) -> str:
        """The text of a UTF-8 file inside the workspace; binary files are refused with their size."""
        data = self.read_bytes(path)
        if looks_binary(data):
            raise WorkspaceError(f"{path!r} is a binary file ({len(data)} bytes); file tools read text only")
        return data.decode("utf-8", "replace")

    # -- writing

    def write_bytes(self, path: str, data: bytes, *, create_dirs: bool = True) -> bool:
        """Write a file atomically (temporary file, then rename); whether it was created. Never follows a symlink.

        An existing file keeps its permission bits. Parent directories are created when ``create_dirs``.
        """
        if len(data) > self.max_write_bytes:
            raise WorkspaceError(f"the content is {len(data)} bytes, over the {self.max_write_bytes}-byte write limit")
        real = self.resolve(path)
        with self._parent_fd(real, create=create_dirs) as (dfd, name):
            mode = 0o644
            created = True
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                self._check_file(st, real)
                mode = stat.S_IMODE(st.st_mode)
                created = False
            tmp = f".{name}.podium-{os.getpid()}-{id(data) & 0xFFFFFF:x}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
                os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                raise
        return created

    def write_text(self, path: str, text: str, *, create_dirs: bool = True) -> bool:
        """Write UTF-8 text (see :meth:`write_bytes`)."""
        return self.write_bytes(path, text.encode("utf-8"), create_dirs=create_dirs)

    # -- directories

    def list_dir(self, path: str = ".") -> list[Entry]:
        """The entries of a directory inside the workspace, sorted by name; symlinks are not followed."""
        real = self.resolve(path)
        if real == self.root:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            with self._parent_fd(real) as (dfd, name):
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                except FileNotFoundError:
                    raise WorkspaceError(f"{path!r} does not exist") from None
                except OSError as exc:
                    raise _walk_error(real, exc) from None
        entries = []
        try:
            with os.scandir(fd) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISLNK(st.st_mode):
                        try:
                            target = os.readlink(e.name, dir_fd=fd)
                        except OSError:
                            target = "?"
                        entries.append(Entry(e.name, "link", 0, target))
                    elif stat.S_ISDIR(st.st_mode):
                        entries.append(Entry(e.name, "dir", 0))
                    elif stat.S_ISREG(st.st_mode):
                        entries.append(Entry(e.name, "file", st.st_size))
                    else:
                        entries.append(Entry(e.name, "other", 0))
        finally:
            os.close(fd)
        return sorted(entries, key=lambda e: e.name)


def _walk_error(real: Path, exc: OSError) -> WorkspaceError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return WorkspaceError(f"{real} changed while being opened (a symlink appeared); refusing to follow it")
    if exc.errno == errno.EACCES:
        return WorkspaceError(f"permission denied: {real}")
    return WorkspaceError(f"cannot open {real}: {exc.strerror}")
