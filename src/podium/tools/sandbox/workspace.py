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

Races and odd trees. Nothing is used by path name after a check: reads, writes, listings and the walks of
``find_files``/``search_files`` (:mod:`podium.tools.sandbox.walk`) all go through directory descriptors
opened with ``O_NOFOLLOW`` from the root, so a shell command that swaps a directory for a symlink in the
same turn makes a tool fail or skip that entry, never read the host. Resolving follows at most 40 symlinks,
without recursion (a chain of thousands is refused, not a ``RecursionError``). Names are shown and accepted
back as described in :mod:`podium.tools.sandbox.names` (quoted when they hold newlines or other controls).

The root itself is opened by its real path on each call: it is trusted not to be replaced (a sandboxed
command cannot rename the workspace mount), while everything below it is not.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from podium.tools.sandbox.names import QuotedPathError, quote_path, unquote_path
from podium.tools.sandbox.walk import DIR_FLAGS, read_fd

__all__ = ["Workspace", "WorkspaceError", "looks_binary"]

MAX_SYMLINKS = 40
"""Symlinks followed while resolving one path (as Linux does), so a long chain fails cleanly."""


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

        ``path`` may quote parts the way the tools show odd names (see :mod:`podium.tools.sandbox.names`).

        Raises:
            WorkspaceError: the path is empty, contains NUL, is badly quoted, has too many levels of symlinks,
                or resolves outside the workspace.
        """
        if not isinstance(path, str) or not path.strip():
            raise WorkspaceError("the path is empty; give a path relative to the workspace, e.g. 'src/app.py'")
        try:
            name = unquote_path(path)
        except QuotedPathError as exc:
            raise WorkspaceError(str(exc)) from None
        if "\x00" in name:
            raise WorkspaceError("the path contains a NUL character")
        try:
            os.fsencode(name)
        except UnicodeError:
            raise WorkspaceError(f"{path!r} cannot be a file name (it holds lone surrogate characters)") from None
        candidate = name if os.path.isabs(name) else os.path.join(self.root, name)
        real = _realpath(candidate, path)
        if self.contains(real):
            return Path(real)
        lexical = os.path.normpath(candidate)
        if self.contains(lexical):
            raise WorkspaceError(
                f"{path!r} goes through a symlink that points outside the workspace (to {quote_path(real)}); "
                "only paths inside the workspace can be used"
            )
        raise WorkspaceError(
            f"{path!r} is outside the workspace ({quote_path(str(self.root))}); use a path inside it, "
            "relative like 'src/app.py'"
        )

    def _target(self, path: str | Path) -> Path:
        """``path`` resolved; a :class:`~pathlib.Path` is taken as already resolved by :meth:`resolve`."""
        if isinstance(path, Path):
            if not self.contains(str(path)):
                raise WorkspaceError(f"{quote_path(str(path))!r} is outside the workspace")
            return path
        return self.resolve(path)

    def _shown(self, path: str | Path, real: Path) -> str:
        """How messages name ``path``: as the caller wrote it, or as the tools show ``real``."""
        return repr(path) if isinstance(path, str) else repr(self.show(real))

    def relative(self, real: str | os.PathLike[str]) -> str:
        """``real`` relative to the workspace (``.`` for the root)."""
        return os.path.relpath(os.fspath(real), self.root)

    def show(self, real: str | os.PathLike[str]) -> str:
        """``real`` relative to the workspace, as the tools show it (quoted when odd, see :func:`quote_path`)."""
        return quote_path(self.relative(real))

    # -- the openat walk

    def _root_fd(self) -> int:
        try:
            return os.open(self.root, DIR_FLAGS)
        except OSError as exc:
            raise WorkspaceError(f"cannot open the workspace {quote_path(str(self.root))}: {exc.strerror}") from None

    @contextlib.contextmanager
    def _parent_fd(self, real: Path, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """A descriptor of ``real``'s parent, reached from the root without following symlinks, and the name."""
        rel = self.relative(real)
        if rel == ".":
            raise WorkspaceError("that is the workspace directory itself, not a file")
        *dirs, name = rel.split(os.sep)
        fd = self._root_fd()
        try:
            for part in dirs:
                try:
                    nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise WorkspaceError(f"directory {self.show(real.parent)!r} does not exist") from None
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                        nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        raise self._error(real, exc) from None
                except OSError as exc:
                    raise self._error(real, exc) from None
                os.close(fd)
                fd = nxt
            yield fd, name
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def open_dir(self, path: str) -> Iterator[tuple[int, Path]]:
        """A descriptor of the directory ``path`` (reached without following symlinks) and its real path.

        Raises:
            WorkspaceError: the path is refused, missing, or not a directory.
        """
        real = self.resolve(path)
        if real == self.root:
            fd = self._root_fd()
        else:
            with self._parent_fd(real) as (dfd, name):
                try:
                    fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
                except FileNotFoundError:
                    raise WorkspaceError(f"{path!r} does not exist") from None
                except NotADirectoryError:
                    raise WorkspaceError(f"{path!r} is not a directory") from None
                except OSError as exc:
                    raise self._error(real, exc) from None
        try:
            yield fd, real
        finally:
            os.close(fd)

    def _error(self, real: Path, exc: OSError) -> WorkspaceError:
        shown = repr(self.show(real))
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return WorkspaceError(f"{shown} changed while being opened (a symlink appeared); refusing to follow it")
        if exc.errno == errno.EACCES:
            return WorkspaceError(f"permission denied: {shown}")
        return WorkspaceError(f"cannot open {shown}: {exc.strerror}")

    def _check_file(self, st: os.stat_result, real: Path) -> None:
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise WorkspaceError(f"{self.show(real)!r} is {kind}")
        if st.st_nlink > 1 and not self.allow_hardlinks:
            raise WorkspaceError(
                f"{self.show(real)!r} has {st.st_nlink} hard links; another link may be a file outside "
                "the workspace, so file tools refuse it (copy the file to make an independent one)"
            )

    # -- reading

    def stat(self, path: str | Path) -> os.stat_result:
        """``lstat`` of a path inside the workspace (raises :class:`WorkspaceError` when missing)."""
        real = self._target(path)
        if real == self.root:
            fd = self._root_fd()
            try:
                return os.fstat(fd)
            finally:
                os.close(fd)
        with self._parent_fd(real) as (dfd, name):
            try:
                return os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                raise WorkspaceError(f"{self._shown(path, real)} does not exist") from None
            except OSError as exc:
                raise self._error(real, exc) from None

    def read_bytes(self, path: str | Path) -> bytes:
        """The bytes of a regular file inside the workspace (at most ``max_read_bytes``).

        ``path`` is a path argument, or a :class:`~pathlib.Path` returned by :meth:`resolve` (used as it is, so
        that what a tool resolved once is what it reads; the same holds for the other methods).
        """
        data = self._read(path, missing_ok=False)
        assert data is not None
        return data

    def read_existing(self, path: str | Path) -> bytes | None:
        """Like :meth:`read_bytes`, but ``None`` when the file does not exist."""
        return self._read(path, missing_ok=True)

    def _read(self, path: str | Path, *, missing_ok: bool) -> bytes | None:
        real = self._target(path)
        shown = self._shown(path, real)
        with self._parent_fd(real) as (dfd, name):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
            except FileNotFoundError:
                if missing_ok:
                    return None
                raise WorkspaceError(f"{shown} does not exist") from None
            except OSError as exc:
                raise self._error(real, exc) from None
        try:
            st = os.fstat(fd)
            self._check_file(st, real)
            if st.st_size > self.max_read_bytes:
                raise WorkspaceError(
                    f"{shown} is {st.st_size} bytes, over the {self.max_read_bytes}-byte read limit; "
                    "search it with search_files, or read parts with the shell (head, sed -n)"
                )
            data = read_fd(fd, self.max_read_bytes + 1)
            if len(data) > self.max_read_bytes:
                raise WorkspaceError(f"{shown} grew past the {self.max_read_bytes}-byte read limit while read")
            return data
        finally:
            os.close(fd)

    def read_text(self, path: str) -> str:
        """The text of a UTF-8 file inside the workspace; binary files are refused with their size."""
        return self.decode(path, self.read_bytes(path))

    def decode(self, path: str, data: bytes) -> str:
        """``data`` (the content of ``path``) as text, or :class:`WorkspaceError` when it is binary."""
        if looks_binary(data):
            raise WorkspaceError(f"{path!r} is a binary file ({len(data)} bytes); file tools read text only")
        return data.decode("utf-8", "replace")

    # -- writing

    def write_bytes(self, path: str | Path, data: bytes, *, create_dirs: bool = True) -> bool:
        """Write a file atomically (temporary file, then rename); whether it was created. Never follows a symlink.

        An existing file keeps its permission bits. Parent directories are created when ``create_dirs``.
        """
        if len(data) > self.max_write_bytes:
            raise WorkspaceError(f"the content is {len(data)} bytes, over the {self.max_write_bytes}-byte write limit")
        real = self._target(path)
        with self._parent_fd(real, create=create_dirs) as (dfd, name):
            mode = 0o644
            created = True
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._error(real, exc) from None
            else:
                self._check_file(st, real)
                mode = stat.S_IMODE(st.st_mode)
                created = False
            try:
                _replace(dfd, name, data, mode)
            except OSError as exc:
                raise WorkspaceError(f"cannot write {self.show(real)!r}: {exc.strerror}") from None
        return created

    def write_text(self, path: str | Path, text: str, *, create_dirs: bool = True) -> bool:
        """Write UTF-8 text (see :meth:`write_bytes`)."""
        return self.write_bytes(path, text.encode("utf-8"), create_dirs=create_dirs)

    # -- directories

    def list_dir(self, path: str = ".") -> list[Entry]:
        """The entries of a directory inside the workspace, sorted by name; symlinks are not followed."""
        entries = []
        with self.open_dir(path) as (fd, _), os.scandir(fd) as it:
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
        return sorted(entries, key=lambda e: e.name)


def _replace(dfd: int, name: str, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file beside ``name`` in ``dfd`` and rename it over ``name``."""
    tmp = f".podium-{os.getpid()}-{secrets.token_hex(6)}.tmp"  # short: ``name`` may be 255 bytes already
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


def _realpath(path: str, shown: str) -> str:
    """:func:`os.path.realpath` of the absolute ``path``, without recursion and following at most 40 symlinks."""
    pending = path.split("/")[::-1]
    resolved = ""  # "" is "/"
    links = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            resolved = resolved.rpartition("/")[0]
            continue
        candidate = resolved + "/" + name
        try:
            st = os.lstat(candidate)
        except OSError:  # missing (a file about to be created) or unreadable: taken as it is, like realpath
            resolved = candidate
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved = candidate
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise WorkspaceError(f"{shown!r} goes through more than {MAX_SYMLINKS} symlinks; use the real path")
        try:
            target = os.readlink(candidate)
        except OSError:
            resolved = candidate
            continue
        if target.startswith("/"):
            resolved = ""
        pending.extend(target.split("/")[::-1])
    return resolved or "/"
