"""The memory store on real SQLite files: scopes, duplicates, bad input, FTS5 syntax attacks, Unicode, ranking."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium.exceptions import UserError
from podium.store import InvalidNoteError, MemoryScope, MemoryStore, NotFoundError, SQLiteStore
from podium.store.memory_text import MAX_NOTE_CHARS, match_expression

A = MemoryScope("ada", "/src/engine")
B = MemoryScope("ada", "/src/website")
BOB = MemoryScope("bob", "/src/engine")


@pytest.fixture
def memories(db_path: Path) -> MemoryStore:
    store = MemoryStore(db_path)
    yield store  # type: ignore[misc]
    store.close()


def texts(notes: list[object]) -> list[str]:
    return [n.text for n in notes]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- scopes


def test_a_note_of_one_scope_is_never_seen_listed_or_forgotten_from_another(memories: MemoryStore) -> None:
    note = memories.add("The build needs Rust 1.80", A).note
    for other in (B, BOB):
        assert memories.search("rust build", other) == []
        assert memories.notes(other) == []
        assert memories.count(other) == 0
        with pytest.raises(NotFoundError) as elsewhere:
            memories.delete(note.id, other)
        with pytest.raises(NotFoundError) as never:
            memories.delete("0123456789ab", other)
        # another scope's id reads exactly like an id that never existed: nothing leaks
        assert str(elsewhere.value).replace(note.id, "X") == str(never.value).replace("0123456789ab", "X")
        with pytest.raises(NotFoundError):
            memories.get(note.id, other)
    assert texts(memories.search("rust", A)) == ["The build needs Rust 1.80"]  # still there
    assert memories.delete(note.id, A).id == note.id
    assert memories.count(A) == 0


def test_user_level_notes_are_seen_by_every_project_of_that_user_only(memories: MemoryStore) -> None:
    saved = memories.add("Prefers British spelling", A, level="user")
    assert saved.note.project == "" and saved.note.level == "user"
    assert texts(memories.search("spelling", B)) == ["Prefers British spelling"]
    assert memories.search("spelling", BOB) == []
    assert memories.delete(saved.note.id, B).text == "Prefers British spelling"  # the user's own note
    assert memories.count(A) == 0


def test_scope_keys_are_checked() -> None:
    for user, project in (("", "p"), ("ada\x00", "p"), (" ada", "p"), ("ada", "p\x1b[31m")):
        with pytest.raises(UserError):
            MemoryScope(user, project)
    assert MemoryScope("ada", "").project == ""


# --------------------------------------------------------------------------- duplicates and bad input


def test_the_same_note_saved_twice_is_kept_once(memories: MemoryStore) -> None:
    first = memories.add("The staging DB is db-stage-2", A)
    again = memories.add("  the staging db   is DB-STAGE-2 \n", A)
    assert first.created and not again.created
    assert again.note.id == first.note.id
    assert memories.count(A) == 1
    other = memories.add("The staging DB is db-stage-2", B)  # another scope: its own note
    assert other.created and other.note.id != first.note.id
    mine = memories.add("Prefers tabs", A, level="user")
    assert memories.add("prefers tabs", B).note.id == mine.note.id  # already seen from every project
    assert memories.add("Prefers tabs", BOB).created  # not another user's


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * (MAX_NOTE_CHARS + 1), "4,001 characters long; the limit is 4,000"),
        ("binary\x00data", "NUL at position 6"),
        ("\x1b[31mred", "ESC at position 0"),
        ("bad \udcff byte", "not valid text"),
        (b"bytes", "must be text"),
        (None, "must be text"),
        (42, "must be text"),
    ],
)
def test_bad_notes_are_refused_and_nothing_is_written(memories: MemoryStore, text: object, says: str) -> None:
    memories.add("an earlier note", A)
    with pytest.raises(InvalidNoteError, match=says.replace("(", r"\(")):
        memories.add(text, A)  # type: ignore[arg-type]
    assert texts(memories.notes(A)) == ["an earlier note"]


def test_the_longest_note_and_tabs_and_newlines_are_fine(memories: MemoryStore) -> None:
    assert memories.add("y" * MAX_NOTE_CHARS, A).created
    assert memories.add("line one\n\tline two", A).note.text == "line one\n\tline two"


@pytest.mark.parametrize("bad", ["", "zz", "0123456789ABCDEF", "../../etc", "0123456789a", None, 12, "' OR 1=1 --"])
def test_malformed_ids_are_refused_with_what_an_id_looks_like(memories: MemoryStore, bad: object) -> None:
    with pytest.raises(InvalidNoteError, match="12 hex digits"):
        memories.delete(bad, A)  # type: ignore[arg-type]


def test_ids_are_accepted_in_either_case_and_with_spaces(memories: MemoryStore) -> None:
    note = memories.add("case", A).note
    assert memories.get(f" {note.id.upper()} ", A).id == note.id


@pytest.mark.parametrize("limit", [0, -1, 201, True, 2.5, "5"])
def test_limits_out_of_range_are_refused(memories: MemoryStore, limit: object) -> None:
    with pytest.raises(InvalidNoteError, match="limit must be"):
        memories.search("x", A, limit=limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidNoteError, match="limit must be"):
        memories.notes(A, limit=limit)  # type: ignore[arg-type]


def test_a_secret_in_a_note_is_scrubbed_before_it_is_written(memories: MemoryStore) -> None:
    saved = memories.add("the deploy key is api_key=sk-proj-abcdefghijklmnopqrstuvwx1234", A)
    assert saved.scrubbed
    assert "sk-proj" not in saved.note.text and "[REDACTED" in saved.note.text
    raw = sqlite3.connect(memories.path).execute("SELECT group_concat(terms) FROM memories_fts").fetchone()[0]
    assert "abcdefghij" not in raw


# --------------------------------------------------------------------------- searching


ATTACKS = [
    '"',
    '"rust',
    'rust"',
    "rust*",
    "*",
    "-rust",
    "NOT rust",
    "rust AND",
    "OR",
    "NEAR(rust build, 2)",
    "terms:rust",
    "{terms}:rust",
    "(rust",
    "rust)",
    "^rust",
    "rust + build",
    "memories_fts MATCH 'x'",
    "'; DROP TABLE memories; --",
    "\\",
    "...",
    "!!!???",
    "🙂",
]


@pytest.mark.parametrize("query", ATTACKS)
def test_fts5_syntax_in_a_query_is_never_parsed(memories: MemoryStore, query: str) -> None:
    memories.add("The build needs Rust 1.80", A)
    found = memories.search(query, A)
    words = {w.lower() for w in ("rust", "build") if w in query.lower()}
    assert texts(found) == (["The build needs Rust 1.80"] if words else [])
    assert memories.count(A) == 1  # still there (no DROP TABLE ran)


def test_a_query_of_only_punctuation_finds_nothing_and_says_so() -> None:
    assert match_expression("!!! ... ???") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=60))
def test_any_text_is_a_safe_query(memories: MemoryStore, query: str) -> None:
    memories.add("fixture note about rust", A)
    try:
        found = memories.search(query, A)
    except InvalidNoteError:  # empty, control characters, lone surrogates: refused with a message
        return
    assert all(n.user == "ada" for n in found)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.from_regex(r"[a-z]{4,9}", fullmatch=True), min_size=1, max_size=6))
def test_every_word_of_a_note_finds_it(memories: MemoryStore, words: list[str]) -> None:
    note = memories.add(" ".join(words) + " zq", A).note
    for word in words:
        assert note.id in [n.id for n in memories.search(f"{word}?", A, limit=200)]


@pytest.mark.parametrize(
    ("note", "query"),
    [
        ("Café au lait every morning", "cafe"),
        ("Meeting in Zürich on Monday", "zurich"),
        ("naïve Bayes works here", "NAIVE"),
        ("我喜欢喝茶", "茶"),
        ("我喜欢喝茶", "喜欢喝茶吗"),
        ("東京に住んでいます", "東京"),
        ("고양이는 귀엽다", "고양이"),
        ("\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 letters", "fullwidth"),  # full-width
        ("She prefers tea", "preference"),
    ],
)
def test_unicode_and_stems(memories: MemoryStore, note: str, query: str) -> None:
    memories.add(note, A)
    memories.add("unrelated filler", A)
    assert texts(memories.search(query, A)) == [note]


def test_cjk_is_matched_as_consecutive_characters(memories: MemoryStore) -> None:
    memories.add("喝水 then 茶", A)
    assert memories.search("喝茶", A) == []


def test_more_matching_words_rank_first_and_ties_are_newest_first(memories: MemoryStore) -> None:
    one = memories.add("the cat sleeps", A).note
    both = memories.add("the cat is called Miso", A).note
    tie = memories.add("another cat story", A).note
    found = memories.search("cat Miso", A)
    assert found[0].id == both.id
    assert [n.id for n in found[1:]] == [tie.id, one.id]  # equal bm25 ... newest first
    assert found[0].score is not None and found[0].score < found[1].score  # type: ignore[operator]


def test_stop_words_do_not_drown_a_query(memories: MemoryStore) -> None:
    memories.add("it is what it is", A)
    memories.add("the staging database is db-stage-2", A)
    assert texts(memories.search("what is the staging database?", A)) == ["the staging database is db-stage-2"]
    # only stop words: they are all searched for, the note with most of them first
    assert texts(memories.search("what is it", A))[0] == "it is what it is"


# --------------------------------------------------------------------------- the file


def test_memories_share_the_conversation_database(db_path: Path) -> None:
    with SQLiteStore(db_path) as conversations, MemoryStore(db_path) as memories:
        conv = conversations.create(title="chat")
        memories.add("shared file", A)
        assert conversations.get(conv.id).title == "chat"
        assert memories.count(A) == 1


def test_a_missing_or_stale_index_is_rebuilt(db_path: Path) -> None:
    with MemoryStore(db_path) as memories:
        memories.add("the cat is called Miso", A)
        memories.add("the dog is called Rex", A)
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE memories_fts")
    conn.commit()
    conn.close()
    with MemoryStore(db_path) as memories:
        assert texts(memories.search("miso", A)) == ["the cat is called Miso"]
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM memories_fts")
    conn.commit()
    conn.close()
    with MemoryStore(db_path) as memories:
        assert texts(memories.search("rex", A)) == ["the dog is called Rex"]


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(Exception, match="another program"):
        MemoryStore(path)
