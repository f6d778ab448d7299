"""``podium sandbox run``: the same escape attempts through the command line, and its exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from tests.sandbox.conftest import Layout

from podium.cli.app import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sandbox", "run", *args])
    return result.exit_code, result.stdout, result.stderr


def test_exit_code_and_output(layout: Layout) -> None:
    code, out, err = run("-w", str(layout.ws), "--", "echo hello; echo oops >&2; exit 3")
    assert code == 3
    assert out == "hello\n"
    assert "oops" in err
    assert "exit code 3" in err


def test_argv_form(layout: Layout) -> None:
    code, out, _ = run("-w", str(layout.ws), "--", "printf", "%s|", "a b", "c")
    assert code == 0
    assert out == "a b|c|"


def test_timeout_is_124(layout: Layout) -> None:
    started = time.monotonic()
    code, _, err = run("-w", str(layout.ws), "--timeout", "1", "--", "trap '' TERM; sleep 30")
    assert code == 124
    assert "wall timeout" in err
    assert time.monotonic() - started < 8


def test_memory_limit_is_123(layout: Layout) -> None:
    code, _, err = run("-w", str(layout.ws), "--memory", "256", "--", f"{sys.executable} -c 'bytearray(4 * 1024**3)'")
    assert code == 123
    assert "MemoryError" in err


@pytest.mark.requires("bwrap")
def test_escapes_blocked(layout: Layout) -> None:
    os.symlink("/etc", layout.ws / "etc")
    attempts = [
        f"cat ../outside/secret.txt {layout.secret} ../ws2/secret.txt /proc/self/root{layout.secret}",
        f"echo pwned > {layout.outside}/cli.txt",
        "echo pwned > etc/podium-cli-escape",
    ]
    for line in attempts:
        code, out, _ = run("-w", str(layout.ws), "--backend", "bubblewrap", "--", line)
        assert code != 0
        assert "secret" not in out
    assert not (layout.outside / "cli.txt").exists()
    assert not os.path.exists("/etc/podium-cli-escape")


@pytest.mark.requires("bwrap")  # the default back-end is bubblewrap only where it works
def test_network_flag(layout: Layout, listener: int) -> None:
    probe = (
        f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {listener}), 3); print('up')\""
    )
    code, out, _ = run("-w", str(layout.ws), "--", probe)
    assert code != 0
    assert "up" not in out
    code, out, _ = run("-w", str(layout.ws), "--allow-network", "--", probe)
    assert code == 0
    assert out.strip() == "up"


def test_info_says_what_is_enforced(layout: Layout) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "info", "-w", str(layout.ws), "--backend", "process"])
    assert result.exit_code == 0
    assert "NOT isolation" in result.stdout


@pytest.mark.requires("bwrap")  # the default back-end (auto) is bubblewrap only where it works
def test_real_process(layout: Layout) -> None:
    """The installed entry point, in its own process."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from podium.cli import main; main()",
            "sandbox",
            "run",
            "-w",
            str(layout.ws),
            "-q",
            "--",
            f"echo $HOME; ls {layout.root}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # HOME is the workspace; /tmp is private: beside the workspace, its siblings are not there
    assert proc.stdout.split() == [str(layout.ws), "ws"]
    assert proc.stderr == ""


def test_bad_workspace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["sandbox", "run", "-w", str(tmp_path / "missing"), "--", "true"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
