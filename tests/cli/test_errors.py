"""The real ``podium`` command on bad input: one clear line, a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import PODIUM, podium, script

USAGE = 2  # README "exit codes": bad usage or configuration


def one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The error line on stderr; asserts it is alone, has ``words`` and no traceback."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ----------------------------------------------------------------------------- the database


def test_a_database_of_random_bytes(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "random.db"
    db.write_bytes(os.urandom(5000))
    for args in (["run", "--model", "test:echo", "--db", str(db), "hi"], ["chat", "--model", "test:echo", "-c"]):
        done = podium(args, {**cli_env, "PODIUM_DB": str(db)}, input="")
        assert done.returncode == USAGE
        one_clear_line(done, "random.db", "not a database", "Move it aside")


def test_a_truncated_database_is_not_an_empty_one(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    for i in range(15):
        assert podium(["run", "--model", "test:echo", "--db", str(db), f"m{i} " + "x" * 3000], cli_env).returncode == 0
    db.write_bytes(db.read_bytes()[:6000])
    done = podium(["run", "--model", "test:echo", "--db", str(db), "-c", "hi"], cli_env)
    assert done.returncode == USAGE
    line = one_clear_line(done, "malformed", "Move it aside")
    assert "no conversation to continue" not in line


def test_a_sqlite_database_of_another_program(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "places.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE moz_places (id INTEGER)")
    conn.commit()
    conn.close()
    done = podium(["run", "--model", "test:echo", "--db", str(db), "-c", "hi"], cli_env)
    assert done.returncode == USAGE
    one_clear_line(done, "another program", "moz_places", "--db FILE")


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_database_paths_that_are_not_files(cli_env: dict[str, str], tmp_path: Path, kind: str) -> None:
    path = {"directory": tmp_path, "fifo": tmp_path / "fifo.db", "device": Path("/dev/full")}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    done = podium(["run", "--model", "test:echo", "hi"], {**cli_env, "PODIUM_DB": str(path)}, timeout=30)
    assert done.returncode == USAGE
    one_clear_line(done, str(path), "give the path of a file")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only bind mount")
@pytest.mark.parametrize("existing", [False, True])
def test_a_database_on_a_read_only_file_system(cli_env: dict[str, str], tmp_path: Path, existing: bool) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    db = ro / "podium.db"
    if existing:
        assert podium(["run", "--model", "test:echo", "--db", str(db), "hi"], cli_env).returncode == 0
    mount = ["bwrap", "--bind", "/", "/", "--ro-bind", str(ro), str(ro), "--dev", "/dev", "--"]
    done = subprocess.run(
        [*mount, *PODIUM, "run", "--model", "test:echo", "--db", str(db), "-c" if existing else "hi", "again"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == USAGE
    one_clear_line(done, "read-only file system", "--db FILE")


def test_a_database_where_no_file_can_be_created(cli_env: dict[str, str]) -> None:
    done = podium(["run", "--model", "test:echo", "--db", "/proc/self/podium.db", "hi"], cli_env)
    assert done.returncode == USAGE  # even root cannot create files in /proc
    one_clear_line(done, "cannot write the conversation database", "files cannot be created in", "--db FILE")


# ----------------------------------------------------------------------------- the config file


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'model = "test:echo"\n# caf\xe9\n', ["not UTF-8", "line 2", "save it as UTF-8"]),
        (b"model = \n", ["not valid TOML", "line 1"]),
        (b"model = 5\n", ["model must be a non-empty string"]),
    ],
)
def test_a_config_file_that_cannot_be_used(
    cli_env: dict[str, str], tmp_path: Path, content: bytes, words: list[str]
) -> None:
    Path(cli_env["PODIUM_CONFIG"]).write_bytes(content)
    for args in (["run", "hi"], ["chat"], ["models"]):
        done = podium(args, cli_env, input="")
        assert done.returncode == USAGE, done.stderr
        one_clear_line(done, "config.toml", *words)


def test_a_config_path_that_is_a_directory(cli_env: dict[str, str], tmp_path: Path) -> None:
    Path(cli_env["PODIUM_CONFIG"]).mkdir()
    done = podium(["run", "hi"], cli_env)
    assert done.returncode == USAGE
    one_clear_line(done, "is a directory")


# ----------------------------------------------------------------------------- input that is not clean text


def test_invalid_utf8_on_argv_is_handled(cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [*PODIUM, "run", "--model", "test:echo", b"caf\xe9 \xff\xfe ok"], env=cli_env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == "caf\ufffd \ufffd\ufffd ok\n"
    assert b"Traceback" not in done.stderr
    assert b"3 byte(s) that are not UTF-8" in done.stderr
    again = podium(["run", "--model", "test:echo", "-c", "--json", "again"], cli_env)
    assert json.loads(again.stdout)["messages"][0]["parts"][0]["text"] == "caf\ufffd \ufffd\ufffd ok"


def test_invalid_utf8_and_nul_bytes_on_stdin(cli_env: dict[str, str]) -> None:
    run = subprocess.run(
        [*PODIUM, "run", "--model", "test:echo"], env=cli_env, input=b"caf\xe9\x00 bytes", capture_output=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == "caf\ufffd\x00 bytes\n"
    assert b"Traceback" not in run.stderr
    chat = subprocess.run(
        [*PODIUM, "chat", "--model", "test:echo"], env=cli_env, input=b"na\xefve\x00x\nhello\n", capture_output=True
    )
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout.decode()
    assert "na\ufffdve\x00x" in out and "hello" in out and "bye" in out
    assert b"Traceback" not in chat.stderr


def test_prompt_sources_and_limits(cli_env: dict[str, str]) -> None:
    piped = podium(["run", "--model", "test:echo"], cli_env, input="from stdin")
    assert (piped.returncode, piped.stdout) == (0, "from stdin\n")
    dash = podium(["run", "--model", "test:echo", "-"], cli_env, input="dash")
    assert (dash.returncode, dash.stdout) == (0, "dash\n")
    empty = podium(["run", "--model", "test:echo"], cli_env, input="  \n")
    assert empty.returncode == USAGE
    one_clear_line(empty, "the prompt is empty")
    huge = subprocess.run(
        [*PODIUM, "run", "--model", "test:echo"], env=cli_env, input=b"a" * (17 * 1024 * 1024), capture_output=True
    )
    assert huge.returncode == USAGE
    assert b"larger than 16 MiB" in huge.stderr and b"Traceback" not in huge.stderr


def test_rich_markup_in_user_text_is_shown_not_interpreted(cli_env: dict[str, str]) -> None:
    model = podium(["run", "--model", "nope[/x]:y", "hi"], cli_env)
    assert model.returncode == USAGE
    one_clear_line(model, "unknown provider 'nope[/x]'")
    chat = podium(["chat", "--model", "test:echo"], cli_env, input="/x[/bold]\n[/red] text\n")
    assert chat.returncode == 0, chat.stderr
    assert "unknown command /x[/bold]" in chat.stdout and "[/red] text" in chat.stdout


def test_output_that_cannot_be_written(cli_env: dict[str, str]) -> None:
    closed = subprocess.run(  # stdout closed (`>&-`): the answer goes nowhere, the run still completes
        ["sh", "-c", 'exec "$@" >&-', "sh", *PODIUM, "run", "--model", "test:echo", "hi"],
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert closed.returncode == 0, closed.stderr
    assert "Traceback" not in closed.stderr
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*PODIUM, "run", "--model", "test:echo", "hi"], env=cli_env, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 1
    one_clear_line(done, "cannot write the answer", "No space left on device")


def test_a_key_a_server_echoes_back_reaches_no_output_log_or_database(cli_env: dict[str, str], tmp_path: Path) -> None:
    from tests.key_echo_server import key_echo_server

    key = "sk-live-cli-0f1e2d3c4b5a69788796a5b4"
    with key_echo_server() as url:
        env = {**cli_env, "OPENAI_API_KEY": key, "OPENAI_BASE_URL": url + "/v1"}
        done = podium(["-vv", "run", "--model", "openai:gpt-4o-mini", "hello"], env)
        as_json = podium(["run", "--model", "openai:gpt-4o-mini", "--json", "-c", "again"], env)
    assert done.returncode == 3  # provider error
    assert "AuthenticationError" in done.stderr and "[REDACTED:OPENAI_API_KEY]" in done.stderr
    assert "DEBUG" in done.stderr  # the debug log was on, and scrubbed too
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["status"] == "error"
    for text in (done.stdout, done.stderr, as_json.stdout, as_json.stderr):
        assert key not in text
    db = Path(cli_env["PODIUM_DB"])
    assert key.encode() not in b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_a_long_answer_into_a_closed_pipe(cli_env: dict[str, str], tmp_path: Path) -> None:
    model = script(tmp_path / "long.json", ["\n".join(f"line {i}" for i in range(200_000))])
    proc = subprocess.Popen(
        [*PODIUM, "run", "--model", model, "go"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "Exception ignored" not in err
    assert err.strip() == "podium: the output was closed (broken pipe); stopped"
    after = podium(["run", "--model", "test:echo", "-c", "--json", "next"], cli_env)
    assert [m["role"] for m in json.loads(after.stdout)["messages"]][-2:] == ["user", "assistant"]


def test_chat_into_a_closed_pipe(cli_env: dict[str, str], tmp_path: Path) -> None:
    model = script(tmp_path / "long.json", ["\n".join(f"line {i}" for i in range(200_000))])
    proc = subprocess.Popen(
        [*PODIUM, "chat", "--model", model],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # rich alone would exit with 1 and say nothing
    assert err.strip() == "podium: the output was closed (broken pipe); stopped"
