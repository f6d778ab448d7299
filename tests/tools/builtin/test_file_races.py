"""Races and odd trees: a directory swapped for a symlink while the tools run, trees too deep to recurse.

The swap is done by a child process with ``renameat2(RENAME_EXCHANGE)``, so the name ``d`` always exists and
flips between the real directory and a symlink to a host directory holding a secret, as a shell command of the
same turn could do. Every output of every tool is checked for the secret. ``PODIUM_RACE_SECONDS`` lengthens
each race (default 1.5 s; the old, path-based tools leaked within it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.tools.builtin.conftest import SMALL, Env, text

from podium.tools.builtin import WorkspaceToolset, workspace_tools
from podium.tools.sandbox import SandboxPolicy

TOKEN = "HOSTSECRET7731"
RACE_SECONDS = float(os.environ.get("PODIUM_RACE_SECONDS", "1.5"))

SWAPPER = r"""
import ctypes, os, sys, time
a, b, deadline = sys.argv[1].encode(), sys.argv[2].encode(), float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
exchange = getattr(libc, "renameat2", None)
n = 0
while time.time() < deadline:
    for _ in range(200):
        if exchange is not None and exchange(-100, a, -100, b, 2) == 0:
            n += 1
            continue
        exchange = None  # no renameat2 here: swap by two renames (the name is missing for a moment)
        os.rename(a, a + b".tmp")
        os.rename(b, a)
        os.rename(a + b".tmp", b)
        n += 1
print(n)
"""


def _race_tree(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "d" / "sub").mkdir(parents=True)
    (ws / "d" / "inside.txt").write_text("inside text\n")
    (ws / "d" / "sub" / "deeper.txt").write_text("inside deeper\n")
    out = tmp_path / "host"
    (out / "sub").mkdir(parents=True)
    (out / "inside.txt").write_text(f"{TOKEN} in a host file\n")  # same names as inside: verification must compare
    (out / "sub" / "deeper.txt").write_text(f"{TOKEN} deeper\n")
    (out / f"{TOKEN}.txt").write_text(f"{TOKEN}\n")
    os.symlink(out, ws / ".swap")
    return ws


def _run_race(ws: Path, calls: list[Callable[[], str]]) -> tuple[int, list[str]]:
    """Run ``calls`` in a loop while a child process swaps ``d`` and ``.swap``; (swaps, outputs)."""
    deadline = time.time() + RACE_SECONDS
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(ws / "d"), str(ws / ".swap"), str(deadline)],
        stdout=subprocess.PIPE,
        text=True,
    )
    outputs: list[str] = []
    try:
        while swapper.poll() is None:
            for call in calls:
                out = call()
                assert TOKEN not in out, f"host content leaked:\n{out}"
                outputs.append(out)
    finally:
        stdout, _ = swapper.communicate(timeout=30)
    assert swapper.returncode == 0
    return int(stdout.strip() or 0), outputs


def _tools(ws: Path, ripgrep: bool) -> WorkspaceToolset:
    names = ["read_file", "list_directory", "find_files", "search_files"]
    return workspace_tools(ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep, include=names)


def _caller(tools: WorkspaceToolset) -> Callable[..., Callable[[], str]]:
    env = Env(Path(), Path(), Path(), tools)

    def make(name: str, **args: object) -> Callable[[], str]:
        return lambda: text(env.call(name, **args))

    return make


@pytest.fixture
def race_ws(tmp_path: Path) -> Path:
    return _race_tree(tmp_path)


def _assert_exercised(swaps: int, outputs: list[str], inside: str) -> None:
    assert swaps > 500, f"the swapper only managed {swaps} swaps"
    assert any(inside in out for out in outputs), "the tools never saw the real directory"


def test_find_files_never_lists_a_host_directory(race_ws: Path) -> None:
    make = _caller(_tools(race_ws, ripgrep=False))
    swaps, outputs = _run_race(race_ws, [make("find_files", pattern="*"), make("find_files", pattern="*", path="d")])
    _assert_exercised(swaps, outputs, "d/inside.txt")


@pytest.mark.parametrize("ripgrep", [True, False], ids=["ripgrep", "python"])
def test_search_files_never_reads_a_host_file(race_ws: Path, ripgrep: bool) -> None:
    make = _caller(_tools(race_ws, ripgrep))
    pattern = "host file|deeper|inside|SECRET"  # matches the host lines; the token itself is not in it
    swaps, outputs = _run_race(
        race_ws,
        [make("search_files", pattern=pattern), make("search_files", pattern=pattern, path="d")],
    )
    _assert_exercised(swaps, outputs, "d/inside.txt:1:inside text")


def test_list_and_read_never_follow_the_swap(race_ws: Path) -> None:
    make = _caller(_tools(race_ws, ripgrep=False))
    swaps, outputs = _run_race(
        race_ws,
        [
            make("list_directory", path="d"),
            make("read_file", path="d/inside.txt"),
            make("read_file", path="d/sub/deeper.txt"),
        ],
    )
    _assert_exercised(swaps, outputs, "inside text")


DEPTH = 3000


def _make_chain(root: Path, depth: int) -> None:
    """``root/d/d/.../d`` ``depth`` levels deep, built through descriptors (the path exceeds PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(1, depth + 1):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if level in (10, depth):
                wfd = os.open(f"level{level}.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(wfd, b"needle\n")
                os.close(wfd)
    finally:
        os.close(fd)


def _remove_chain(root: Path, name: str = "d") -> None:
    """Remove a chain made by :func:`_make_chain` without recursion (``shutil.rmtree`` recurses)."""
    current, n = name, 0
    while current:
        here, current = root / current, ""
        for entry in os.listdir(here):
            if (here / entry).is_dir() and not (here / entry).is_symlink():
                current, n = f".rm{n}", n + 1
                os.rename(here / entry, root / current)
            else:
                os.unlink(here / entry)
        os.rmdir(here)


@pytest.fixture(scope="module")
def deep_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ws = tmp_path_factory.mktemp("deep")
    (ws / "top.txt").write_text("needle\n")
    _make_chain(ws, DEPTH)
    yield ws
    _remove_chain(ws)


@pytest.fixture
def deep(deep_ws: Path) -> Env:
    return Env(deep_ws, deep_ws, deep_ws, _tools(deep_ws, ripgrep=False))


def test_deep_tree_find_files_is_bounded(deep: Env) -> None:
    r = deep.call("find_files", pattern="*.txt")
    assert not r.is_error
    lines = text(r).split("\n")
    assert lines[:2] == ["d/" * 10 + "level10.txt", "top.txt"]
    assert "deeper than 64 levels not entered" in lines[2]
    assert f"level{DEPTH}.txt" not in text(r)


@pytest.mark.parametrize("ripgrep", [True, False], ids=["ripgrep", "python"])
def test_deep_tree_search_is_bounded(deep: Env, ripgrep: bool) -> None:
    tools = workspace_tools(deep.ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep)
    r = deep.call_with(tools, "search_files", pattern="needle")
    assert not r.is_error
    out = text(r)
    assert "top.txt:1:needle" in out
    assert "d/" * 10 + "level10.txt:1:needle" in out
    assert f"level{DEPTH}.txt" not in out


def test_deep_path_is_reached_through_descriptors(deep: Env) -> None:
    bottom = "/".join(["d"] * DEPTH)  # about 6000 characters: longer than PATH_MAX, still opened level by level
    assert text(deep.call("list_directory", path=bottom)) == f"level{DEPTH}.txt  (7 bytes)"
    assert text(deep.call("read_file", path=f"{bottom}/level{DEPTH}.txt")) == "     1\tneedle"


def test_long_symlink_chain_is_refused_not_recursed(env: Env) -> None:
    (env.ws / "chain").mkdir()
    for i in range(DEPTH):
        os.symlink(f"l{i + 1}", env.ws / "chain" / f"l{i}")
    (env.ws / "chain" / f"l{DEPTH}").write_text("end\n")
    os.symlink("loop-b", env.ws / "loop-a")
    os.symlink("loop-a", env.ws / "loop-b")
    for tool, args in [
        ("read_file", {"path": "chain/l0"}),
        ("write_file", {"path": "chain/l0", "content": "x"}),
        ("list_directory", {"path": "loop-a"}),
        ("search_files", {"pattern": "end", "path": "loop-a"}),
    ]:
        r = env.call(tool, **args)
        assert r.is_error, tool
        assert "more than 40 symlinks" in text(r), (tool, text(r))
    assert text(env.call("read_file", path=f"chain/l{DEPTH - 40}")) == "     1\tend"  # 40 links: as the kernel allows
