"""File tools: read, write, edit, list. All confined to the workspace (see :mod:`podium.tools.sandbox.workspace`).

Each call reads a file once, through the workspace's descriptor walk, and everything it reports or records
(the text shown, the hash that ``edit_file`` and ``write_file`` check later) comes from those same bytes.
Lines are split at newlines only, so ``read_file`` numbers lines as ``search_files``, ripgrep and ``sed -n``
do (a lone carriage return or form feed stays inside its line; a CRLF ending is not shown). The content of a
file is shown as it is: it is data for the model. Names in results are shown as
:func:`~podium.tools.sandbox.names.quote_path` shows them: a name with a newline or another control character
is quoted, and the quoted form is accepted back as a path.
"""

from __future__ import annotations

from typing import Any

from podium.exceptions import ModelRetry
from podium.tools.builtin.state import ToolState, digest
from podium.tools.context import RunContext
from podium.tools.sandbox.names import quote_path
from podium.tools.sandbox.workspace import Workspace, WorkspaceError
from podium.tools.tool import Tool

__all__ = ["file_tools"]

MAX_LINE_CHARS = 2000
MAX_LIST_ENTRIES = 1000
"""Entries ``list_directory`` shows at most."""


def text_lines(text: str) -> list[str]:
    """The lines of ``text``, split at newlines only; a CRLF ending is dropped with the newline."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _number(lines: list[str], first: int) -> str:
    out = []
    for i, line in enumerate(lines, start=first):
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" [... line cut at {MAX_LINE_CHARS} characters]"
        out.append(f"{i:6d}\t{line}")
    return "\n".join(out)


def file_tools(ws: Workspace, state: ToolState) -> list[Tool[..., Any]]:
    """``read_file``, ``write_file``, ``edit_file`` and ``list_directory`` for ``ws``."""

    def read_file(ctx: RunContext[Any], path: str, offset: int = 1, limit: int = 2000) -> str:
        """Read a text file of the workspace, with line numbers.

        Args:
            ctx: The run context (supplied by Podium).
            path: Path relative to the workspace (or absolute inside it).
            offset: First line to show (1-based).
            limit: How many lines to show at most.
        """
        if offset < 1 or limit < 1:
            raise ModelRetry("offset and limit must be at least 1")
        try:
            real = ws.resolve(path)
            data = ws.read_bytes(real)
            text = ws.decode(path, data)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        state.remember(ctx, str(real), data)
        lines = text_lines(text)
        if not lines:
            return f"[{ws.show(real)} is empty]"
        if offset > len(lines):
            raise ModelRetry(f"{path!r} has {len(lines)} lines; offset {offset} is past the end")
        shown = lines[offset - 1 : offset - 1 + limit]
        body = _number(shown, offset)
        last = offset + len(shown) - 1
        if offset > 1 or last < len(lines):
            more = f"; call again with offset={last + 1} for more" if last < len(lines) else ""
            body += f"\n[lines {offset}-{last} of {len(lines)}{more}]"
        return body

    def write_file(ctx: RunContext[Any], path: str, content: str) -> str:
        """Create or overwrite a text file in the workspace (parent directories are created).

        Args:
            ctx: The run context (supplied by Podium).
            path: Path relative to the workspace.
            content: The complete new content.
        """
        try:
            real = ws.resolve(path)
            seen = state.seen(ctx, str(real))
            current = ws.read_existing(real) if seen is not None else None
            if seen is not None and current is not None and digest(current) != seen.sha256:
                raise ModelRetry(f"{path!r} changed since you last read it; read it again before overwriting it")
            data = content.encode("utf-8")
            created = ws.write_bytes(real, data)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        state.remember(ctx, str(real), data)
        verb = "Created" if created else "Overwrote"
        return f"{verb} {ws.show(real)} ({len(data)} bytes, {content.count(chr(10)) + 1} lines)"

    def edit_file(ctx: RunContext[Any], path: str, old_text: str, new_text: str, replace_all: bool = False) -> str:
        """Replace exact text in a file you have read. ``old_text`` must appear exactly once unless ``replace_all``.

        Args:
            ctx: The run context (supplied by Podium).
            path: Path relative to the workspace.
            old_text: The exact text to replace, including indentation; add surrounding lines to make it unique.
            new_text: The replacement.
            replace_all: Replace every occurrence instead of requiring exactly one.
        """
        if old_text == new_text:
            raise ModelRetry("old_text and new_text are the same; nothing to change")
        if not old_text:
            raise ModelRetry("old_text is empty; to create a file use write_file")
        try:
            real = ws.resolve(path)
            seen = state.seen(ctx, str(real))
            if seen is None:
                raise ModelRetry(f"read {path!r} with read_file before editing it")
            data = ws.read_bytes(real)
            if digest(data) != seen.sha256:
                raise ModelRetry(f"{path!r} changed since you last read it; read it again, then edit")
            text = ws.decode(path, data)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        count = text.count(old_text)
        if count == 0:
            hint = ""
            if old_text.strip() and old_text.strip() in text:
                hint = " (it does appear with different surrounding whitespace: copy it exactly)"
            raise ModelRetry(f"old_text was not found in {path!r}{hint}")
        if count > 1 and not replace_all:
            raise ModelRetry(
                f"old_text appears {count} times in {path!r}; include more surrounding lines to make it unique, "
                "or set replace_all=true"
            )
        first_line = text[: text.index(old_text)].count("\n") + 1
        updated = text.replace(old_text, new_text) if replace_all else text.replace(old_text, new_text, 1)
        new_data = updated.encode("utf-8")
        try:
            ws.write_bytes(real, new_data, create_dirs=False)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        state.remember(ctx, str(real), new_data)
        n = count if replace_all else 1
        return f"Edited {ws.show(real)}: replaced {n} occurrence(s), first at line {first_line}"

    def list_directory(path: str = ".") -> str:
        """List a directory of the workspace (symlinks are shown, not followed).

        Args:
            path: Directory relative to the workspace.
        """
        try:
            entries = ws.list_dir(path)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        if not entries:
            return "[empty directory]"
        lines = []
        for e in entries[:MAX_LIST_ENTRIES]:
            name = quote_path(e.name)
            if e.kind == "dir":
                lines.append(f"{name}/")
            elif e.kind == "link":
                lines.append(f"{name} -> {quote_path(e.target or '?')}")
            elif e.kind == "file":
                lines.append(f"{name}  ({e.size} bytes)")
            else:
                lines.append(f"{name}  (special file)")
        if len(entries) > MAX_LIST_ENTRIES:
            lines.append(f"[{len(entries) - MAX_LIST_ENTRIES} more entries not shown; use find_files with a pattern]")
        return "\n".join(lines)

    return [Tool(read_file), Tool(write_file), Tool(edit_file), Tool(list_directory)]
