from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.batch import TaskFileError, load_tasks
from podium.batch.tasks import finished_ids, tasks_from
from podium.exceptions import UserError


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_bad_line_is_named_and_nothing_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        [
            '{"id": "a", "prompt": "one"}',
            "not json",
            '{"id": "a", "prompt": "two"}',
            '{"prompt": ""}',
            '{"prompt": "x", "promt": "typo"}',
            '["a list"]',
            '{"prompt": "x", "agent": "no_colon"}',
            '{"prompt": "x", "metadata": 3}',
            '{"prompt": "x", "id": true}',
        ],
    )
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    lines = [line for line, _ in info.value.problems]
    assert lines == [2, 3, 4, 5, 6, 7, 8, 9]
    text = str(info.value)
    assert "line 3: id 'a' was already given on line 1" in text
    assert "'promt'" in text and "nothing was started" in text


def test_ids_default_to_a_content_hash_and_identical_lines_stay_apart(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        ['{"prompt": "same"}', "", "# a comment", '{"prompt": "same"}', '{"id": 7, "prompt": "x"}'],
    )
    tasks = load_tasks(path)
    assert [t.line for t in tasks] == [1, 4, 5]
    assert tasks[1].id == tasks[0].id + "-2"
    assert tasks[2].id == "7"
    moved = write(tmp_path / "u.jsonl", ['{"id": 9, "prompt": "new"}', '{"prompt": "same"}'])
    assert load_tasks(moved)[1].id == tasks[0].id  # the id follows the content, not the line number


def test_empty_file_and_missing_file_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no task"):
        load_tasks(write(tmp_path / "e.jsonl", ["", "# nothing"]))
    with pytest.raises(UserError, match="cannot read"):
        load_tasks(tmp_path / "missing.jsonl")
    with pytest.raises(TaskFileError):
        tasks_from(["ok", {"prompt": 3}])


def test_finished_ids_skip_a_line_cut_short(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(
        json.dumps({"id": "a", "status": "completed"})
        + "\n"
        + json.dumps({"id": "b", "status": "failed"})
        + '\n{"id": "c", "sta'
    )
    assert finished_ids(out) == {"a": "completed", "b": "failed"}
    assert finished_ids(out, include_failed=False) == {"a": "completed"}
