"""A pytest plugin that fails any network connection to a non-loopback host.

Enable it with ``-p podium.testing.pytest_plugin`` (or ``pytest_plugins = [...]`` in a conftest).
Loopback (127.0.0.0/8, ::1) and Unix sockets stay allowed, so local replay servers work. A test that
really needs the network opts in with ``@pytest.mark.allow_network``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["NetworkBlockedError", "podium_recording"]


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a real host; mark it ``allow_network`` if that is intended."""


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and other families
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it is already a real lookup


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guard(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise NetworkBlockedError(
            f"test tried to connect to {address!r}; tests must not reach real providers. "
            "Replay a cassette on 127.0.0.1, or mark the test @pytest.mark.allow_network."
        )


def _connect(self: socket.socket, address: Any) -> None:
    _guard(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podium")
    group.addoption(
        "--podium-record",
        default=None,
        choices=("once", "none", "new", "all"),
        help="podium_recording: once (default; record when no file), none (replay only), new, all.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_network: the test may connect to non-loopback hosts")


@pytest.fixture
def podium_recording(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A :class:`~podium.testing.recording.ModelRecording` for this test (see that module).

    The file is ``recordings/<module>/<test name>.jsonl`` beside the test module; the mode comes from
    ``--podium-record`` or the ``PODIUM_RECORD`` environment variable (default ``once``). While recording,
    the network guard lets the test reach the provider.
    """
    import os
    import re

    from podium.testing.recording import ModelRecording

    mode: Any = request.config.getoption("--podium-record") or os.environ.get("PODIUM_RECORD") or "once"
    module = Path(str(request.node.fspath))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:150]
    recording = ModelRecording(module.parent / "recordings" / module.stem / f"{name}.jsonl", mode)
    guarded = socket.socket.connect is _connect
    if recording.recording and guarded:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    try:
        yield recording
    finally:
        if recording.recording and guarded:
            socket.socket.connect = _connect  # type: ignore[method-assign,assignment]
            socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign,assignment]
        recording.save()


@pytest.fixture(autouse=True)
def _podium_block_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("allow_network"):
        yield
        return
    socket.socket.connect = _connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
