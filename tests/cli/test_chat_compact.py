"""``/compact`` in ``podium chat``: the conversation is compacted with the session's model and the record saved."""

from __future__ import annotations

import json

from tests.cli.conftest import podium


def test_compact_command_saves_a_record_that_the_next_turn_uses(cli_env: dict[str, str]) -> None:
    lines = [f"message number {n} " + "words " * 200 for n in range(8)]
    out = podium(["chat", "--model", "test:echo"], cli_env, input="\n".join([*lines, *["/compact"] * 5, ""]))
    assert out.returncode == 0, out.stderr
    assert "[context compacted:" in out.stdout
    assert "(summarize" in out.stdout
    # each /compact goes at least halfway; at the end only the head and the last turn are left
    assert out.stdout.rstrip().splitlines()[-2].endswith("tokens)")
    assert "nothing to compact" in out.stdout

    doc = json.loads(podium(["run", "--model", "test:echo", "--continue", "--json", "still there?"], cli_env).stdout)
    records = [m for m in doc["messages"] if "compaction" in (m.get("provider_details") or {}).get("podium", {})]
    assert 1 <= len(records) <= 4
    assert doc["messages"][-1]["parts"][0]["text"] == "still there?"  # echo answers the last user message
    info = records[0]["provider_details"]["podium"]["compaction"]
    assert info["tokens_after"] < info["tokens_before"]


def test_compact_on_an_empty_conversation_says_so(cli_env: dict[str, str]) -> None:
    out = podium(["chat", "--model", "test:echo"], cli_env, input="/compact\n")
    assert out.returncode == 0, out.stderr
    assert "error" not in out.stdout.lower() or "nothing to compact" in out.stdout
