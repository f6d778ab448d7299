"""find_files and search_files: the descriptor walk's bounds, and ripgrep's output checked before it is shown."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from tests.tools.builtin.conftest import SMALL, Env, text

from podium.tools.builtin import workspace_tools
from podium.tools.builtin.search import search_tools
from podium.tools.sandbox import SandboxPolicy, Workspace
from podium.tools.sandbox.walk import WalkLimits


def _search_tools(ws: Path, **options: Any) -> dict[str, Any]:
    return {t.name: t.fn for t in search_tools(Workspace(ws), **options)}


def test_walk_stops_at_the_entry_limit_and_says_so(tmp_path: Path) -> None:
    for i in range(100):
        (tmp_path / f"f{i:03d}.txt").write_text("x\n")
    tools = _search_tools(tmp_path, use_ripgrep=False, limits=WalkLimits(max_entries=50))
    out = tools["find_files"](pattern="*.txt")
    assert out.split("\n")[:2] == ["f000.txt", "f001.txt"]
    assert "[stopped after 50 directory entries: the results are incomplete; give a narrower path]" in out
    out = tools["search_files"](pattern="x")
    assert "stopped after 50 directory entries" in out


def test_depth_limit_names_the_first_directory_left_out(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.txt").write_text("x\n")
    (tmp_path / "a" / "shallow.txt").write_text("x\n")
    out = _search_tools(tmp_path, use_ripgrep=False, limits=WalkLimits(max_depth=2))["find_files"](pattern="*")
    note = "[1 directory deeper than 2 levels not entered, e.g. a/b/c; give that path to look inside]"
    assert out == "a/shallow.txt\n" + note


@pytest.mark.parametrize("ripgrep", [True, False], ids=["ripgrep", "python"])
def test_search_skips_a_hard_link_to_a_host_file(env: Env, ripgrep: bool) -> None:
    os.link(env.secret, env.ws / "hard.txt")
    (env.ws / "own.txt").write_text("my own secret\n")
    tools = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep)
    out = text(env.call_with(tools, "search_files", pattern="secret"))
    assert out.split("\n")[0] == "own.txt:1:my own secret"
    assert "outside secret" not in out


@pytest.mark.requires("rg")
def test_ripgrep_and_python_agree(env: Env) -> None:
    (env.ws / "src" / "pkg").mkdir(parents=True)
    (env.ws / "src" / "pkg" / "m.py").write_text("def f():\n    return 'Needle'\n# needle\n")
    (env.ws / "src" / "top.py").write_text("needle = 1\n")
    (env.ws / "notes.md").write_text("a needle in notes\n\nneedle again\n")
    (env.ws / "data.bin").write_bytes(b"needle\x00\x01")
    outputs = []
    for ripgrep in (True, False):
        tools = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep)
        for args in [
            {"pattern": "needle"},
            {"pattern": "needle", "ignore_case": True},
            {"pattern": "needle", "glob": "*.py"},
            {"pattern": "^needle", "path": "src"},
        ]:
            outputs.append(sorted(text(env.call_with(tools, "search_files", **args)).split("\n")))
    assert outputs[:4] == outputs[4:]
    assert outputs[1] == [
        "notes.md:1:a needle in notes",
        "notes.md:3:needle again",
        "src/pkg/m.py:2:    return 'Needle'",
        "src/pkg/m.py:3:# needle",
        "src/top.py:1:needle = 1",
    ]


@pytest.mark.requires("rg")
def test_ripgrep_stops_once_enough_lines_are_verified(tmp_path: Path) -> None:
    for i in range(20):
        (tmp_path / f"f{i:02d}.txt").write_text("hit\n" * 500)
    out = _search_tools(tmp_path, use_ripgrep=True)["search_files"](pattern="hit", max_results=10)
    lines = out.split("\n")
    assert len(lines) == 11
    assert lines[-1] == "[more matches not shown; narrow the search]"


def test_search_path_must_be_a_directory(env: Env) -> None:
    (env.ws / "f.txt").write_text("x\n")
    r = env.call("search_files", pattern="x", path="f.txt")
    assert r.is_error
    assert "'f.txt' is not a directory" in text(r)


FAKE_RG = """#!{python}
import json, sys
for message in {messages!r}:
    print(json.dumps(message))
"""


def _match(path: str, line: str, number: int = 1) -> dict[str, Any]:
    return {
        "type": "match",
        "data": {"path": {"text": path}, "lines": {"text": line}, "line_number": number, "submatches": []},
    }


def test_ripgrep_output_is_verified_not_trusted(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ripgrep that reports what it read through a swapped symlink: nothing it says is shown unchecked."""
    import sys

    os.symlink(env.outside, env.ws / "out")
    (env.ws / "in.txt").write_text("the real line\n")
    messages = [
        _match("./out/secret.txt", "outside secret\n"),  # read through a symlink
        _match("./in.txt", "outside secret\n"),  # a host line claimed for a workspace file
        _match("./in.txt", "the real line\n", number=7),  # the right text at the wrong line
        _match("./missing.txt", "outside secret\n"),
        _match("./in.txt", "the real line\n"),  # true
    ]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "rg"
    fake.write_text(FAKE_RG.format(python=sys.executable, messages=[json.loads(json.dumps(m)) for m in messages]))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = _search_tools(env.ws, use_ripgrep=True)["search_files"](pattern="secret|real")
    assert out == (
        "in.txt:1:the real line\n"
        "[4 matches were not shown: their file changed while searched, or is a symlink, hard link or too large]"
    )


@pytest.mark.requires("rg")
def test_no_descriptor_or_process_is_left_behind(env: Env) -> None:
    for i in range(30):
        (env.ws / f"d{i % 3}" / f"e{i % 5}").mkdir(parents=True, exist_ok=True)
        (env.ws / f"d{i % 3}" / f"e{i % 5}" / f"f{i}.txt").write_text("hit\n" * 50)
    rg = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=True)
    py = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=False)
    calls = [
        (rg, "search_files", {"pattern": "hit", "max_results": 3}),  # stopped early
        (rg, "search_files", {"pattern": "hit", "max_results": 100_000}),
        (py, "search_files", {"pattern": "hit", "max_results": 3}),
        (py, "find_files", {"pattern": "*.txt", "max_results": 2}),
        (py, "list_directory", {"path": "d1"}),
        (py, "read_file", {"path": "d1/e1/f1.txt"}),
    ]
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(10):
        for tools, name, args in calls:
            assert not env.call_with(tools, name, **args).is_error
    assert set(os.listdir("/proc/self/fd")) <= before
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    assert children == []


@pytest.mark.parametrize("ripgrep", [True, False], ids=["ripgrep", "python"])
def test_unreadable_directory_is_reported_not_fatal(env: Env, ripgrep: bool) -> None:
    """As a normal user the locked directory is reported; as root (which may read it) it is searched."""
    (env.ws / "locked").mkdir()
    (env.ws / "locked" / "in.txt").write_text("hit locked\n")
    (env.ws / "open.txt").write_text("hit open\n")
    (env.ws / "locked").chmod(0)
    try:
        readable = os.access(env.ws / "locked", os.R_OK | os.X_OK)
        tools = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep)
        found = text(env.call_with(tools, "find_files", pattern="*.txt"))
        searched = text(env.call_with(tools, "search_files", pattern="hit"))
    finally:
        (env.ws / "locked").chmod(0o755)
    if readable:
        assert found == "locked/in.txt\nopen.txt"
        assert sorted(searched.split("\n")) == ["locked/in.txt:1:hit locked", "open.txt:1:hit open"]
    else:
        assert found == "open.txt\n[1 directory could not be opened (permission denied)]"
        assert searched.split("\n")[0] == "open.txt:1:hit open"
        assert "hit locked" not in searched
