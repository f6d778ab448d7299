"""Paths where a write can run code later: version-control internals, hook, start-up and tool files.

Writing ``.git/config`` or ``.git/hooks/pre-commit`` is code execution the next time anyone runs git
there; ``.envrc``, ``.vscode/tasks.json`` or ``.bashrc`` run when a person enters the directory, opens
the editor or starts a shell. Inside Podium's sandbox ``HOME`` is the workspace, so ``~/.gitconfig`` and
``~/.config/git/config`` are workspace files too, read by every ``git`` the agent runs.

:func:`protected_reason` says why a path is protected. A path is protected when any component of it,
as written or after resolving symlinks and ``..``, matches :data:`PROTECTED_NAMES` (case-insensitively,
ignoring trailing dots and spaces), when it lies inside a directory git would take for a repository
(``HEAD``, ``objects/``, ``refs/``) or inside a Python virtual environment (``pyvenv.cfg``), or when the
file has other hard links. ``Makefile``, ``package.json`` scripts, ``conftest.py`` and the like are not
protected: running ``make`` or ``pytest`` already means running the project's code.
"""

from __future__ import annotations

import fnmatch
import os
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["PROTECTED_CATEGORIES", "PROTECTED_NAMES", "protected_reason"]

PROTECTED_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "version-control internals": (
        ".git",
        ".hg",
        ".svn",
        ".jj",
        ".bzr",
        ".sl",
        "_darcs",
        ".pijul",
        ".gitconfig",
        ".git-credentials",
        ".hgrc",
    ),
    "git hook managers": (
        ".husky",
        ".githooks",
        ".pre-commit-config.yaml",
        ".pre-commit-hooks.yaml",
        "lefthook.yml",
        "lefthook.yaml",
        ".lefthook.yml",
        ".lefthook.yaml",
        "lefthook-local.yml",
        ".lefthook",
        ".overcommit.yml",
    ),
    "environment loaders": (".envrc", ".env", "mise.toml", ".mise.toml", "mise.*.toml", ".mise.*.toml"),
    "editor and IDE settings": (
        ".vscode",
        ".idea",
        ".devcontainer",
        ".zed",
        ".helix",
        ".nvim.lua",
        ".nvimrc",
        ".exrc",
        ".vimrc",
        ".gvimrc",
        ".emacs",
        ".emacs.d",
        ".dir-locals.el",
        ".dir-locals-2.el",
    ),
    "shell start-up files": (
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".bash_logout",
        ".profile",
        ".zshrc",
        ".zshenv",
        ".zprofile",
        ".zlogin",
        ".zlogout",
        ".kshrc",
        ".mkshrc",
        ".cshrc",
        ".tcshrc",
        ".login",
        ".logout",
        ".inputrc",
    ),
    "per-user tool configuration (HOME is the workspace in the sandbox)": (
        ".config",
        ".local",
        ".ssh",
        ".gnupg",
        ".docker",
        ".kube",
        ".aws",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        ".curlrc",
        ".wgetrc",
        ".netrc",
        ".gdbinit",
        ".lldbinit",
        ".pdbrc",
        ".rprofile",
        ".irbrc",
        ".pryrc",
        ".sqliterc",
        ".psqlrc",
        ".tmux.conf",
        ".screenrc",
        ".cargo",
        ".m2",
        ".gradle",
    ),
    "Python start-up hooks": ("*.pth", "sitecustomize.py", "usercustomize.py", "pyvenv.cfg"),
}
"""The protected names by category (lower-case glob patterns for one path component)."""

PROTECTED_NAMES: tuple[str, ...] = tuple(name for names in PROTECTED_CATEGORIES.values() for name in names)
"""Every protected name: a path with a component matching one of them is protected."""

_GIT_MARKERS = ("head", "objects", "refs")
_GIT_DIR_CHILDREN = frozenset({"head", "objects", "refs", "config", "hooks", "info", "packed-refs", "commondir"})


def normalize_name(name: str) -> str:
    """A path component as compared with :data:`PROTECTED_NAMES` (NFC, case-folded, no trailing dots or spaces)."""
    return unicodedata.normalize("NFC", name).casefold().rstrip(". ")


def _matching(parts: Iterable[str]) -> str:
    for part in parts:
        if part in ("", ".", ".."):
            continue
        name = normalize_name(part)
        for category, patterns in PROTECTED_CATEGORIES.items():
            for pattern in patterns:
                if fnmatch.fnmatchcase(name, pattern):
                    return f"{part!r} is one of the {category}"
    return ""


def protected_reason(path: str | os.PathLike[str], workspace: Path | None = None) -> str:
    """Why writing ``path`` (relative to ``workspace``, or absolute) may run code later; ``""`` if it may not.

    Example::

        >>> protected_reason(".git/hooks/pre-commit")
        "'.git' is one of the version-control internals"
        >>> protected_reason("src/main.py")
        ''
    """
    raw = os.fspath(path)
    if reason := _matching(raw.replace("\\", "/").split("/")):
        return reason
    root = (workspace or Path.cwd()).resolve()
    candidate = Path(raw) if os.path.isabs(raw) else root / raw
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        return "the path could not be resolved (a symlink loop?)"
    inside = resolved == root or root in resolved.parents
    if reason := _matching(resolved.relative_to(root).parts if inside else resolved.parts):
        return f"{reason} (after resolving links)"
    if inside and (reason := _structural(resolved, root)):
        return reason
    try:
        if resolved.is_file() and resolved.stat().st_nlink > 1:
            return "the file has other hard links (it may be a protected file under another name)"
    except OSError:
        pass
    return ""


def _structural(resolved: Path, root: Path) -> str:
    """Inside a directory that git would read as a repository, or inside a virtual environment."""
    child: str | None = None
    directory = resolved
    if not resolved.is_dir():
        child, directory = resolved.name, resolved.parent
    while True:
        entries = _entries(directory)
        if "pyvenv.cfg" in entries and (directory / entries["pyvenv.cfg"]).is_file():
            return f"it is inside a Python virtual environment ({directory.name})"
        folded = normalize_name(child) if child is not None else None
        present = {m for m in _GIT_MARKERS if m != folded and _is_marker(directory, entries, m)}
        if len(present) >= 2 or (present and folded in _GIT_DIR_CHILDREN):
            return f"it is inside what git would read as a repository directory ({directory.name or '/'})"
        if directory == root or directory.parent == directory:
            return ""
        child, directory = directory.name, directory.parent


def _entries(directory: Path) -> dict[str, str]:
    """The names in ``directory`` by their normalized form."""
    try:
        return {normalize_name(n): n for n in os.listdir(directory)}
    except OSError:
        return {}


def _is_marker(directory: Path, entries: Mapping[str, str], marker: str) -> bool:
    real = entries.get(marker)
    if real is None:
        return False
    entry = directory / real
    return entry.is_file() if marker == "head" else entry.is_dir()
