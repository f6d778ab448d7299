"""Memory search: which FTS5 tokenizer finds the right note, and how long a search takes.

Usage: ``python bench/memory_search.py [--notes 10000]``. Prints, for each candidate, how many of the labelled
queries find their note first (hit@1) and in the top 5 (hit@5), then the time of one search among ``--notes``
notes with Podium's choice (``podium.store.memory``).

The candidates, each over the same notes and queries (English with other word forms, accents, Chinese,
Japanese, Korean, questions written as users write them):

* ``unicode61``: ``unicode61 remove_diacritics 2``, words quoted and OR-ed;
* ``porter``: the same behind the Porter stemmer;
* ``trigram``: the ``trigram`` tokenizer, the query's words (3 characters or more) quoted and OR-ed;
* ``podium``: what the memory store does: porter + unicode61, CJK indexed per character and searched by
  overlapping character pairs, English stop words dropped from queries.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from podium.store.memory import MemoryScope, MemoryStore
from podium.store.memory_text import index_terms, match_expression

NOTES = [
    "The staging database is db-stage-2 on port 5433",
    "The user prefers British spelling in documentation",
    "Deploys happen on Tuesdays after the standup",
    "The build needs Rust 1.80 or newer",
    "Café meetings are held in Zürich every quarter",
    "The user's cat is called Miso",
    "Tests must run with pytest -n 2 on the CI machines",
    "The API rate limit is 600 requests per minute",
    "我喜欢喝绿茶, 不喜欢咖啡",
    "项目的数据库在上海的服务器上",
    "東京のオフィスは月曜日に休みです",
    "ユーザーは猫を二匹飼っている",
    "사용자는 매운 음식을 좋아한다",
    "회의는 매주 금요일 오후에 있다",
    "The naïve implementation was replaced by a B-tree index",
    "Logs are kept for ninety days, then archived to cold storage",
    "The frontend uses React 18 with TypeScript strict mode",
    "Releases are signed with the team's GPG key",
    "The user is allergic to peanuts",
    "Backups run nightly at 02:00 UTC",
]

QUERIES = [  # (query, index of the note that answers it)
    ("which database does staging use?", 0),
    ("what port is the staging db on", 0),
    ("spelling preference", 1),
    ("when do we deploy?", 2),
    ("rust version required", 3),
    ("cafe meeting in zurich", 4),
    ("what is my cat called", 5),
    ("how are tests run", 6),
    ("rate limits of the api", 7),
    ("喜欢喝茶吗", 8),
    ("咖啡", 8),
    ("数据库在哪里", 9),
    ("東京のオフィス", 10),
    ("猫", 11),
    ("매운 음식", 12),
    ("회의는 언제", 13),
    ("naive implementation", 14),
    ("how long are logs kept", 15),
    ("react version", 16),
    ("signing releases", 17),
    ("allergies", 18),
    ("when do backups run", 19),
]

_WORDS = re.compile(r"\w+")


def _quoted(query: str, minimum: int = 1) -> str | None:
    words = [w for w in _WORDS.findall(query) if len(w) >= minimum]
    return " OR ".join(f'"{w}"' for w in words) or None


def _plain(tokenizer: str, minimum: int = 1) -> Callable[[str], list[int]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{tokenizer}')")
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(NOTES))

    def search(query: str) -> list[int]:
        expression = _quoted(query, minimum)
        if expression is None:
            return []
        rows = conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 5", (expression,))
        return [r[0] for r in rows]

    return search


def _podium() -> Callable[[str], list[int]]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", [(i, index_terms(n)) for i, n in enumerate(NOTES)])

    def search(query: str) -> list[int]:
        expression = match_expression(query)
        if expression is None:
            return []
        rows = conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 5", (expression,))
        return [r[0] for r in rows]

    return search


def quality() -> None:
    candidates = {
        "unicode61": _plain("unicode61 remove_diacritics 2"),
        "porter": _plain("porter unicode61 remove_diacritics 2"),
        "trigram": _plain("trigram", minimum=3),
        "podium": _podium(),
    }
    print(f"{len(QUERIES)} queries over {len(NOTES)} notes")
    print("| tokenizer | hit@1 | hit@5 | missed |")
    print("|---|---|---|---|")
    for name, search in candidates.items():
        ranks = [(search(q), want) for q, want in QUERIES]
        top1 = sum(1 for found, want in ranks if found[:1] == [want])
        top5 = sum(1 for found, want in ranks if want in found)
        missed = [q for (q, want), (found, _) in zip(QUERIES, ranks, strict=True) if want not in found]
        print(f"| {name} | {top1} | {top5} | {'; '.join(missed)} |")


def speed(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp) / "bench.db")
        scope = MemoryScope("bench", "project")
        conn = store.db.connection()
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for i in range(count):
            text = f"{NOTES[i % len(NOTES)]} (variant {i})"
            cursor = conn.execute(
                "INSERT INTO memories (id, user, project, text, digest, created) VALUES (?, ?, ?, ?, ?, ?)",
                (f"{i:012x}", scope.user, scope.project, text, f"d{i}", "2026-01-01T00:00:00+00:00"),
            )
            conn.execute("INSERT INTO memories_fts (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, index_terms(text)))
        conn.execute("COMMIT")
        load = time.perf_counter() - started
        times = []
        for _ in range(5):
            for query, _want in QUERIES:
                t0 = time.perf_counter()
                store.search(query, scope, limit=5)
                times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(200):
            store.add(f"fresh note number {i}", scope)
        add = (time.perf_counter() - t0) / 200
        store.close()
    times.sort()
    print(f"\n{count:,} notes loaded in {load:.2f} s")
    print(
        f"search: median {statistics.median(times) * 1000:.2f} ms, p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms; "
        f"add (one transaction each, synchronous=FULL): {add * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--notes", type=int, default=10_000, help="notes in the speed test")
    args = parser.parse_args()
    quality()
    speed(args.notes)


if __name__ == "__main__":
    main()
