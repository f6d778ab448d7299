"""The read-only workspace view's path checks, directly and with generated paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.web.files import FileRefused, read_file, safe_path
from podium.web.security import allowed_hosts
from tests.conftest import examples


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    ws = root / "ws"
    (ws / "a" / "b").mkdir(parents=True)
    (ws / "a" / "file").write_text("in")
    (ws / "a" / "up").symlink_to(outside)
    (ws / "link").symlink_to(ws / "a")
    return ws


SEGMENTS = st.sampled_from(["a", "b", "..", ".", "", "file", "up", "link", "secret", "outside", "ws", "\x00", "C:"])


@settings(max_examples=examples(400))
@given(st.lists(SEGMENTS, max_size=6), st.booleans())
def test_no_generated_path_leaves_the_workspace_or_follows_a_link(tree: Path, parts: list[str], absolute: bool) -> None:
    relative = ("/" if absolute else "") + "/".join(parts)
    try:
        path = safe_path(tree, relative)
    except FileRefused:
        return
    assert path.resolve().is_relative_to(tree.resolve())
    for parent in [path, *path.parents]:
        if parent == tree.resolve() or not parent.is_relative_to(tree):
            break
        assert not parent.is_symlink()


def test_reading_stays_inside(tree: Path) -> None:
    assert read_file(tree, "a/file")["text"] == "in"
    for path in ("a/up/secret", "link/file", "../outside/secret"):
        with pytest.raises(FileRefused):
            read_file(tree, path)


def test_allowed_hosts() -> None:
    assert allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert "[::1]:9000" in allowed_hosts("::1", 9000)
    wide = allowed_hosts("0.0.0.0", 8765, ["box.lan"])
    assert "box.lan:8765" in wide
    assert "127.0.0.1:8765" in wide
    assert not any(h.startswith("0.0.0.0") for h in wide)
    assert allowed_hosts("box.lan", 8765) == {"box.lan:8765"}
