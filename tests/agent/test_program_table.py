"""The program table: what wrappers run, what is opaque, what files are written; sed checked against GNU sed."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import examples

from podium.tools.commands import CommandUnit, PathUnit, parse_command
from podium.tools.program_code import sed_problem


def commands(line: str) -> list[tuple[tuple[str, ...], bool]]:
    return [(u.argv, bool(u.opaque)) for u in parse_command(line).units if isinstance(u, CommandUnit)]


def written(line: str) -> list[str]:
    return [u.path for u in parse_command(line).units if isinstance(u, PathUnit) and u.access == "write"]


@pytest.mark.parametrize(
    ("line", "inner"),
    [
        ("env -i -u HOME -- rm x", ("rm", "x")),
        ("sudo -u bob -E rm x", ("rm", "x")),
        ("timeout -k 1 --signal=TERM 5 rm x", ("rm", "x")),
        ("nice -n 10 rm x", ("rm", "x")),
        ("nice -5 rm x", ("rm", "x")),
        ("ionice -c 3 rm x", ("rm", "x")),
        ("nohup rm x", ("rm", "x")),
        ("stdbuf -oL -eL rm x", ("rm", "x")),
        ("setsid -f rm x", ("rm", "x")),
        ("command rm x", ("rm", "x")),
        ("command time -f %e rm x", ("rm", "x")),
        ("find . -name a -exec rm -f {} \\;", ("rm", "-f", "{}")),
        ("uv run rm x", ("rm", "x")),
        ("poetry run rm x", ("rm", "x")),
        ("npx rm x", ("rm", "x")),
        ("bash -c 'rm x'", ("rm", "x")),
        ("sh -e -c 'rm x' name arg", ("rm", "x")),
    ],
)
def test_unwrapped_programs_are_judged_with_the_command_they_run(line: str, inner: tuple[str, ...]) -> None:
    found = commands(line)
    assert found[0] == (tuple(found[0][0]), False)
    assert (inner, False) in found


@pytest.mark.parametrize(
    "line",
    [
        "xargs rm",
        "env FOO=1 ls",
        "env -S 'ls'",
        "sudo -s",
        "python3 -c 1",
        "python",
        "perl -e 1",
        "node --eval 1",
        "deno eval 1",
        "php -r 1",
        "ruby -e 1",
        "awk '{system(\"x\")}'",
        "awk -f x.awk",
        "sed 1e",
        "sed -f s.sed",
        "git -c a=b status",
        "git foo",
        "git config user.name x",
        "tar -I x -cf a .",
        "rsync -e x a b",
        "make X=1",
        "rg --pre x y",
        "fd -x rm",
        "ssh h",
        "eval x",
        "exec ls",
        "bash",
        "bash -i",
        "zsh -c ls",
        "find . -delete",
        "/usr/bin/ls",
        "l* x",
    ],
)
def test_opaque_programs(line: str) -> None:
    assert any(opaque for _, opaque in commands(line)), line


@pytest.mark.parametrize(
    "line",
    [
        "python script.py",
        "python -m pytest -q",
        "node app.js",
        "awk '{print $1}' f",
        "awk --sandbox '{system(\"x\")}'",
        "sed -n 's/a/b/gp;/x/d' f",
        "sed -E 's|[/]|x|g; y/ab/cd/' f",
        "git status -s",
        "git config --get user.name",
        "git log --oneline",
        "tar -czf a.tgz src",
        "make test",
        "bash script.sh",
        "find . -name '*.py' -print",
        "rg -n foo src",
        "command -v ls",
    ],
)
def test_plain_uses_are_not_opaque(line: str) -> None:
    assert not any(opaque for _, opaque in commands(line)), (line, commands(line))


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("tee a b", ["a", "b"]),
        ("tee -a --output-error=warn a", ["a"]),
        ("cp a b c/", ["c/"]),
        ("cp -t dst a b", ["dst"]),
        ("mv a b", ["a", "b"]),
        ("ln -s target link", ["target", "link"]),
        ("rm -rf a b", ["a", "b"]),
        ("touch -d 2020-01-01 f", ["f"]),
        ("mkdir -p -m 755 d", ["d"]),
        ("chmod -x f", ["f"]),
        ("chmod -R 755 d", ["d"]),
        ("chown user:group f", ["f"]),
        ("truncate -s 0 f", ["f"]),
        ("dd if=a of=b", ["b"]),
        ("sed -i.bak s/a/b/ f g", ["f", "g"]),
        ("sort -o out in", ["out"]),
        ("git diff --output=p.diff", ["p.diff"]),
        ("find . -fprint list", ["list"]),
        ("command time -o t.txt ls", ["t.txt"]),
        ("cd sub && echo > f", ["f", "sub/f"]),
        ("echo > a 2>&1 >> b 2> c < d", ["a", "b", "c"]),
    ],
)
def test_files_written(line: str, paths: list[str]) -> None:
    assert written(line) == paths


# --------------------------------------------------------------------------- sed against GNU sed

_SED_PIECES = st.sampled_from(
    [
        "p",
        "d",
        "s/a/b/",
        "s|a|b|g",
        "s/[/]/x/",
        "s/a/\\//2",
        "s/a/b/w W1",
        "s/a/b/e",
        "s/a/touch E1/e",
        "y/ab/cd/",
        "a text",
        "a\\\nmore",
        "i\\",
        "c x",
        "b",
        "b lab",
        ":lab",
        "t",
        "T lab",
        "e touch E2",
        "w W2",
        "W W3",
        "r R",
        "{",
        "}",
        "=",
        "l",
        "l 3",
        "q",
        "n",
        "N",
        "h",
        "G",
        "x",
        "# c",
        "z",
        "F",
        "v",
    ]
)
_SED_ADDRESSES = st.sampled_from(["", "1", "$", "/a/", "\\,a,", "1,3", "/a/I", "0~2", "2!", "1,+1", "/a/,/b/"])
_SED_SEPARATORS = st.sampled_from([";", "\n", " ; ", " ", ""])


@st.composite
def _sed_script(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        parts.append(draw(_SED_ADDRESSES) + draw(_SED_PIECES))
        parts.append(draw(_SED_SEPARATORS))
    return "".join(parts)


def _gnu_sed_creates_files(script: str) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["sed", "-n", "--", script],
            cwd=tmp,
            input=b"a\nb\nc\n",
            capture_output=True,
            timeout=10,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
        return {p.name for p in Path(tmp).iterdir()}


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_sed_script())
def test_sed_scripts_called_safe_write_and_run_nothing_in_gnu_sed(script: str) -> None:
    if sed_problem(script):
        return
    assert _gnu_sed_creates_files(script) == set(), script


@pytest.mark.parametrize("script", ["b end w x", ":a;w x", "s/a/b/;w x", "y/a/b/;w x", "1!w x", "l 5;w x", "b;w x"])
def test_sed_scripts_that_write_are_caught(script: str) -> None:
    assert _gnu_sed_creates_files(script) == {"x"}
    assert sed_problem(script)


def test_sed_text_arguments_are_text() -> None:
    assert _gnu_sed_creates_files("a text;w x") == set()
    assert not sed_problem("a text;w x")


@pytest.mark.parametrize(
    ("line", "written"),
    [
        ("pytest --basetemp=.git", ".git"),
        ("pytest --basetemp .git -q", ".git"),
        ("pytest -o cache_dir=.git/hooks", ".git/hooks"),
        ("pytest -ocache_dir=x", "x"),
        ("pytest --junitxml=../r.xml", "../r.xml"),
        ("python -m pytest --basetemp=.git", ".git"),
        ("python3 -m pytest --override-ini=cache_dir=c", "c"),
    ],
)
def test_pytest_options_that_write(line: str, written: str) -> None:
    from podium.tools.commands import PathUnit, parse_command

    paths = [u.path for u in parse_command(line).units if isinstance(u, PathUnit) and u.access == "write"]
    assert any(p == written or p.endswith("/" + written.lstrip("./")) or p.endswith(written) for p in paths), paths


@pytest.mark.parametrize("line", ["git diff --ext-diff", "git log -p --ext-diff", "git show --ext-diff HEAD"])
def test_git_external_diff_is_opaque(line: str) -> None:
    from podium.tools.commands import CommandUnit, parse_command

    assert any(u.opaque for u in parse_command(line).units if isinstance(u, CommandUnit))
