"""The escape suite through the file tools: every attempt is refused with a clear error to the model."""

from __future__ import annotations

import os

import pytest
from tests.tools.builtin.conftest import Env, text


def attempts(env: Env) -> list[str]:
    os.symlink("/etc", env.ws / "etc")
    os.symlink(env.outside, env.ws / "out")
    os.symlink(env.secret, env.ws / "secret-link")
    os.symlink(env.outside / "new.txt", env.ws / "dangling")
    (env.ws / "a").mkdir()
    return [
        "../outside/secret.txt",
        str(env.secret),
        "etc/passwd",
        "out/secret.txt",
        "secret-link",
        "dangling",
        "../ws2/secret.txt",
        str(env.ws) + "2/secret.txt",
        f"/proc/self/root{env.secret}",
        "/proc/self/root/etc/passwd",
        "./a/../../outside/secret.txt",
        "/etc/passwd",
    ]


def test_reads_refused(env: Env) -> None:
    for path in attempts(env):
        r = env.call("read_file", path=path)
        assert r.is_error, path
        assert "outside the workspace" in text(r), (path, text(r))
        assert "secret" not in text(r).split("(")[0] or "secret" in path


def test_writes_refused(env: Env) -> None:
    for path in attempts(env):
        r = env.call("write_file", path=path, content="pwned")
        assert r.is_error, path
        assert "outside the workspace" in text(r), (path, text(r))
    assert env.secret.read_text() == "outside secret\n"
    assert not (env.outside / "new.txt").exists()
    assert sorted(os.listdir(env.outside)) == ["secret.txt"]


def test_other_tools_refuse_outside_paths(env: Env) -> None:
    for name, args in [
        ("list_directory", {"path": ".."}),
        ("find_files", {"pattern": "*", "path": "../outside"}),
        ("search_files", {"pattern": "secret", "path": "../outside"}),
        ("edit_file", {"path": "../outside/secret.txt", "old_text": "outside", "new_text": "x"}),
        ("run_shell", {"command": "ls", "cwd": "../outside"}),
    ]:
        r = env.call(name, **args)
        assert r.is_error, name
        assert "outside the workspace" in text(r), (name, text(r))


def test_hard_link_to_outside_file(env: Env) -> None:
    os.link(env.secret, env.ws / "hard")  # same file system (both under tmp_path): creatable
    r = env.call("read_file", path="hard")
    assert r.is_error
    assert "hard links" in text(r)
    r = env.call("write_file", path="hard", content="pwned")
    assert r.is_error
    assert "hard links" in text(r)
    assert env.secret.read_text() == "outside secret\n"


def test_symlink_inside_to_inside_is_followed(env: Env) -> None:
    (env.ws / "real.txt").write_text("hello\n")
    os.symlink("real.txt", env.ws / "alias.txt")
    r = env.call("read_file", path="alias.txt")
    assert not r.is_error
    assert "hello" in text(r)


def test_search_does_not_follow_symlinks_out(env: Env) -> None:
    os.symlink(env.outside, env.ws / "out")
    (env.ws / "in.txt").write_text("a secret inside\n")
    r = env.call("search_files", pattern="secret")
    assert text(r) == "in.txt:1:a secret inside"
    r = env.call("find_files", pattern="*.txt")
    assert text(r) == "in.txt"


@pytest.mark.parametrize("path", ["", "a\x00b"])
def test_bad_paths(env: Env, path: str) -> None:
    r = env.call("read_file", path=path)
    assert r.is_error
    assert "empty" in text(r) or "NUL" in text(r)


def test_fifo_and_directory_refused(env: Env) -> None:
    os.mkfifo(env.ws / "pipe")
    (env.ws / "d").mkdir()
    assert "not a regular file" in text(env.call("read_file", path="pipe"))  # and it did not block
    assert "a directory" in text(env.call("read_file", path="d"))
