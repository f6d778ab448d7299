"""The tool thread pool: daemon threads, started on demand up to a limit and reused; an abandoned call does not
hold up the process's exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from podium.agent.drivers import ToolThreads, tool_pool


def test_threads_are_daemons_reused_and_bounded() -> None:
    pool = ToolThreads(2, name="t-test")
    gate = threading.Event()
    names: list[str] = []

    def work(n: int) -> int:
        names.append(threading.current_thread().name)
        assert threading.current_thread().daemon
        gate.wait(10)
        return n

    futures = [pool.submit(work, i) for i in range(5)]
    gate.set()
    assert [f.result(10) for f in futures] == [0, 1, 2, 3, 4]
    assert set(names) <= {"t-test_1", "t-test_2"}  # never more than two threads
    again = pool.submit(threading.current_thread)
    assert again.result(10).name in {"t-test_1", "t-test_2"}  # an idle thread is reused


def test_errors_reach_the_caller_and_a_shut_pool_refuses_work() -> None:
    pool = ToolThreads(1)
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(10)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(print)
    with pytest.raises(ValueError):
        ToolThreads(0)


def test_the_shared_pool_is_a_tool_threads_pool() -> None:
    assert isinstance(tool_pool(), ToolThreads) and tool_pool() is tool_pool()


CHILD = textwrap.dedent(
    """
    import threading, time
    from podium import Agent, CancelToken, tool
    from podium.exceptions import RunCancelled
    from podium.testing import ScriptedModel
    from podium.testing.models import call

    started = threading.Event()

    @tool
    def stubborn() -> str:
        '''Ignores cancellation for a minute.'''
        started.set()
        time.sleep(60)
        return "late"

    token = CancelToken()
    threading.Thread(target=lambda: started.wait(30) and token.cancel(), daemon=True).start()
    try:
        Agent(ScriptedModel([[call("stubborn")], "never"]), tools=[stubborn]).run("go", cancel=token)
    except RunCancelled as exc:
        print("cancelled", exc.messages[-1].tool_results[0].interrupted)
    """
)


def test_the_process_exits_while_an_abandoned_tool_still_runs() -> None:
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=40)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "cancelled True"
