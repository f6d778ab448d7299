"""Rules and policies: how one tool call is judged, unit by unit, and the verdicts combined fail-closed.

A call is split into **units** (:func:`call_units`): a shell command line (a tool whose metadata names a
``command_param``) becomes one unit per program it runs and one per file it writes or reads
(:func:`podium.tools.commands.parse_command`); any other call is one unit. Each unit goes through the
rules, first match wins; the call's decision is then **deny** if any unit is denied, else **ask** if any
unit is asked about, else **allow**.

A file unit of a shell command is judged like a call to ``write_file`` (or ``read_file``) with that
path: a rule matches it when its ``tool`` glob matches that name or the shell tool's name, it has no
``command`` pattern, and its ``args``/``paths``/``access`` conditions hold for it.

An **opaque** unit (what runs cannot be known from the text: ``$(..)``, ``eval``, ``python -c``,
``xargs`` ...) is never allowed by a rule with a ``command``, ``paths`` or ``access`` condition, since
those cannot vouch for what will run; deny and ask rules still apply to its best-guess argv or path, and a
rule with none of those conditions (``Rule("allow", tool="run_shell")``: allow the whole tool) decides as
written. An opaque unit no rule decides is asked about (denied when the default is ``deny``).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from podium.agent.decisions import Allow, Ask, Decision, Deny
from podium.messages import ToolCall

if TYPE_CHECKING:
    from pathlib import Path

    from podium.tools.tool import Tool

# The command recognizer, the protected-path table and the path helpers are imported when a policy first
# judges a call, not with the agent: `from podium import Agent` stays light for runs without a policy.

__all__ = ["Access", "ApprovalPolicy", "Rule", "Subject", "Verdict", "call_units"]

Access = Literal["read", "write"]
_MAX_GLOB_MATCHES = 500


@dataclass(frozen=True, slots=True)
class Subject:
    """One unit of a call, as the rules see it."""

    kind: Literal["call", "command", "path"]
    """The whole call, one program of a shell command, or one file a shell command writes or reads."""
    call: ToolCall
    """The call the unit belongs to."""
    argv: tuple[str, ...] = ()
    """For a command unit: the program and its arguments (a best guess when opaque)."""
    path: str | None = None
    """For a file unit: the path, relative to the workspace or absolute (may be a glob pattern)."""
    access: Access | None = None
    """Whether the unit reads or writes its paths (``None`` for a command, or a call without paths)."""
    opaque: str = ""
    """Why what runs cannot be known (empty when it can)."""
    glob: bool = False
    """For a file unit: whether ``path`` is a pattern the shell expands."""
    source: str = ""
    """For a file unit: what names it (``> out.txt``, ``tee`` ...)."""

    @property
    def label(self) -> str:
        """How the unit is named in messages."""
        if self.kind == "command":
            return "`" + " ".join(self.argv)[:200] + "`"
        if self.kind == "path":
            verb = "writing" if self.access == "write" else "reading"
            via = f" (via {self.source})" if self.source else ""
            return f"{verb} {self.path}{via}"
        return self.call.name


def _metadata(tool: Tool[..., Any] | None) -> Mapping[str, Any]:
    return getattr(tool, "metadata", None) or {}


def _tool_access(call: ToolCall, tool: Tool[..., Any] | None) -> Access | None:
    """How a tool treats its path arguments: its metadata, the built-in table, else "write" if it has paths."""
    metadata = _metadata(tool)
    declared = metadata.get("path_access")
    if declared in ("read", "write"):
        return declared  # type: ignore[no-any-return]
    from podium.tools.commands import PATH_ACCESS

    for name, access in PATH_ACCESS.items():
        if call.name == name or call.name.endswith("_" + name):
            return access
    return "write" if metadata.get("path_params") else None


def call_units(call: ToolCall, tool: Tool[..., Any] | None = None) -> list[Subject]:
    """The units a policy judges for ``call`` (see the module docstring)."""
    metadata = _metadata(tool)
    param = metadata.get("command_param")
    command = call.args.get(param) if isinstance(param, str) else None
    whole = Subject("call", call, access=_tool_access(call, tool))
    if not isinstance(command, str):
        return [whole]
    cwd = next((call.args[p] for p in metadata.get("path_params", ()) if isinstance(call.args.get(p), str)), None)
    from podium.tools.commands import CommandUnit, PathUnit, parse_command

    parsed = parse_command(command, cwd)
    subjects = []
    for unit in parsed.units:
        if isinstance(unit, CommandUnit):
            subjects.append(Subject("command", call, argv=unit.argv, opaque=unit.opaque))
        else:
            assert isinstance(unit, PathUnit)
            subjects.append(
                Subject(
                    "path",
                    call,
                    path=unit.path,
                    access=unit.access,
                    opaque=unit.opaque,
                    glob=unit.glob,
                    source=unit.source,
                )
            )
    return subjects or [whole]


def _argv_matches(pattern: Sequence[str], argv: Sequence[str], *, allow: bool) -> bool:
    """Whether ``argv`` matches the argv ``pattern`` (globs).

    For an allow rule the match is positional: each glob must match the argument in its place, and later
    arguments are free (``git status*`` allows ``git status -s`` but not ``git push origin status``). For deny
    and ask rules it is looser, which is the safe direction there: the program glob, then each further glob
    matched by some later argument, in order (``rm -rf*`` catches ``rm -v -rf x``), and the program name is
    compared case-insensitively (``RM`` is ``rm`` on a case-insensitive file system).
    """
    if not argv or not pattern:
        return False
    if allow:
        return len(argv) >= len(pattern) and all(fnmatch.fnmatchcase(a, p) for a, p in zip(argv, pattern, strict=False))
    if not fnmatch.fnmatchcase(argv[0].lower(), pattern[0].lower()):
        return False
    position = 1
    for glob in pattern[1:]:
        while position < len(argv) and not fnmatch.fnmatchcase(argv[position], glob):
            position += 1
        if position >= len(argv):
            return False
        position += 1
    return True


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _real_path(value: str) -> str:
    """A path argument as the file tools read it (a quoted odd name undone, as in ``names.unquote_path``)."""
    from podium.tools.sandbox.names import QuotedPathError, unquote_path

    try:
        return unquote_path(value)
    except QuotedPathError:
        return value  # the file tools refuse it too


def _is_inside(value: str, root: Path) -> bool:
    from pathlib import Path  # with the path rules only: `from podium import Agent` stays light

    candidate = Path(value)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == root or root in resolved.parents


def _expand(value: str, root: Path | None, is_glob: bool) -> list[str]:
    """The paths a pattern names now (as the shell would expand it), or the pattern itself when none match."""
    if not is_glob or root is None:
        return [value]
    import glob

    base = value if value.startswith("/") else str(root / value)
    matches = list(itertools.islice(glob.iglob(base), _MAX_GLOB_MATCHES))
    return matches or [value]


@dataclass(frozen=True, slots=True)
class Rule:
    """One governance rule; every condition given must hold for it to match a unit of a call.

    Example::

        Rule("deny", command="rm -rf*", reason="no recursive deletes")
        Rule("ask", paths="protected", access="write")     # writes to .git/, .envrc, hooks ...
        Rule("allow", command="git status*")
    """

    decision: Literal["allow", "ask", "deny"]
    """What to do with a matching unit."""
    tool: str = "*"
    """Glob on the tool name (a file unit of a shell command also answers to ``write_file``/``read_file``)."""
    args: Mapping[str, str] = field(default_factory=dict)
    """Argument name -> regular expression searched in the argument's value (as text). On a file unit seen as
    ``write_file``/``read_file`` the only argument is ``path``."""
    paths: Literal["inside", "outside", "protected"] | None = None
    """Match when the unit's paths all resolve inside the workspace, when any resolves outside it, or when any
    is protected (:func:`podium.tools.protected.protected_reason`: ``.git/``, ``.envrc``, hooks ...). A call's
    paths are its path arguments (tool metadata ``path_params``); a file unit's path is its file."""
    command: str | None = None
    """Argv pattern such as ``"rm -rf*"`` or ``"git status*"``, matched on each program a shell command runs
    (never on a file unit). For ``allow`` each glob must match the argument in its place (later arguments are
    free); for ``deny``/``ask`` each glob may match any later argument, in order, and the program name is
    compared case-insensitively. A ``command`` rule never allows an opaque unit."""
    reason: str = ""
    """Shown to the model (deny) or the person (ask)."""
    rewrite: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    """For ``allow``: change the arguments before the call runs."""
    access: Access | None = None
    """Match only units that ``"read"`` or ``"write"`` their paths (``write_file``, ``edit_file`` and shell
    output redirections write; a tool with path arguments and no ``path_access`` metadata counts as writing)."""

    @property
    def conditional(self) -> bool:
        """Whether the rule looks at what a unit runs or touches (``command``, ``paths``, ``access``)."""
        return self.command is not None or self.paths is not None or self.access is not None

    def matches(self, call: ToolCall, tool: Tool[..., Any] | None = None, workspace: Path | None = None) -> bool:
        """Whether the rule matches some unit of ``call``."""
        root = workspace.resolve() if workspace is not None else None
        return any(self.matches_unit(s, tool, root) for s in call_units(call, tool))

    def matches_unit(self, subject: Subject, tool: Tool[..., Any] | None, root: Path | None) -> bool:
        """Whether the rule matches one unit (``root`` is the resolved workspace)."""
        call = subject.call
        if subject.kind == "path":
            return self.command is None and (
                self._holds(call.name, call.args, [subject.path or ""], subject, root)
                or self._holds(_pseudo(subject), {"path": subject.path}, [subject.path or ""], subject, root)
            )
        params = _metadata(tool).get("path_params", ())
        values = [_real_path(call.args[p]) for p in params if isinstance(call.args.get(p), str)]
        if not self._holds(call.name, call.args, values, subject, root):
            return False
        if self.command is not None:
            return subject.kind == "command" and _argv_matches(
                self.command.split(), subject.argv, allow=self.decision == "allow"
            )
        return True

    def _holds(self, name: str, args: Mapping[str, Any], paths: list[str], subject: Subject, root: Path | None) -> bool:
        if not fnmatch.fnmatchcase(name, self.tool):
            return False
        for key, pattern in self.args.items():
            if key not in args or not re.search(pattern, _as_text(args[key])):
                return False
        if self.access is not None and subject.access != self.access:
            return False
        if self.paths is None:
            return True
        if not paths:
            return False
        values = [p for v in paths for p in _expand(v, root, subject.glob)]
        if self.paths == "protected":
            from podium.tools.protected import protected_reason

            return any(protected_reason(v, root) for v in values)
        if root is None:
            return False
        inside = [_is_inside(v, root) for v in values]
        return all(inside) if self.paths == "inside" else not all(inside)


def _pseudo(subject: Subject) -> str:
    return "write_file" if subject.access == "write" else "read_file"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one unit and the rule that gave it (``None``: the default)."""

    kind: Literal["allow", "ask", "deny"]
    """The unit's decision."""
    reason: str
    """Why (the rule's reason, or a generated one)."""
    rule: Rule | None
    """The rule that decided, or ``None`` for the default."""


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Ordered rules (first match wins, per unit), a default, and the workspace paths are relative to.

    Example::

        policy = ApprovalPolicy(
            [
                Rule("deny", command="rm -rf*", reason="no recursive deletes"),
                Rule("ask", paths="protected", access="write"),
                Rule("allow", command="ls*"),
                Rule("allow", command="git status*"),
                Rule("allow", tool="read_*"),
            ],
            default="ask",
            workspace=Path("ws"),
        )
    """

    rules: Sequence[Rule] = ()
    """The rules, in order."""
    default: Literal["allow", "ask", "deny"] = "allow"
    """Decision for a unit no rule matches (an opaque unit is asked about instead of allowed)."""
    workspace: Path | None = None
    """The workspace that ``paths`` rules and relative paths are relative to."""

    def verdicts(self, call: ToolCall, tool: Tool[..., Any] | None = None) -> list[tuple[Subject, Verdict]]:
        """Each unit of ``call`` with its verdict (for explaining a decision)."""
        root = self.workspace.resolve() if self.workspace is not None else None
        return [(s, self._judge(s, tool, root)) for s in call_units(call, tool)]

    def _judge(self, subject: Subject, tool: Tool[..., Any] | None, root: Path | None) -> Verdict:
        for rule in self.rules:
            if subject.opaque and rule.decision == "allow" and rule.conditional:
                continue
            if not rule.matches_unit(subject, tool, root):
                continue
            if rule.decision == "deny":
                return Verdict("deny", rule.reason or f"the policy does not allow {subject.label}", rule)
            if rule.decision == "ask":
                return Verdict("ask", rule.reason or f"the policy asks before {subject.label}", rule)
            return Verdict("allow", rule.reason, rule)
        if subject.opaque:
            kind: Literal["ask", "deny"] = "deny" if self.default == "deny" else "ask"
            return Verdict(kind, f"{subject.label} cannot be checked before it runs: {subject.opaque}", None)
        if self.default == "allow":
            return Verdict("allow", "", None)
        verb = "does not allow" if self.default == "deny" else "asks before"
        return Verdict(self.default, f"the policy {verb} {subject.label}", None)

    def decide(self, call: ToolCall, tool: Tool[..., Any] | None = None) -> Decision:
        """The decision for one call: deny if any unit is denied, else ask if any is asked about, else allow."""
        verdicts = [v for _, v in self.verdicts(call, tool)]
        for verdict in verdicts:
            if verdict.kind == "deny":
                return Deny(verdict.reason)
        asks = list(dict.fromkeys(v.reason for v in verdicts if v.kind == "ask"))
        if asks:
            shown = "; ".join(asks[:3]) + (f"; and {len(asks) - 3} more" if len(asks) > 3 else "")
            return Ask(shown)
        rules: list[Rule] = []
        for verdict in verdicts:
            if verdict.rule is not None and not any(verdict.rule is r for r in rules):
                rules.append(verdict.rule)
        rules.sort(key=lambda r: next(i for i, x in enumerate(self.rules) if x is r))
        args: Mapping[str, Any] | None = None
        for rule in rules:
            if rule.rewrite is not None:
                args = dict(rule.rewrite(args if args is not None else call.args))
        return Allow(args, next((r.reason for r in rules if r.reason), ""))
