"""Contracts over what requests send: every tool call answered, no secret or pattern in a prompt.

Both read each ``request`` record's messages as the recorder wrote them: the whole prompt once, then
what each request keeps of the one before and adds. Only the added messages are new, so each request is
checked in time proportional to what it adds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.exceptions import UserError
from podium.secrets import contains_secret, scrub
from podium.trace.contracts import Contract, ContractContext, Violation
from podium.trace.rules import compile_pattern, show
from podium.trace.view import message_strings, outcome_of, started_calls, tool_definition_strings

__all__ = ["EveryCallAnswered", "NoPattern", "NoSecrets"]

Record = Mapping[str, Any]
_MARKER = re.compile(r"\[REDACTED:([^\]\n]{1,80})\]")


@dataclass(slots=True)
class _Prompt:
    """The prompt of the last request, rebuilt from the records (message dicts)."""

    messages: list[Any] = field(default_factory=list)
    seq: int | None = None


def _added(prompt: _Prompt, record: Record) -> tuple[int, list[Any]] | str:
    """Apply a request's ``messages`` to ``prompt``; (index of the first new message, the new ones), or a problem."""
    spec = record.get("messages")
    if not isinstance(spec, Mapping):
        return "the request record has no `messages`"
    seq = record.get("seq")
    if "all" in spec:
        messages = spec["all"]
        if not isinstance(messages, list):
            return "the request's `messages.all` is not a list"
        prompt.messages, prompt.seq = list(messages), seq if isinstance(seq, int) else None
        return 0, prompt.messages
    base, keep, add = spec.get("base"), spec.get("keep"), spec.get("add")
    if base != prompt.seq or prompt.seq is None:
        return f"the request builds on record {base!r}, which is not the request before it; the trace is damaged"
    if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= len(prompt.messages):
        return f"the request keeps {keep!r} messages of a prompt of {len(prompt.messages)}; the trace is damaged"
    if not isinstance(add, list):
        return "the request's `messages.add` is not a list"
    del prompt.messages[keep:]
    prompt.messages.extend(add)
    prompt.seq = seq if isinstance(seq, int) else None
    return keep, add


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, Mapping) else None
    return role if isinstance(role, str) else "?"


def _parts(message: Any, kind: str) -> list[Mapping[str, Any]]:
    parts = message.get("parts") if isinstance(message, Mapping) else None
    return [p for p in parts if isinstance(p, Mapping) and p.get("type") == kind] if isinstance(parts, list) else []


# --------------------------------------------------------------------------- every call answered


@dataclass(slots=True)
class _Answers:
    prompt: _Prompt = field(default_factory=_Prompt)
    started: dict[str, str] = field(default_factory=dict)
    """Calls of the current ``tools`` record: id -> tool name."""
    answered: set[str] = field(default_factory=set)
    abandoned: bool = False


class EveryCallAnswered(Contract[_Answers]):
    """Each tool call gets exactly one result, and each result answers a call.

    Checked where the trace shows it:

    * every request's prompt: each tool call of an assistant message has exactly one result in the tool
      message(s) right after it, and no result answers a call that message did not make (found before the
      request is sent);
    * every ``tools`` record (the calls a turn starts): each started call gets exactly one ``tool`` record
      before the next request or the end of a completed or paused run (unless the turn was abandoned, when
      the loop answers the rest itself), and no ``tool`` record answers a call that was not started.

    Calls that never start (denied, unknown tools, over a budget, the output tool) are answered by the
    loop itself; the next request shows their results. A run that ends in an error or is cancelled has its
    history made valid by the loop (the error's ``.messages``), which the trace does not hold.
    """

    rule = "EveryCallAnswered()"

    def start(self, context: ContractContext) -> _Answers:
        """No request yet."""
        return _Answers()

    def feed(self, state: _Answers, context: ContractContext, record: Record) -> Violation | None:
        """Check a request's prompt, a tool's result, or the end."""
        kind = record.get("kind")
        if kind == "request":
            return self._unfinished(state, context, record, "before the next model request") or self._prompt(
                state, context, record
            )
        if kind == "tools":
            found = self._unfinished(state, context, record, "before the next turn's calls started")
            state.started = {c.id: c.name for c in started_calls(record)}
            state.answered, state.abandoned = set(), False
            return found
        if kind == "tool":
            return self._result(state, context, record)
        if kind == "abandon":
            state.abandoned = True
        elif kind == "end" and record.get("status") in ("completed", "paused"):
            return self._unfinished(state, context, record, "before the run ended")
        return None

    def _unfinished(self, state: _Answers, context: ContractContext, record: Record, when: str) -> Violation | None:
        missing = [(i, name) for i, name in state.started.items() if i not in state.answered]
        state.started, state.answered = {}, set()
        if not missing or state.abandoned:
            return None
        call_id, tool = missing[0]
        return self.violation(
            context, record, f"call {show(call_id)} was started but got no result {when}", call_id=call_id, tool=tool
        )

    def _result(self, state: _Answers, context: ContractContext, record: Record) -> Violation | None:
        call_id = outcome_of(record).call_id
        if call_id is None or call_id not in state.started:
            return self.violation(
                context,
                record,
                f"a tool result for call {show(call_id)}, which the turn did not start",
                call_id=call_id,
            )
        if call_id in state.answered:
            return self.violation(
                context,
                record,
                f"a second tool result for call {show(call_id)}",
                call_id=call_id,
                tool=state.started[call_id],
            )
        state.answered.add(call_id)
        return None

    def _prompt(self, state: _Answers, context: ContractContext, record: Record) -> Violation | None:
        added = _added(state.prompt, record)
        if isinstance(added, str):
            return self.violation(context, record, added)
        first, _ = added
        messages = state.prompt.messages
        start = 0
        for index in range(
            min(first, len(messages)) - 1, -1, -1
        ):  # the last assistant message kept: pairs before it are checked
            if _role(messages[index]) == "assistant":
                start = index
                break
        problem = _pairing(messages, start)
        if problem is None:
            return None
        message, call_id, tool = problem
        return self.violation(context, record, message, call_id=call_id, tool=tool)


def _pairing(messages: list[Any], start: int) -> tuple[str, str | None, str | None] | None:
    """The first unanswered, twice-answered or unasked-for call in ``messages[start:]`` (message numbers from 1)."""
    index = start
    while index < len(messages):
        message = messages[index]
        index += 1
        role = _role(message)
        if role == "tool":
            result = next(iter(_parts(message, "tool_result")), None)
            if result is not None:
                call_id = str(result.get("call_id"))
                return (
                    f"prompt message {index} holds a result for call {show(call_id)}, which no call just before "
                    "it made",
                    call_id,
                    None,
                )
            continue
        calls = _parts(message, "tool_call") if role == "assistant" else []
        if not calls:
            continue
        made = Counter(str(c.get("id")) for c in calls)
        names = {str(c.get("id")): str(c.get("name")) for c in calls}
        results: Counter[str] = Counter()
        at = index
        while index < len(messages) and _role(messages[index]) == "tool":
            results.update(str(r.get("call_id")) for r in _parts(messages[index], "tool_result"))
            index += 1
        for call_id, count in made.items():
            if count > 1:
                return f"prompt message {at} makes call {show(call_id)} {count} times", call_id, names[call_id]
            answers = results.get(call_id, 0)
            if answers != 1:
                what = "no result" if answers == 0 else f"{answers} results"
                return f"call {show(call_id)} of prompt message {at} has {what} in the prompt", call_id, names[call_id]
        for call_id in results:
            if call_id not in made:
                return (
                    f"the prompt holds a result for call {show(call_id)}, which message {at} did not make",
                    call_id,
                    None,
                )
    return None


# --------------------------------------------------------------------------- secrets and patterns


@dataclass(slots=True)
class _Scan:
    prompt: _Prompt = field(default_factory=_Prompt)


class NoSecrets(Contract[_Scan]):
    r"""No request sends a secret, a credential or text matching one of ``patterns``.

    Looked at: the texts of every message of every request (text, thinking, tool-call names and arguments,
    tool results, media URLs; not base64 media or signatures) and the tools offered (names, descriptions,
    schemas). A trace is scrubbed as it is written, so a secret shows there as a ``[REDACTED:name]`` marker:
    a marker in a request means the secret was about to be sent (``markers=True``). Secrets known to
    :mod:`podium.secrets` (``registered=True``) and credential shapes (``shapes=True``: ``sk-...``,
    ``Authorization: Bearer ...``) are looked for as well, for a trace that was not scrubbed. A violation
    says where, never what matched.

    At run time the violation stops the run before the request is sent. Note that a tool result which
    itself held a marker (a scrubbed log a tool read) is flagged too; pass ``markers=False`` to skip them.

    Example: ``NoSecrets(r"\b\d{3}-\d{2}-\d{4}\b")`` (and US social security numbers).
    """

    def __init__(self, *patterns: str, markers: bool = True, registered: bool = True, shapes: bool = True) -> None:
        super().__init__()
        self.patterns = [compile_pattern(p, f"{type(self).__name__}({p!r})") for p in patterns]
        self.markers, self.registered, self.shapes = markers, registered, shapes
        shown = ", ".join(repr(p.pattern) for p in self.patterns)
        self.rule = f"{type(self).__name__}({shown})"

    def start(self, context: ContractContext) -> _Scan:
        """No request yet."""
        return _Scan()

    def feed(self, state: _Scan, context: ContractContext, record: Record) -> Violation | None:
        """Look at what a request adds to the prompt, and at its tools when they changed."""
        if record.get("kind") != "request":
            return None
        added = _added(state.prompt, record)
        if isinstance(added, str):
            return self.violation(context, record, added)
        first, messages = added
        for offset, message in enumerate(messages):
            where = f"prompt message {first + offset + 1} ({_role(message)})"
            found = self._scan(message_strings(message), where)
            if found is not None:
                return self.violation(context, record, found)
        tools = record.get("tools")
        if isinstance(tools, list):
            for definition in tools:
                name = definition.get("name") if isinstance(definition, Mapping) else None
                found = self._scan(tool_definition_strings(definition), f"the definition of tool {show(name)}")
                if found is not None:
                    return self.violation(context, record, found)
        return None

    def _scan(self, texts: Iterable[tuple[str, str]], where: str) -> str | None:
        for what, text in texts:
            found = self._problem(text)
            if found is not None:
                return f"{found}, in {where}, {what}"
        return None

    def _problem(self, text: str) -> str | None:
        if self.markers:
            marker = _MARKER.search(text)
            if marker is not None:
                return f"a secret was about to be sent (the scrubbed trace shows [REDACTED:{marker.group(1)}])"
        if self.registered and contains_secret(text):
            names = _MARKER.findall(scrub(text))
            return f"a known secret ({', '.join(sorted(set(names))) or 'registered'}) is in the request"
        if self.shapes and scrub(text, shapes=True) is not text:
            return "text shaped like a credential is in the request"
        for pattern in self.patterns:
            if pattern.search(text) is not None:
                return f"text matching {pattern.pattern!r} is in the request"
        return None


class NoPattern(NoSecrets):
    r"""No request sends text matching one of ``patterns`` (regular expressions); see :class:`NoSecrets`.

    Example: ``NoPattern(r"(?i)internal[-_ ]only", r"\bACME-\d{6}\b")``.
    """

    def __init__(self, *patterns: str) -> None:
        if not patterns:
            raise UserError("NoPattern(...) needs at least one regular expression (NoSecrets() checks secrets only)")
        super().__init__(*patterns, markers=False, registered=False, shapes=False)
