"""The built-in tools' behaviour: reading, writing, editing, listing, finding, searching, shell, Python, todo."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest
from tests.tools.builtin.conftest import SMALL, Env, text

from podium import Agent
from podium.exceptions import UserError
from podium.messages import ToolCall, ToolResult
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.builtin import call_paths, parse_command, workspace_tools
from podium.tools.sandbox import SandboxPolicy, Workspace, WorkspaceError


def test_read_with_line_numbers_offset_and_limit(env: Env) -> None:
    (env.ws / "f.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = text(env.call("read_file", path="f.txt", offset=3, limit=2))
    assert out == "     3\tline 3\n     4\tline 4\n[lines 3-4 of 10; call again with offset=5 for more]"
    assert text(env.call("read_file", path="f.txt")).startswith("     1\tline 1\n")
    r = env.call("read_file", path="f.txt", offset=20)
    assert r.is_error
    assert "past the end" in text(r)


def test_binary_and_large_files_refused(env: Env) -> None:
    (env.ws / "b.bin").write_bytes(b"\x7fELF\x00\x01" * 10)
    r = env.call("read_file", path="b.bin")
    assert r.is_error
    assert "binary" in text(r)
    tools = workspace_tools(env.ws, SandboxPolicy(max_read_bytes=100, max_write_bytes=50))
    (env.ws / "big.txt").write_text("x" * 200)
    assert "read limit" in text(env.call_with(tools, "read_file", path="big.txt"))
    assert "write limit" in text(env.call_with(tools, "write_file", path="n.txt", content="y" * 51))


def test_write_creates_dirs_and_keeps_mode(env: Env) -> None:
    assert text(env.call("write_file", path="a/b/c.txt", content="hi\n")).startswith("Created a/b/c.txt")
    script = env.ws / "run.sh"
    script.write_text("old")
    script.chmod(0o755)
    env.call("read_file", path="run.sh")
    assert text(env.call("write_file", path="run.sh", content="new")).startswith("Overwrote")
    assert script.read_text() == "new"
    assert (script.stat().st_mode & 0o777) == 0o755
    assert [p for p in os.listdir(env.ws) if p.endswith(".tmp")] == []


def test_edit_requires_a_read_and_an_unchanged_file(env: Env) -> None:
    f = env.ws / "code.py"
    f.write_text("a = 1\nb = 1\n")
    r = env.call("edit_file", path="code.py", old_text="a = 1", new_text="a = 2")
    assert r.is_error
    assert "read 'code.py' with read_file" in text(r)
    env.call("read_file", path="code.py")
    f.write_text("a = 1\nb = 1\nc = 3\n")  # changed by someone else
    r = env.call("edit_file", path="code.py", old_text="a = 1", new_text="a = 2")
    assert r.is_error
    assert "changed since you last read it" in text(r)
    env.call("read_file", path="code.py")
    r = env.call("edit_file", path="code.py", old_text="= 1", new_text="= 5")
    assert r.is_error
    assert "appears 2 times" in text(r)
    r = env.call("edit_file", path="code.py", old_text="zzz", new_text="y")
    assert r.is_error
    assert "not found" in text(r)
    r = env.call("edit_file", path="code.py", old_text="b = 1", new_text="b = 7")
    assert not r.is_error
    assert "line 2" in text(r)
    r = env.call("edit_file", path="code.py", old_text="c = 3", new_text="c = 9")  # its own write counts as seen
    assert not r.is_error
    r = env.call("edit_file", path="code.py", old_text=" = ", new_text=" := ", replace_all=True)
    assert not r.is_error
    assert "3 occurrence" in text(r)
    assert f.read_text() == "a := 1\nb := 7\nc := 9\n"


def test_reads_are_tracked_per_agent_session(env: Env) -> None:
    (env.ws / "f.txt").write_text("x\n")
    env.call("read_file", agent="alice", path="f.txt")
    r = env.call("edit_file", agent="bob", path="f.txt", old_text="x", new_text="y")
    assert r.is_error
    assert "read 'f.txt'" in text(r)
    assert not env.call("edit_file", agent="alice", path="f.txt", old_text="x", new_text="y").is_error


def test_list_directory(env: Env) -> None:
    (env.ws / "d").mkdir()
    (env.ws / "f.txt").write_text("abc")
    os.symlink("/etc", env.ws / "l")
    assert text(env.call("list_directory")) == "d/\nf.txt  (3 bytes)\nl -> /etc"


def test_find_files_ignores_git_and_large_binaries(env: Env) -> None:
    (env.ws / ".git").mkdir()
    (env.ws / ".git" / "config.py").write_text("")
    (env.ws / "src" / "pkg").mkdir(parents=True)
    (env.ws / "src" / "pkg" / "m.py").write_text("")
    (env.ws / "top.py").write_text("")
    (env.ws / "model.py").write_bytes(b"\x00" * (2 << 20))  # a large binary
    assert text(env.call("find_files", pattern="*.py")).split() == ["src/pkg/m.py", "top.py"]
    assert text(env.call("find_files", pattern="src/**/*.py")).split() == ["src/pkg/m.py"]
    assert text(env.call("find_files", pattern="*.py", path="src")).split() == ["src/pkg/m.py"]
    assert "no files match" in text(env.call("find_files", pattern="*.rs"))


@pytest.mark.parametrize("ripgrep", [True, False])
def test_search_files(env: Env, ripgrep: bool) -> None:
    tools = workspace_tools(env.ws, SandboxPolicy(limits=SMALL), use_ripgrep=ripgrep)
    (env.ws / ".git").mkdir()
    (env.ws / ".git" / "HEAD").write_text("def hidden\n")
    (env.ws / "a.py").write_text("import os\ndef main():\n    pass\n")
    (env.ws / "b.txt").write_text("DEF upper\n")
    (env.ws / "c.bin").write_bytes(b"def \x00 binary")
    assert text(env.call_with(tools, "search_files", pattern=r"^def \w+")) == "a.py:2:def main():"
    out = text(env.call_with(tools, "search_files", pattern="def", ignore_case=True, glob="*.txt"))
    assert out == "b.txt:1:DEF upper"
    r = env.call_with(tools, "search_files", pattern="(unclosed")
    assert r.is_error
    assert "invalid regular expression" in text(r)


def test_shell_persistent_session_per_agent(env: Env) -> None:
    (env.ws / "sub").mkdir()
    out = text(env.call("run_shell", agent="alice", command="cd sub && export GREETING=hi && pwd"))
    assert out.startswith(str(env.ws / "sub"))
    out = text(env.call("run_shell", agent="alice", command="pwd; echo $GREETING"))
    assert out.split("\n")[:2] == [str(env.ws / "sub"), "hi"]
    out = text(env.call("run_shell", agent="bob", command="pwd; echo ${GREETING:-unset}"))
    assert out.split("\n")[:2] == [str(env.ws), "unset"]  # never shared between agents


def test_shell_reports_status_and_timeout(env: Env) -> None:
    out = text(env.call("run_shell", command="echo out; echo err >&2; exit 4"))
    assert out.startswith("out\n[stderr]\nerr\n[exit code 4;")
    out = text(env.call("run_shell", command="sleep 10", timeout=0.5))
    assert "killed: wall timeout" in out


def test_run_python(env: Env) -> None:
    out = text(env.call("run_python", code="import os\nprint(os.getcwd())\nprint(sum(range(10)))"))
    assert out.split("\n")[:2] == [str(env.ws), "45"]


def test_todo_list_lives_in_the_conversation(env: Env) -> None:
    todos = [{"content": "write tests", "status": "done"}, {"content": "ship", "status": "in_progress"}]
    r = env.call("todo_write", todos=todos)
    assert "1. [x] write tests\n2. [~] ship" in text(r)
    history = (
        _assistant(ToolCall("t1", "todo_write", {"todos": todos})),
        _tool(ToolResult("t1", "todo_write", ())),
    )
    assert text(env.call("todo_read", messages=history)) == "1. [x] write tests\n2. [~] ship"
    assert text(env.call("todo_read")) == "[the todo list is empty]"  # another conversation
    r = env.call(
        "todo_write", todos=[{"content": "a", "status": "in_progress"}, {"content": "b", "status": "in_progress"}]
    )
    assert r.is_error


def test_fetch_is_off_by_default_and_needs_network(env: Env) -> None:
    assert "fetch_url" not in {t.name for t in env.tools.get_tools()}
    with pytest.raises(UserError, match="allow_network"):
        workspace_tools(env.ws, SandboxPolicy(allow_fetch=True))


def test_fetch_from_a_local_server(env: Env) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the test server"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tools = workspace_tools(env.ws, SandboxPolicy(allow_fetch=True, allow_network=True))
        out = text(env.call_with(tools, "fetch_url", url=f"http://127.0.0.1:{server.server_port}/x"))
        assert out.endswith("hello from the test server")
        assert "HTTP 200" in out
        assert env.call_with(tools, "fetch_url", url="file:///etc/passwd").is_error
    finally:
        server.shutdown()


def test_agent_uses_the_tools(env: Env) -> None:
    model = ScriptedModel(
        [
            [call("write_file", {"path": "hello.py", "content": "print('hi')\n"})],
            [call("run_shell", {"command": "python hello.py"}), call("read_file", {"path": "../outside/secret.txt"})],
            "done",
        ]
    )
    result = Agent(model, tools=[env.tools], name="coder").run("make hello.py and run it")
    assert result.output == "done"
    results = [p for m in result.messages for p in m.parts if isinstance(p, ToolResult)]
    assert text(results[1]).startswith("hi\n[exit code 0")
    assert results[2].is_error
    assert "outside the workspace" in text(results[2])


def test_policy_helpers() -> None:
    assert call_paths("read_file", {"path": "a.txt"}) == ["a.txt"]
    assert call_paths("ws_write_file", {"path": "b", "content": "x"}) == ["b"]
    parsed = parse_command("rm  -rf /tmp/x && echo 'a b' | tee out 2>&1")
    assert parsed.commands == (("rm", "-rf", "/tmp/x"), ("echo", "a b"), ("tee", "out"))
    assert parsed.redirects == ("/tmp/x", "out")  # files written: by rm, by tee
    assert not parsed.opaque
    assert parse_command("FOO=1 rm x").opaque
    assert parse_command("echo $(id)").opaque
    assert parse_command("eval x").opaque


def test_workspace_refuses_a_symlink_swapped_in_after_the_check(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws_dir = tmp_path / "ws"
    (ws_dir / "d").mkdir(parents=True)
    (ws_dir / "d" / "f").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("outside secret")
    ws = Workspace(ws_dir)
    resolved = ws.resolve("d/f")
    # the race: after resolving, "d" becomes a symlink to the outside directory
    (ws_dir / "d" / "f").unlink()
    (ws_dir / "d").rmdir()
    os.symlink(outside, ws_dir / "d")
    monkeypatch.setattr(ws, "resolve", lambda path: resolved)
    with pytest.raises(WorkspaceError, match="changed while being opened"):
        ws.read_bytes("d/f")
    with pytest.raises(WorkspaceError, match="changed while being opened"):
        ws.write_bytes("d/f", b"pwned")
    assert (outside / "f").read_text() == "outside secret"


def test_workspace_cannot_be_root() -> None:
    with pytest.raises(WorkspaceError, match="cannot be '/'"):
        Workspace("/")


def _assistant(*parts: object):  # type: ignore[no-untyped-def]
    from podium.messages import Message

    return Message("assistant", tuple(parts))  # type: ignore[arg-type]


def _tool(*parts: object):  # type: ignore[no-untyped-def]
    from podium.messages import Message

    return Message("tool", tuple(parts))  # type: ignore[arg-type]


def test_two_agents_sharing_one_toolset_do_not_share_reads(tmp_path: Path) -> None:
    from podium import Agent
    from podium.testing import ScriptedModel
    from podium.testing.models import call

    (tmp_path / "f.txt").write_text("x\n")
    shared = workspace_tools(tmp_path, SandboxPolicy(limits=SMALL), include=["read_file", "edit_file"])
    reader = Agent(ScriptedModel([[call("read_file", {"path": "f.txt"})], "read"]), tools=[shared])
    editor = Agent(
        ScriptedModel([[call("edit_file", {"path": "f.txt", "old_text": "x", "new_text": "y"})], "tried"]),
        tools=[shared],
    )
    reader.run("read it")
    result = editor.run("edit it")
    edit = result.messages[2].tool_results[0]
    assert edit.is_error
    assert "read 'f.txt'" in edit.text
    assert (tmp_path / "f.txt").read_text() == "x\n"
