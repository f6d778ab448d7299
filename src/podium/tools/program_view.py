"""What :func:`podium.tools.programs.examine` finds out about one argv, and the option parsing it shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from podium.tools.shell_syntax import Word

__all__ = ["ProgramView", "globbed", "opaque", "operands", "skip_options", "wrapper"]


@dataclass(slots=True)
class ProgramView:
    """What :func:`examine` found out about one argv."""

    opaque: str = ""
    """Why the argv alone does not say what runs (empty when it does)."""
    inner: list[list[Word]] = field(default_factory=list)
    """Commands it runs, to be judged as well."""
    inner_opaque: str = ""
    """A reason that also makes every inner command opaque (``xargs`` adds arguments)."""
    scripts: list[str] = field(default_factory=list)
    """Shell command lines it runs (``sh -c``)."""
    writes: list[Word] = field(default_factory=list)
    """Files it writes (or removes)."""
    reads: list[Word] = field(default_factory=list)
    """Files it reads that the path rules should see."""


def opaque(reason: str) -> ProgramView:
    """A view that says the program cannot be judged from its argv, and why."""
    return ProgramView(opaque=reason)


def globbed(words: Sequence[Word], program: str) -> ProgramView | None:
    """Programs whose options matter refuse patterns: a file named ``-exec`` or ``--pre=x`` would be an option."""
    for w in words:
        if w.glob:
            return opaque(f"{program}: the pattern {w.text!r} could expand to options")
    return None


def skip_options(
    args: Sequence[Word],
    program: str,
    *,
    flags: str = "",
    valued: str = "",
    long_flags: Sequence[str] = (),
    long_valued: Sequence[str] = (),
) -> tuple[int, str]:
    """Skip the options of a wrapper; returns (index of the first operand, "" or why it is not understood).

    ``flags``/``valued`` are short option letters without/with a value; ``long_*`` are ``--names``.
    """
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            return i + 1, ""
        if not text.startswith("-") or text == "-":
            return i, ""
        if text.startswith("--"):
            name = text.split("=", 1)[0]
            if name in long_flags:
                i += 1
            elif name in long_valued:
                i += 1 if "=" in text else 2
            else:
                return i, f"{program} {name}: an option not modelled"
            continue
        j = 1
        while j < len(text):
            letter = text[j]
            if letter in valued:
                i += 1 if j + 1 < len(text) else 2
                break
            if letter not in flags:
                return i, f"{program} -{letter}: an option not modelled"
            j += 1
        else:
            i += 1
    return i, ""


def wrapper(
    words: Sequence[Word], *, flags: str = "", valued: str = "", long_flags: Sequence[str] = (), **kw: Sequence[str]
) -> ProgramView:
    """A program that runs the rest of its arguments as a command after its own options."""
    name = words[0].text
    args = words[1:]
    start, problem = skip_options(args, name, flags=flags, valued=valued, long_flags=long_flags, **kw)
    if problem:
        return opaque(problem)
    if bad := globbed(args[:start], name):
        return bad
    view = ProgramView()
    if start < len(args):
        view.inner.append(list(args[start:]))
    return view


def operands(args: Sequence[Word], valued: str = "", long_valued: Sequence[str] = ()) -> list[Word]:
    """The non-option arguments (after ``--`` everything is an operand)."""
    out: list[Word] = []
    i = 0
    ended = False
    while i < len(args):
        text = args[i].text
        if ended or not text.startswith("-") or text == "-":
            out.append(args[i])
        elif text == "--":
            ended = True
        elif text.startswith("--"):
            if text.split("=", 1)[0] in long_valued and "=" not in text:
                i += 1
        elif text[-1] in valued and not any(c in valued for c in text[1:-1]):
            i += 1
        i += 1
    return out
