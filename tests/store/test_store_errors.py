"""Files the store cannot use give a StoreError that says what is wrong and what to do, never a sqlite3 error."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from podium.messages import Message
from podium.store import SQLiteStore, StoreError, UnusableDatabaseError

ADVICE = "Move it aside"


def _filled(path: Path, conversations: int = 40) -> list[str]:
    ids = []
    with SQLiteStore(path) as store:
        for i in range(conversations):
            conv = store.create()
            store.append(conv.id, Message.user(f"message {i} " + "x" * 3000))
            ids.append(conv.id)
    return ids


def _read_everything(path: Path, ids: list[str]) -> None:
    with SQLiteStore(path) as store:
        store.list_conversations(limit=1000)
        for cid in ids:
            store.messages(cid)
            store.runs(cid)
            store.usage(cid)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(UnusableDatabaseError, match=rf"cannot open .*podium\.db as a SQLite database.*{ADVICE}"):
        SQLiteStore(path)


@pytest.mark.parametrize("keep", [100, 4096, 6000, 50_000])
def test_a_truncated_file(tmp_path: Path, keep: int) -> None:
    good = tmp_path / "good.db"
    _filled(good)
    path = tmp_path / "podium.db"
    path.write_bytes(good.read_bytes()[:keep])
    with pytest.raises(UnusableDatabaseError, match=ADVICE):
        SQLiteStore(path)


@pytest.mark.parametrize("page", [1, 3, 10, 25, 40])
def test_damaged_pages_fail_cleanly_wherever_they_are_read(tmp_path: Path, page: int) -> None:
    path = tmp_path / "podium.db"
    ids = _filled(path)
    data = bytearray(path.read_bytes())
    data[page * 4096 : (page + 2) * 4096] = os.urandom(2 * 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(UnusableDatabaseError, match=ADVICE):  # at open, or when the page is read: never sqlite3's
        _read_everything(path, ids)


def test_a_sqlite_file_of_another_program_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "places.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER, url TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(UnusableDatabaseError, match=r"another program \(tables: moz_places\).*--db FILE"):
        SQLiteStore(path)
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    conn.close()
    assert tables == ["moz_places"]  # nothing of Podium's was added


def test_an_empty_file_becomes_a_database(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    path.touch()
    with SQLiteStore(path) as store:
        assert store.list_conversations() == []


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE messages SET data = '{not json'",
        "UPDATE messages SET data = '{\"role\": 5}'",
        "UPDATE conversations SET created = 'yesterday'",
        "UPDATE conversations SET metadata = 'x'",
    ],
)
def test_rows_that_cannot_be_read(tmp_path: Path, sql: str) -> None:
    path = tmp_path / "podium.db"
    [cid] = _filled(path, 1)
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    with pytest.raises(UnusableDatabaseError, match=r"cannot be read .*damaged or was written by a newer Podium"):
        _read_everything(path, [cid])


def test_paths_that_are_not_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteStore(tmp_path)
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="not a regular file"):  # opening it would block forever
        SQLiteStore(fifo)
    with pytest.raises(StoreError, match="not a regular file"):
        SQLiteStore("/dev/full")
    parent_is_a_file = tmp_path / "file"
    parent_is_a_file.write_text("x")
    with pytest.raises(StoreError, match=r"Not a directory.*--db FILE"):
        SQLiteStore(parent_is_a_file / "podium.db")
    with pytest.raises(StoreError, match=r"Not a directory.*--db FILE"):
        SQLiteStore(parent_is_a_file / "sub" / "podium.db")


CHECK_READ_ONLY = """
import sys
from podium.store import ReadOnlyDatabaseError, SQLiteStore
try:
    SQLiteStore(sys.argv[1])
except ReadOnlyDatabaseError as exc:
    print(exc)
else:
    print("opened")
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only bind mount")
@pytest.mark.parametrize("existing", [False, True])
def test_a_read_only_file_system(tmp_path: Path, existing: bool) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    if existing:
        _filled(ro / "podium.db", 1)
    target = ro / ("podium.db" if existing else "sub/new.db")
    mount = ["bwrap", "--bind", "/", "/", "--ro-bind", str(ro), str(ro), "--dev", "/dev", "--"]
    done = subprocess.run(
        [*mount, sys.executable, "-c", CHECK_READ_ONLY, str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "read-only file system" in done.stdout, done.stdout
    assert "--db FILE or PODIUM_DB=FILE" in done.stdout
