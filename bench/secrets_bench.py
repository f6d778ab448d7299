"""What scrubbing secrets costs: per call of ``scrub``, and per stored message.

Run: ``python bench/secrets_bench.py``. Prints the time of the store's scrubbing step (``json_text`` and
``plain_text`` on one serialized message, exactly what ``SQLiteStore`` adds per message) and of a whole
``store.append`` (``synchronous=NORMAL``, so the disk does not hide the difference), with no secrets, with
three provider keys set, and with 100 registered secrets.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import podium.secrets as secrets
from podium.messages import Message, Text, ToolCall, ToolResult, message_to_dict
from podium.store import SQLiteStore
from podium.store.clean import json_text, plain_text
from podium.store.history import preview_text

MESSAGES = [
    Message.user("Please look at the build log and tell me what failed " * 3),
    Message("assistant", (Text("Let me read it."), ToolCall("c1", "read_file", {"path": "build.log"}))),
    Message("tool", (ToolResult("c1", "read_file", (Text("error: x\n" * 200),)),)),
    Message.assistant("The linker failed because ... " * 20),
]
DOCUMENTS = [json.dumps(message_to_dict(m), ensure_ascii=False) for m in MESSAGES]
PREVIEWS = [preview_text(m) for m in MESSAGES]


def per_call(fn: Callable[[], object], rounds: int = 20000) -> float:
    """Median microseconds of ``fn`` over a few batches."""
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        batches.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(batches)


def scrub_step() -> None:
    for document, preview in zip(DOCUMENTS, PREVIEWS, strict=True):
        json_text(document)
        plain_text(preview)


def append_cost(root: Path, name: str, n: int = 2000) -> float:
    with SQLiteStore(root / f"{name}.db", synchronous="NORMAL") as store:
        conv = store.create()
        started = time.perf_counter()
        for i in range(n):
            store.append(conv.id, MESSAGES[i % 4])
        return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    for name in secrets.PROVIDER_KEY_ENV:
        os.environ.pop(name, None)
    root = Path(tempfile.mkdtemp())
    size = sum(len(d) for d in DOCUMENTS) // len(DOCUMENTS)
    print(f"messages of {size} characters of JSON on average")
    cases: list[tuple[str, Callable[[], None]]] = [
        ("no secrets", lambda: None),
        (
            "3 provider keys set",
            lambda: os.environ.update(
                {k: f"{k.lower()}-0123456789abcdef" for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY")}
            ),
        ),
        ("+ 100 registered", lambda: [secrets.register(f"registered-secret-{i:04d}-xyz") for i in range(100)]),
    ]
    for label, setup in cases:
        setup()
        step = per_call(scrub_step, 5000) / len(MESSAGES)
        text = per_call(lambda: secrets.scrub(DOCUMENTS[2]))
        append = append_cost(root, label.replace(" ", "_").replace("+", "plus"))
        print(
            f"{label:>22}: scrub step {step:6.2f} us/message, scrub() of 1.8 kB {text:6.2f} us, "
            f"store.append {append:7.1f} us/message"
        )


if __name__ == "__main__":
    main()
