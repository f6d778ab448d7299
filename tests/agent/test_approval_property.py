"""Property: a command line built around one forbidden program is never allowed, however it is dressed up.

A grammar builds lines from ``rm`` (spelled in several ways) by wrapping it in wrappers and runners, shells
and ``eval``, substitutions, compound commands and functions, here-documents fed to a shell, chains and
pipes with harmless commands (themselves quoted in odd ways), and redirections. Every line really runs
``rm``; under a policy that allows only harmless programs, or one that also allows every wrapper by name,
the decision must never be Allow.
"""

from __future__ import annotations

import shlex

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policies import harmless, permissive, shell_decision
from tests.conftest import examples

from podium.agent.approval import Allow

HARMLESS_POLICY = harmless()
PERMISSIVE_POLICY = permissive()

FORBIDDEN = st.sampled_from(
    ["rm x", "rm -rf ~", "r''m x", "\\rm x", '"rm" -f x', "'r'm x", "/bin/rm x", "rm  -rf  .", "RM x", "rm\\\n x"]
)
HARMLESS = st.sampled_from(
    ["ls", "l''s -la", '"ls"', "\\ls src", "echo 'a; rm x'", 'echo "a && b"', "git status", "cat README.md", "pwd"]
)
OPERATORS = st.sampled_from([";", " ; ", "&&", " || ", "|", "|&", " & ", "\n", ";\n", " &&\n"])


def _grammar(program: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Lines that run ``program``, dressed up in up to four layers."""
    return st.recursive(program, lambda inner: _wrappers(inner, program), max_leaves=4)


def _wrappers(inner: st.SearchStrategy[str], program: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """One more layer around a line that runs ``program``."""
    return st.one_of(
        # wrappers and runners that run their arguments
        st.tuples(
            st.sampled_from(
                [
                    "env ",
                    "env -i ",
                    "sudo ",
                    "sudo -u root ",
                    "timeout 5 ",
                    "nice -n 3 ",
                    "nohup ",
                    "command ",
                    "time ",
                    "stdbuf -oL ",
                    "setsid ",
                    "xargs ",
                    "exec ",
                    "builtin ",
                ]
            ),
            program,
        ).map("".join),
        program.map(lambda f: f"find . -exec {f} {{}} \\;"),
        program.map(lambda f: f"find . -name x -execdir {f} {{}} +"),
        # shells and evaluators given the line as a string
        inner.map(lambda s: f"bash -c {shlex.quote(s)}"),
        inner.map(lambda s: f"sh -ec {shlex.quote(s)}"),
        inner.map(lambda s: f"eval {shlex.quote(s)}"),
        inner.map(lambda s: f"python3 -c {shlex.quote(f'import os; os.system({s!r})')}"),
        inner.map(lambda s: f"echo {shlex.quote(s)} | bash"),
        inner.map(lambda s: f"bash <<'EOF'\n{s}\nEOF"),
        inner.map(lambda s: f"cat <<'EOF' | sh\n{s}\nEOF"),
        # substitutions
        inner.map(lambda s: f"$({s})"),
        inner.map(lambda s: f'echo "$({s})"'),
        inner.map(lambda s: f"ls $({s})"),
        program.map(lambda f: f"echo `{f}`"),
        inner.map(lambda s: f"cat <({s})"),
        # compound commands and functions
        inner.map(lambda s: f"{{ {s}; }}"),
        inner.map(lambda s: f"({s})"),
        inner.map(lambda s: f"if true; then {s}; fi"),
        inner.map(lambda s: f"for i in 1; do {s}; done"),
        inner.map(lambda s: f"f(){{ {s}; }}; f"),
        inner.map(lambda s: f"! {s}"),
        # chains and pipes with harmless commands, on either side
        st.tuples(HARMLESS, OPERATORS, inner).map("".join),
        st.tuples(inner, OPERATORS, HARMLESS).map("".join),
        st.tuples(HARMLESS, OPERATORS, inner, OPERATORS, HARMLESS).map("".join),
        # redirections around it
        st.tuples(
            inner,
            st.sampled_from([" > out", " 2>&1", " < /dev/null", " >/dev/null 2>&1", " >> log", " &> both"]),
        ).map("".join),
        inner.map(lambda s: f"2>/dev/null {s}"),
    )


LINES = _grammar(FORBIDDEN)


@settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_a_line_that_runs_a_forbidden_program_is_never_allowed(line: str) -> None:
    assert not isinstance(shell_decision(HARMLESS_POLICY, line), Allow), line
    assert not isinstance(shell_decision(PERMISSIVE_POLICY, line), Allow), line


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_grammar_is_not_refused_wholesale(data: st.DataObject) -> None:
    """The same grammar around harmless programs is often allowed: the property above is not vacuous."""
    grammar = _grammar(st.sampled_from(["wc x", "w''c -l x", '"grep" y x']))
    lines = [data.draw(grammar) for _ in range(300)]
    allowed = [line for line in lines if isinstance(shell_decision(PERMISSIVE_POLICY, line), Allow)]
    assert len(allowed) >= 30, len(allowed)
