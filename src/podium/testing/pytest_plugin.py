"""A pytest plugin that fails any network connection to a non-loopback host.

Enable it with ``-p podium.testing.pytest_plugin`` (or ``pytest_plugins = [...]`` in a conftest).
Loopback (127.0.0.0/8, ::1) and Unix sockets stay allowed, so local replay servers work. A test that
really needs the network opts in with ``@pytest.mark.allow_network``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["NetworkBlockedError"]


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_network: the test may connect to non-loopback hosts")


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
