"""The shell recognizer: what it accepts it reads exactly as bash does; everything else is refused.

Accepted lines are checked against real bash (``bash_oracle``): the argv of every command bash would run
and the files its redirections create must be what the recognizer says.
"""

from __future__ import annotations

import pytest
from bash_oracle import bash_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import examples

from podium.tools.shell_syntax import NotUnderstood, SimpleCommand, parse_script


def recognized(line: str) -> tuple[list[list[str]], set[str]]:
    """What the recognizer says ``line`` runs (argvs, sorted) and the files its redirections create."""
    commands: tuple[SimpleCommand, ...] = parse_script(line)
    argvs: list[list[str]] = []
    for argv in ([w.text for w in c.words] for c in commands if c.words):
        if argv not in argvs:
            argvs.append(argv)
    argvs.sort()
    created = {
        r.target.text
        for c in commands
        for r in c.redirects
        if r.target is not None and r.writes and r.target.text not in ("/dev/null",)
    }
    return argvs, created


ACCEPTED = [
    "ls -la src",
    "ls  -la   src",
    "l''s; r\\m x",
    "l\"s\" x'y z'",
    "ls\nwc x",
    "ls;wc x",
    "ls &&\nwc x",
    "ls ||\n\nwc x",
    "ls | wc -l",
    "ls |& wc -l",
    "ls & wc x",
    "ls # a comment; rm x\nwc",
    "ls a#b '#c' \\#d",
    "ls a\\\nb",
    "ls \\\n -la",
    'grep "a\\"b" "c\\\\d" "e\\f" "g\\\nh"',
    "grep 'a\\b' \"it's\"",
    "wc > out.txt",
    "wc >> out.txt 2> err.txt",
    "wc >| clobber.txt",
    "wc &> both.txt",
    "wc &>> both2.txt",
    "wc >& amp.txt",
    "wc 2>&1 1>&2 3>&- <&0",
    "2>/dev/null wc x",
    "> truncated.txt",
    "wc <> rw.txt",
    "cat <<'EOF'\nhello $x `y` \\z\nEOF\nwc",
    "cat <<EOF; grep x\nplain body\nEOF\nwc",
    'cat <<-"E"\n\tbody\n\tE\nwc',
    "cat <<<'here string'",
    "cat <<A <<B\na\nA\nb\nB",
    "git log HEAD~3 --format=%h",
    "find . -name x -exec wc {} +",
    "grep x{} @{u} a}b",
    "time -p wc x | grep y",
    "cat x | time grep y",
    "printf-not-builtin 'a\tb' \"c\nd\"",
    "cmd x=1 y==2",
    "ls *.nomatch",
]


@pytest.mark.parametrize("line", ACCEPTED)
def test_accepted_lines_mean_what_bash_runs(line: str) -> None:
    argvs, created = recognized(line)
    bash_argvs, bash_created, _ = bash_run(line)
    assert argvs == bash_argvs
    assert created == bash_created


NOT_UNDERSTOOD = {
    "echo $HOME": "$",
    "ls $(rm x)": "$",
    '"$(rm x)"': "$",
    "ls `rm x`": "`",
    "$'\\x72m' x": "$",
    '$"rm" x': "$",
    "echo $((1+2))": "$",
    "{ rm x; }": "keyword",
    "(rm x)": "(",
    "ls <(rm x)": "process substitution",
    "ls >(rm x)": "process substitution",
    "if true; then rm x; fi": "keyword",
    "for f in x; do rm x; done": "keyword",
    "while true; do rm x; done": "keyword",
    "until false; do rm x; done": "keyword",
    "case x in x) rm x;; esac": ")",
    "select x in a; do rm x; done": "keyword",
    "function f { rm x; }": "keyword",
    "f(){ rm x; }; f": "(",
    "! rm x": "keyword",
    "[[ -f x ]] && rm x": "keyword",
    "((1)) && rm x": "(",
    "coproc rm x": "keyword",
    "FOO=1 rm x": "assigns",
    "LD_PRELOAD=/x.so ls": "assigns",
    "a[1]=x ls": "assigns",
    "X+=1 ls": "assigns",
    "ls ~": "~",
    "ls ~/x": "~",
    "ls a=~/x": "~",
    "ls x:~": "~",
    "echo {a,b}": "brace",
    "echo x{1..3}": "brace",
    "rm -rf .*": "..",
    "rm -rf .?": "..",
    "rm -rf x/.[a-z]*": "..",
    "ls 'unterminated": "quote",
    'ls "unterminated': "quote",
    "ls \\": "backslash",
    "ls ;; rm x": "case",
    "; ls": "syntax",
    "ls && ; rm": "syntax",
    "ls |": "syntax",
    "ls &&": "syntax",
    "cat <<EOF\n$(rm x)\nEOF": "here-document",
    "cat <<EOF\nno end": "here-document",
    "ls > ": "target",
    "ls 2>&file": "descriptor",
    "{fd}>x ls": "{name}",
    "ls\x00": "NUL",
}


@pytest.mark.parametrize(("line", "hint"), NOT_UNDERSTOOD.items())
def test_everything_else_is_not_understood(line: str, hint: str) -> None:
    with pytest.raises(NotUnderstood) as info:
        parse_script(line)
    assert hint.lower() in info.value.reason.lower()


def test_reserved_words_only_at_command_position_and_unquoted() -> None:
    assert [w.text for w in parse_script("echo if then fi")[0].words] == ["echo", "if", "then", "fi"]
    assert [w.text for w in parse_script("'if' x")[0].words] == ["if", "x"]
    assert parse_script("ls x=1")[0].words[1].assignment
    assert not parse_script("'FOO'=1")[0].words[0].assignment


def test_words_record_globs_and_quoting() -> None:
    words = parse_script("ls *.py '*.txt' a\\? [ab] [ x")[0].words
    assert [(w.text, w.glob) for w in words] == [
        ("ls", False),
        ("*.py", True),
        ("*.txt", False),
        ("a?", False),
        ("[ab]", True),
        ("[", False),
        ("x", False),
    ]


# --------------------------------------------------------------------------- generated lines vs bash

_PROGRAMS = st.sampled_from(["ls", "cat", "rm", "wc", "grep", "x1", "a-b", "git"])
_PLAIN = st.text(alphabet="abcxyz019-_.,/=:@%+^", min_size=1, max_size=5)
_SINGLE = st.text(alphabet='ab $`"\\\n\t;&|<>(){}*?~#', max_size=6).map(lambda t: "'" + t + "'")
_DOUBLE = st.lists(
    st.one_of(
        st.text(alphabet="ab ';&|<>(){}*?~#!\t", min_size=1, max_size=3),
        st.sampled_from(['\\"', "\\\\", "\\a", "\\\n", "\\'"]),
    ),
    max_size=4,
).map(lambda parts: '"' + "".join(parts) + '"')
_ESCAPED = st.sampled_from(["\\ ", "\\;", "\\&", "\\|", "\\'", '\\"', "\\\\", "\\$", "\\`", "\\#", "\\*", "\\a"])
_WORD = st.lists(st.one_of(_PLAIN, _SINGLE, _DOUBLE, _ESCAPED), min_size=1, max_size=3).map("".join)
_REDIRECT = st.sampled_from(["> o1", ">> o2", "2> o3", "2>&1", ">/dev/null", "< /dev/null", "&> o4", "1>&2", ">| o5"])
_OPERATOR = st.sampled_from([";", " ; ", "&&", " || ", "|", "|&", "\n", " &\n", ";\n", " && \\\n"])


@st.composite
def _simple(draw: st.DrawFn) -> str:
    parts = [draw(_PROGRAMS), *draw(st.lists(_WORD, max_size=4))]
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(1, len(parts))), draw(_REDIRECT))
    line = " ".join(parts)
    if draw(st.booleans()):
        line += " # comment " + draw(_PLAIN)
    return line


_HEREDOC_OPERATOR = st.sampled_from(["<<'E'", '<<"E"', "<<E", "<<-E", "<<\\E", "<< E", "<<-'E'"])
_HEREDOC_LINE = st.text(alphabet="ab E\t$`\\'\";|&#", max_size=6)


@st.composite
def _line(draw: st.DrawFn) -> str:
    commands = draw(st.lists(_simple(), min_size=1, max_size=3))
    heredocs = 0
    for i, command in enumerate(commands):
        if draw(st.integers(0, 4)) == 0:
            commands[i] = command.split(" # ")[0] + " " + draw(_HEREDOC_OPERATOR)
            heredocs += 1
    out = commands[0]
    for command in commands[1:]:
        out += draw(_OPERATOR) + command
    for _ in range(heredocs):
        out += "\n" + "\n".join(draw(st.lists(_HEREDOC_LINE, max_size=3))) + "\n" + draw(st.sampled_from(["E", "\tE"]))
    return out


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_line())
def test_generated_lines_match_bash(line: str) -> None:
    try:
        argvs, created = recognized(line)
    except NotUnderstood:
        return  # refusing is always allowed; accepting wrongly is not
    bash_argvs, bash_created, _ = bash_run(line)
    # bash looks a program up on PATH only when its name has no "/": the oracle cannot record the others
    # (the approval rules treat a program named by a path as opaque anyway)
    argvs = [argv for argv in argvs if "/" not in argv[0]]
    assert argvs == bash_argvs, line
    assert created == bash_created, line
