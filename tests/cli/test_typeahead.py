"""The chat's reader of lines typed during an answer, on a real pipe and a real run."""

from __future__ import annotations

import os
import threading
import time

from podium import Agent
from podium.cli.chat import _TypedLines
from podium.cli.typeahead import TypeAhead
from podium.testing import ScriptedModel


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_lines_are_handed_over_in_order_and_reading_stops_at_once() -> None:
    r, w = os.pipe()
    lines: list[str] = []
    try:
        with TypeAhead(r, lines.append) as reader:
            os.write(w, "first\nsecond é\r\n".encode())
            wait_for(lambda: len(lines) == 2)
            os.write(w, b"bad \xff byte\n")
            wait_for(lambda: len(lines) == 3)
            started = time.monotonic()
        assert time.monotonic() - started < 1  # close() does not wait for more input
        assert not reader._thread.is_alive()
        assert lines == ["first", "second é", "bad \ufffd byte"]
        os.write(w, b"after close\n")  # left for whoever reads next (the next prompt)
        assert os.read(r, 100) == b"after close\n"
    finally:
        os.close(r)
        os.close(w)


def test_paused_reader_leaves_input_to_the_question() -> None:
    r, w = os.pipe()
    lines: list[str] = []
    try:
        with TypeAhead(r, lines.append) as reader:
            with reader.paused():
                os.write(w, b"y\n")
                time.sleep(0.2)
                assert lines == []  # not taken by the reader
                assert os.read(r, 10) == b"y\n"  # the question reads it
            os.write(w, b"steer\n")
            wait_for(lambda: lines == ["steer"])
    finally:
        os.close(r)
        os.close(w)


def test_typed_lines_go_into_the_run_commands_and_late_lines_wait() -> None:
    model = ScriptedModel(["first", "second"])
    stream = Agent(model).stream("q")
    typed = _TypedLines()
    typed.start(stream)  # not a terminal here: no reader thread, lines are fed by hand
    typed._line("  also this  ")
    typed._line("/cost")
    typed._line("   ")
    list(stream)
    typed._line("too late")  # the run has ended: it starts the next turn instead
    typed.stop()
    typed._line("after stop")
    assert [m.text for m in model.requests[0][0] if m.role == "user"] == ["q", "also this"]
    assert typed.later == ["/cost", "too late", "after stop"]


def test_a_send_from_the_reader_thread_races_the_end_of_the_run_without_loss() -> None:
    for _ in range(20):
        model = ScriptedModel(["a", "b", "c"])
        stream = Agent(model).stream("q")
        typed = _TypedLines()
        typed.start(stream)
        sender = threading.Thread(target=typed._line, args=("racing",))
        sender.start()
        list(stream)
        sender.join()
        delivered = any(m.text == "racing" for m in stream.result.messages)
        assert delivered != ("racing" in typed.later)  # exactly one of the two
