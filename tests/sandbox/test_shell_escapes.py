"""The escape suite, through the sandbox (what the shell and Python tools run).

Under bubblewrap every attempt is blocked or contained. The process back-end is not isolation: the tests
assert exactly what it does NOT contain (reading and writing outside the workspace, the network), so a
change in that is noticed, and what it does contain (limits, timeouts, leftovers).
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from tests.sandbox.conftest import SMALL, Layout, process_alive_with

from podium.tools.sandbox import Sandbox, SandboxPolicy, create_sandbox


def test_read_outside_via_dotdot_and_absolute(box: Sandbox, layout: Layout) -> None:
    for target in ("../outside/secret.txt", str(layout.secret), f"/proc/self/root{layout.secret}", "../ws2/secret.txt"):
        r = box.run_shell(f"cat {target}")
        if box.isolated:
            assert "secret" not in r.stdout, target
            assert r.exit_code != 0
        else:  # NOT contained by the process back-end: it is not isolation
            assert "secret" in r.stdout, target


def test_inside_symlink_to_outside(box: Sandbox, layout: Layout) -> None:
    os.symlink(layout.outside, layout.ws / "out")
    os.symlink("/etc", layout.ws / "etc")
    r = box.run_shell("cat out/secret.txt; echo pwned > out/new.txt")
    if box.isolated:
        assert "outside secret" not in r.stdout
        assert not (layout.outside / "new.txt").exists()
        r = box.run_shell("echo pwned > etc/podium-escape-test")
        assert "Read-only file system" in r.stderr
        assert not os.path.exists("/etc/podium-escape-test")
    else:  # NOT contained (the /etc write is not attempted: it would succeed on the host)
        assert "outside secret" in r.stdout
        assert (layout.outside / "new.txt").exists()


def test_write_outside_from_the_shell(box: Sandbox, layout: Layout) -> None:
    target = layout.outside / "written.txt"
    r = box.run_shell(f"mkdir -p {layout.outside} && echo pwned > {target}; echo done")
    assert "done" in r.stdout
    if box.isolated:
        assert not target.exists()  # /tmp is private: the write landed in a throw-away tmpfs
        r = box.run_shell("echo pwned > /usr/podium-escape-test")
        assert r.exit_code != 0
        assert "Read-only file system" in r.stderr
        assert not os.path.exists("/usr/podium-escape-test")
    else:
        assert target.read_text() == "pwned\n"  # NOT contained


def test_writing_inside_the_workspace_works(box: Sandbox, layout: Layout) -> None:
    r = box.run_shell("mkdir -p sub && echo hello > sub/f.txt && cat sub/f.txt && pwd")
    assert r.ok, r.for_model()
    assert (layout.ws / "sub" / "f.txt").read_text() == "hello\n"
    assert r.stdout.splitlines()[-1] == str(layout.ws)


def test_network_off(box: Sandbox, listener: int) -> None:
    code = f"import socket; socket.create_connection(('127.0.0.1', {listener}), timeout=3); print('connected')"
    r = box.run_python(code)
    if box.isolated:
        assert "connected" not in r.stdout
        assert "ConnectionRefusedError" in r.stderr or "Network is unreachable" in r.stderr
    else:
        assert "connected" in r.stdout  # NOT contained


@pytest.mark.requires("bwrap")
def test_network_allowed_by_policy(layout: Layout, listener: int) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", allow_network=True, limits=SMALL))
    r = box.run_python(f"import socket; socket.create_connection(('127.0.0.1', {listener}), timeout=3); print('ok')")
    assert r.stdout.strip() == "ok", r.for_model()


def test_environment_does_not_leak_secrets(box: Sandbox, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    r = box.run_shell("env")
    assert "sk-should-not-leak" not in r.stdout
    assert f"HOME={box.workspace.root}" in r.stdout


def test_process_limit_then_fork_bomb(layout: Layout, backend: str) -> None:
    policy = SandboxPolicy(backend=backend, limits=SMALL.replace(max_processes=16, wall_seconds=4))  # type: ignore[arg-type]
    box = create_sandbox(layout.ws, policy)
    # 1. a bounded flood: 60 children that each sleep; the limit must stop most of them
    flood = (
        "import os, time\n"
        "ok = fail = 0\n"
        "for _ in range(60):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        fail += 1\n"
        "        continue\n"
        "    if pid == 0:\n"
        "        time.sleep(2); os._exit(0)\n"
        "    ok += 1\n"
        "print(ok, fail)\n"
    )
    r = box.run_python(flood)
    ok, fail = map(int, r.stdout.split())
    assert ok + fail == 60
    assert ok <= 16, f"the process limit does not hold ({ok} forks succeeded); not running the fork bomb"
    # 2. only now the real fork bomb, marked so that its processes can be found afterwards
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    (layout.ws / f"{marker}.sh").write_text("f() { f | f & }; f\nsleep 30\n")
    started = time.monotonic()
    r = box.run(["/bin/bash", f"{marker}.sh"])
    assert time.monotonic() - started < 15
    assert r.killed_by == "timeout"
    time.sleep(0.2)
    assert process_alive_with(marker) == []


def test_four_gigabyte_allocation(box: Sandbox) -> None:
    r = box.run_python("x = bytearray(4 * 1024**3)\nprint('allocated')")
    assert "allocated" not in r.stdout
    assert "MemoryError" in r.stderr
    assert r.killed_by == "memory"
    assert r.cli_exit_code == 123
    assert r.peak_memory is not None
    assert r.peak_memory < 512 * 2**20


def test_printing_a_gigabyte(box: Sandbox) -> None:
    started = time.monotonic()
    r = box.run_shell("head -c 1000000000 /dev/zero | tr '\\0' x")
    assert time.monotonic() - started < 15
    assert r.killed_by == "output"
    assert r.stdout_bytes < 1_000_000_000
    assert len(r.stdout) < SMALL.max_output_chars + 200
    assert "bytes cut" in r.stdout


def test_large_output_keeps_head_and_tail(box: Sandbox) -> None:
    r = box.run_shell("seq 1 300000")
    assert r.ok
    assert r.stdout.startswith("1\n2\n3\n")
    assert r.stdout.rstrip().endswith("299999\n300000")
    assert "bytes cut" in r.stdout
    assert r.stdout_bytes == sum(len(str(i)) + 1 for i in range(1, 300001))


def test_ignoring_sigterm_past_the_timeout_runs_once(box: Sandbox, layout: Layout) -> None:
    started = time.monotonic()
    r = box.run_shell("echo run >> runs.txt; trap '' TERM; while :; do sleep 0.1; done", timeout=1)
    elapsed = time.monotonic() - started
    assert r.killed_by == "timeout"
    assert r.cli_exit_code == 124
    assert elapsed < 1 + SMALL.kill_grace + 3
    assert (layout.ws / "runs.txt").read_text() == "run\n"  # never re-run


def test_python_ignoring_sigterm(box: Sandbox) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)"
    r = box.run_python(code, timeout=1)
    assert r.timed_out
    assert r.stdout.strip() == "up"


def test_background_process_is_killed_when_the_command_returns(box: Sandbox, layout: Layout) -> None:
    marker = f"bg{uuid.uuid4().hex[:8]}"
    r = box.run_shell(f"(exec -a {marker} sleep 30) & (sleep 1; echo late > late.txt) & echo started")
    assert r.stdout.strip() == "started"
    assert r.wall_time < 5
    time.sleep(1.5)
    assert not (layout.ws / "late.txt").exists()
    assert process_alive_with(marker) == []


def test_background_process_in_a_new_session(box: Sandbox, layout: Layout) -> None:
    marker = f"sid{uuid.uuid4().hex[:8]}"
    r = box.run_shell(f"setsid bash -c 'exec -a {marker} sleep 30' < /dev/null > /dev/null 2>&1 & echo ok")
    assert r.stdout.strip() == "ok"
    time.sleep(0.3)
    # pid namespace (bubblewrap); the subreaper launcher and, as root, the cgroup (process back-end)
    assert process_alive_with(marker) == []


def test_cpu_limit(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL.replace(cpu_seconds=1)))  # type: ignore[arg-type]
    r = box.run_python("while True: pass")
    assert r.killed_by == "cpu"
    assert r.cli_exit_code == 123
    assert 0.5 < r.cpu_time < 3  # the kernel accounts CPU time by ticks: 0.78 s was seen for a 1 s limit


def test_file_size_limit(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL.replace(file_size_mb=1)))  # type: ignore[arg-type]
    r = box.run(["/bin/sh", "-c", "head -c 3000000 /dev/zero > big.bin"])
    assert r.killed_by == "file_size"
    assert (layout.ws / "big.bin").stat().st_size <= 1024 * 1024


def test_exit_code_and_usage_reported(box: Sandbox) -> None:
    r = box.run_python("import sys\nx = bytearray(64 * 2**20)\nx[::4096] = b'1' * len(x[::4096])\nsys.exit(7)")
    assert r.exit_code == 7
    assert r.killed_by is None
    assert r.cli_exit_code == 7
    assert r.peak_memory is not None
    assert 64 * 2**20 < r.peak_memory < 200 * 2**20
    assert r.cpu_time > 0
    assert r.wall_time > 0
    assert "exit code 7" in r.status_line()


def test_missing_program(box: Sandbox) -> None:
    r = box.run(["no-such-program-podium"])
    assert r.exit_code == 127
    assert "cannot run" in r.stderr
