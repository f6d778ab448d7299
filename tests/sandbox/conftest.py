from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podium.tools.sandbox import Limits, SandboxPolicy, create_sandbox

BACKENDS = ["bubblewrap", "process"]

# small limits: the machine is shared
SMALL = Limits(
    wall_seconds=20,
    cpu_seconds=10,
    memory_mb=512,
    max_processes=24,
    file_size_mb=16,
    open_files=256,
    output_kill_bytes=8 * 1024 * 1024,
    kill_grace=0.5,
)


@dataclass
class Layout:
    root: Path
    ws: Path
    sibling: Path
    outside: Path
    secret: Path


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    ws = tmp_path / "ws"
    ws.mkdir()
    sibling = tmp_path / "ws2"
    sibling.mkdir()
    (sibling / "secret.txt").write_text("sibling secret\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("outside secret\n")
    return Layout(tmp_path, ws, sibling, outside, secret)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    return name


@pytest.fixture
def policy(backend: str) -> SandboxPolicy:
    return SandboxPolicy(backend=backend, limits=SMALL)  # type: ignore[arg-type]


@pytest.fixture
def box(layout: Layout, policy: SandboxPolicy):  # type: ignore[no-untyped-def]
    return create_sandbox(layout.ws, policy)


@pytest.fixture
def listener() -> Iterator[int]:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


def process_alive_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != b"Z":
            found.append(int(name))
    return found
