"""The sandbox's promises under attack: capabilities, mounts, setuid files, sockets, /proc, totals, views.

Every test here runs as root (as CI does) and, through ``make test-as-user``, as a normal user; where the
outcome differs by user, the test says which and why.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sandbox.conftest import SMALL, Layout, process_alive_with

from podium.tools.sandbox import Sandbox, SandboxPolicy, create_sandbox
from podium.tools.sandbox.cgroup import cgroup_support
from podium.tools.sandbox.hostview import masked_entries
from podium.tools.sandbox.seccomp import seccomp_unavailable

ROOT = os.geteuid() == 0


def run(box: Sandbox, command: str) -> str:
    r = box.run_shell(command)
    return r.stdout + r.stderr


def test_the_filter_is_built_here() -> None:
    assert seccomp_unavailable() is None


# --------------------------------------------------------------------------- capabilities and mounts


@pytest.mark.requires("bwrap")
def test_no_capabilities_and_no_new_privileges(layout: Layout) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
    out = run(box, "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status")
    fields = dict(line.split(":\t") for line in out.strip().splitlines())
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[name], 16) == 0, out
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"


def test_process_backend_drops_capabilities_as_root(layout: Layout) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="process", limits=SMALL))
    out = run(box, "grep -E '^Cap(Prm|Eff|Bnd)|^NoNewPrivs' /proc/self/status")
    fields = dict(line.split(":\t") for line in out.strip().splitlines())
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0
    if ROOT:
        assert int(fields["CapBnd"], 16) == 0  # nothing to regain on exec
    assert fields["NoNewPrivs"] == "1"


MOUNT_ATTEMPTS = [
    "umount /tmp",
    "umount -l /tmp",
    "mount -o remount,rw /",
    "mount -o remount,rw /usr",
    "mount -t tmpfs none /tmp",
    "mount --bind / /tmp",
    "unshare -m true",
    "unshare -U true",
    "unshare -Ur true",
    "unshare -Urm sh -c 'mount -t tmpfs none /tmp'",
]


@pytest.mark.parametrize("attempt", MOUNT_ATTEMPTS)
@pytest.mark.requires("bwrap")
def test_cannot_change_mounts_or_nest_user_namespaces(layout: Layout, attempt: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
    r = box.run_shell(f"{attempt}; echo rc=$?; touch /usr/podium-probe 2>&1; findmnt -n -o FSTYPE /tmp")
    assert "rc=0" not in r.stdout, r.stdout + r.stderr
    assert "Read-only file system" in r.stdout
    assert r.stdout.strip().endswith("tmpfs")  # /tmp is still the private tmpfs
    assert not Path("/usr/podium-probe").exists()


def test_system_calls_for_mounts_and_namespaces_fail(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL))  # type: ignore[arg-type]
    r = box.run_python(
        textwrap.dedent(
            """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            def call(name, rc):
                print(name, rc, os.strerror(ctypes.get_errno()) if rc < 0 else "")
            call("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
            call("umount2", libc.umount2(b"/tmp", 2))
            call("unshare_user", libc.unshare(0x10000000))
            call("clone3", libc.syscall(435, 0, 0))
            call("io_uring_setup", libc.syscall(425, 1, None))
            call("keyctl", libc.syscall(250, 0, 0))
            call("userfaultfd", libc.syscall(323, 0))
            """
        )
    )
    lines = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    assert set(lines) == {"mount", "umount2", "unshare_user", "clone3", "io_uring_setup", "keyctl", "userfaultfd"}
    for name, outcome in lines.items():
        assert outcome.startswith("-1 "), f"{name}: {outcome}"


@pytest.mark.requires("bwrap")
def test_proc_sys_and_kernel_interfaces_are_read_only(layout: Layout) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
    # writes the value that is already there: harmless even if the protection failed
    r = box.run_shell(
        "for f in /proc/sys/kernel/core_pattern /proc/sys/vm/swappiness /proc/sys/kernel/hostname; do "
        "v=$(cat $f); (printf '%s' \"$v\" > $f) 2>/dev/null && echo WROTE $f; done; "
        "cat /proc/keys /proc/kcore 2>/dev/null | head -c 10 | wc -c; echo done"
    )
    assert "WROTE" not in r.stdout, r.stdout
    assert r.stdout.split()[-2:] == ["0", "done"]


# --------------------------------------------------------------------------- setuid and setgid files

SETID_ATTEMPTS = {
    "chmod": "touch a && chmod u+s a",
    "chmod_g": "touch b && chmod 2755 b",
    "chmod_dir": "mkdir c && chmod g+s c",
    "mkdir_mode": "mkdir -m 2755 d",
    "install": "install -m 4755 /bin/true e",
    "cp_preserve": 'cp -p "$(command -v passwd || command -v su || command -v mount)" f',
    "python_open": "python3 -c \"import os; os.open('g', os.O_CREAT | os.O_WRONLY, 0o4755)\"",
    "python_fchmod": "python3 -c \"import os; fd = os.open('h', os.O_CREAT | os.O_WRONLY); os.fchmod(fd, 0o6755)\"",
    "fchmodat2": ("touch i && python3 -c \"import ctypes; ctypes.CDLL(None).syscall(452, -100, b'i', 0o4755, 0)\""),
    "mknod": "python3 -c \"import os, stat; os.mknod('j', stat.S_IFREG | 0o4755)\"",
    "tar": (
        "python3 -c \"import tarfile, io; t = tarfile.open('k.tar', 'w'); i = tarfile.TarInfo('k'); "
        'i.mode = 0o6755; t.addfile(i, io.BytesIO()); t.close()" && tar xpf k.tar'
    ),
    "openat2": (
        "python3 -c \"import ctypes, struct; how = struct.pack('QQQ', 0o101, 0o4755, 0); "
        "ctypes.CDLL(None).syscall(437, -100, b'l', how, len(how))\""
    ),
}


@pytest.mark.parametrize("name", sorted(SETID_ATTEMPTS))
def test_nothing_created_comes_out_setuid_or_setgid(layout: Layout, backend: str, name: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL))  # type: ignore[arg-type]
    box.run_shell(SETID_ATTEMPTS[name])
    created = [p for p in layout.ws.rglob("*") if not p.is_symlink()]
    flagged = [p for p in created if p.lstat().st_mode & (stat.S_ISUID | stat.S_ISGID)]
    assert flagged == [], [(str(p), oct(p.lstat().st_mode)) for p in flagged]


def test_ordinary_permissions_still_work(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL))  # type: ignore[arg-type]
    r = box.run_shell("touch x && chmod 755 x && mkdir -m 700 d && install -m 640 x y && stat -c %a x d y")
    assert r.stdout.split() == ["755", "700", "640"], r.stderr


# --------------------------------------------------------------------------- sockets on visible paths


@pytest.fixture
def host_sockets(layout: Layout) -> Iterator[list[Path]]:
    """Unix sockets listening on the host: beside the workspace, in /tmp, and (as root) in /run."""
    places = [layout.root / "svc.sock", Path(f"/tmp/podium-{uuid.uuid4().hex[:8]}.sock")]
    if ROOT and Path("/run").is_dir():
        places.append(Path(f"/run/podium-{uuid.uuid4().hex[:8]}.sock"))
    servers = []
    for path in places:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        os.chmod(path, 0o777)
        srv.listen(4)
        servers.append(srv)
    try:
        yield places
    finally:
        for srv in servers:
            srv.close()
        for path in places:
            path.unlink(missing_ok=True)


CONNECT = """
import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        print("CONNECTED", path)
    except OSError as exc:
        print("refused", path, exc.strerror)
"""


@pytest.mark.parametrize("view", ["system", "host"])
@pytest.mark.requires("bwrap")
def test_host_unix_sockets_are_unreachable(layout: Layout, host_sockets: list[Path], view: str) -> None:
    policy = SandboxPolicy(backend="bubblewrap", limits=SMALL, view=view)  # type: ignore[arg-type]
    box = create_sandbox(layout.ws, policy)
    (layout.ws / "connect.py").write_text(CONNECT)
    r = box.run(["python3", "connect.py", *map(str, host_sockets)])
    assert "CONNECTED" not in r.stdout, r.stdout
    assert r.stdout.count("refused") == len(host_sockets), r.stdout + r.stderr


@pytest.mark.requires("bwrap")
def test_a_socket_inside_the_workspace_is_reachable(layout: Layout) -> None:
    path = layout.ws / "dev.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    try:
        (layout.ws / "connect.py").write_text(CONNECT)
        box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
        assert "CONNECTED" in box.run(["python3", "connect.py", str(path)]).stdout
    finally:
        srv.close()


@pytest.mark.requires("bwrap")
def test_abstract_unix_socket_is_unreachable_without_network(layout: Layout) -> None:
    name = f"\0podium-{uuid.uuid4().hex[:8]}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen(1)
    try:
        code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({name!r}); print('CONNECTED')"
        box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
        r = box.run_python(code)
        assert "CONNECTED" not in r.stdout
        assert "Connection refused" in r.stderr
    finally:
        srv.close()


def test_scanner_hides_sockets_fifos_and_unreadable_entries(tmp_path: Path) -> None:
    tree = tmp_path / "etc"
    (tree / "ok" / "deep").mkdir(parents=True)
    (tree / "ok" / "deep" / "public.conf").write_text("x")
    (tree / "secret.key").write_text("k")
    os.chmod(tree / "secret.key", 0o600)
    (tree / "private").mkdir()
    os.chmod(tree / "private", 0o700)
    os.mkfifo(tree / "ok" / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "ok" / "deep" / "svc.sock"))
    try:
        masks = masked_entries(str(tree))
    finally:
        sock.close()
    assert masks.complete
    assert set(masks.files) == {str(tree / "secret.key"), str(tree / "ok" / "pipe"), str(tree / "ok/deep/svc.sock")}
    assert masks.dirs == (str(tree / "private"),)
    assert masked_entries(str(tree), limit=3).complete is False  # too big to scan: not shown at all


# --------------------------------------------------------------------------- what a command sees


@pytest.mark.requires("bwrap")
def test_system_view_shows_programs_but_not_secrets(layout: Layout) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
    r = box.run_shell(
        "cat /etc/shadow /etc/gshadow 2>/dev/null | grep -c ':' ; "
        "for d in /root /home /run /var/run /srv /mnt /var/lib /var/log /sys; do "
        "[ -n \"$(ls -A $d 2>/dev/null | grep -v '^.pyenv$')\" ] && echo VISIBLE $d; done; "
        "head -1 /etc/passwd | cut -d: -f1; echo ok | awk '{print $1}' | sed s/o/0/; python3 -c 'print(2+2)'"
    )
    lines = r.stdout.split()
    assert lines[0] == "0", r.stdout  # no line of /etc/shadow or /etc/gshadow
    assert "VISIBLE" not in r.stdout, r.stdout
    assert lines[-3:] == ["root", "0k", "4"], r.stdout + r.stderr


@pytest.mark.requires("bwrap")
def test_host_view_is_an_option(layout: Layout) -> None:
    host = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL, view="host"))
    system = create_sandbox(layout.ws, SandboxPolicy(backend="bubblewrap", limits=SMALL))
    probe = "ls /var | tr '\\n' ' '; echo; ls -A /home | wc -l; cat /etc/shadow >/dev/null 2>&1 || echo hidden"
    shown = host.run_shell(probe).stdout.splitlines()
    assert "lib" in shown[0].split() and "tmp" in shown[0].split()  # the host's /var (its state hidden)
    assert shown[1:] == ["0", "hidden"]
    assert system.run_shell(probe).stdout.splitlines()[0].split() == ["tmp"]  # only what the allow-list shows


# --------------------------------------------------------------------------- totals: memory, tmpfs, disk


@pytest.mark.requires("bwrap")
def test_tmpfs_mounts_are_sized(layout: Layout) -> None:
    policy = SandboxPolicy(backend="bubblewrap", limits=SMALL.replace(tmp_mb=16))
    box = create_sandbox(layout.ws, policy)
    r = box.run_shell(
        "for d in /tmp /dev/shm /var/tmp; do dd if=/dev/zero of=$d/fill bs=1M count=64 2>/dev/null; "
        "echo $d $(( $(stat -c %s $d/fill) / 1048576 )); rm -f $d/fill; done; "
        "touch /probe /etc/probe /var/probe /dev/probe 2>&1 | grep -c 'Read-only'"
    )
    sizes = {line.split()[0]: int(line.split()[1]) for line in r.stdout.splitlines()[:3]}
    assert all(size <= 16 for size in sizes.values()), sizes
    assert r.stdout.splitlines()[-1] == "4"  # the view's root, /etc, /var and /dev (an unsized tmpfs) are read-only


def test_memory_of_all_processes_together(layout: Layout, backend: str) -> None:
    limits = SMALL.replace(memory_mb=200, wall_seconds=30)
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=limits))  # type: ignore[arg-type]
    hog = "python3 -c 'import time; b = bytearray(120 * 2**20); time.sleep(3)'"
    r = box.run_shell(f"{hog} & {hog} & {hog} & wait; echo finished")
    if cgroup_support().memory:
        assert r.killed_by == "memory", (r.killed_by, r.stdout, r.stderr)
    else:  # a normal user has no memory cgroup: each process is bounded alone, and the sandbox says so
        assert r.stdout.strip() == "finished"
        assert "not bounded" in box.describe() or "together" not in box.describe()


def test_workspace_growth_is_bounded(layout: Layout, backend: str) -> None:
    limits = SMALL.replace(disk_mb=20, file_size_mb=512)
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=limits))  # type: ignore[arg-type]
    r = box.run_shell("for i in 1 2 3 4 5 6 7 8; do dd if=/dev/urandom of=big$i bs=1M count=25 conv=fsync; done")
    assert r.killed_by == "disk", (r.killed_by, r.stderr[-300:])
    written = sum(p.stat().st_size for p in layout.ws.glob("big*"))
    assert written < 120 * 2**20


# --------------------------------------------------------------------------- Podium killed; secrets


KILLED_PARENT = """
import os, sys, time
from podium.tools.sandbox import SandboxPolicy, create_sandbox, Limits
box = create_sandbox(sys.argv[1], SandboxPolicy(backend=sys.argv[2], limits=Limits(wall_seconds=60)))
marker = sys.argv[3]
print("ready", flush=True)
box.run_shell(
    f"(exec -a {marker}a sleep 60) & setsid bash -c 'exec -a {marker}b sleep 60' & "
    f"nohup bash -c 'exec -a {marker}c sleep 60' >/dev/null 2>&1 & exec -a {marker}d sleep 60"
)
"""


def test_nothing_outlives_a_killed_podium(layout: Layout, backend: str) -> None:
    marker = f"pk{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT, str(layout.ws), backend, marker],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 15
    while len(process_alive_with(marker)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(process_alive_with(marker)) >= 4  # the four sleeps (and the launcher, whose argv holds the marker)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while process_alive_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_alive_with(marker) == []


def test_leftover_cgroups_of_a_killed_podium_are_removed(layout: Layout) -> None:
    from podium.tools.sandbox.cgroup import open_command_cgroup, remove_stale_cgroups

    if not ROOT:
        assert open_command_cgroup(10, None) is None  # a normal user gets no cgroup at all
        return
    script = (
        "import os, sys; from podium.tools.sandbox.cgroup import open_command_cgroup; "
        "g = open_command_cgroup(10, 64 * 2**20); print(*g.dirs, flush=True); os._exit(0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[2], check=True
    )
    dirs = [Path(d) for d in out.stdout.split()]
    assert dirs and all(d.is_dir() for d in dirs)  # the process ended without removing them
    fresh = open_command_cgroup(10, None)  # the next command's cgroup: the stale ones go
    assert fresh is not None
    fresh.remove()
    assert not any(d.exists() for d in dirs)
    assert remove_stale_cgroups(dirs[0].parent) == 0


SECRET_PARENT = """
import os, sys
from podium.tools.sandbox import SandboxPolicy, create_sandbox
box = create_sandbox(sys.argv[1], SandboxPolicy(backend=sys.argv[2]))
pid = os.getpid()
r = box.run_shell(
    f"cat /proc/{pid}/environ /proc/$PPID/environ; env; "
    f"python3 -c \\"print(open('/proc/{pid}/mem','rb').read(1))\\"; "
    f"grep -a -r PODIUM_TEST_KEY /proc/*/environ 2>/dev/null | head -3"
)
sys.stdout.write(r.stdout + r.stderr)
"""


def test_api_keys_in_podium_environment_are_unreachable(layout: Layout, backend: str) -> None:
    key = f"sk-podium-{uuid.uuid4().hex}"
    env = {**os.environ, "OPENAI_API_KEY": key, "PODIUM_TEST_KEY": key}
    out = subprocess.run(
        [sys.executable, "-c", SECRET_PARENT, str(layout.ws), backend],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        timeout=60,
        check=True,
    ).stdout
    assert key not in out
    assert "Permission denied" in out or "No such file" in out


def test_a_command_killed_by_sigkill_prints_no_traceback(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL))  # type: ignore[arg-type]
    for command in ("kill -9 $$", "python3 -c 'import os; os.kill(os.getpid(), 9)'"):
        r = box.run_shell(command)
        assert "Traceback" not in r.stderr, (command, r.stderr)
        assert r.signal == 9 or r.exit_code == 137, (command, r)
    # the command kills its supervisor: under bubblewrap that is the namespace's init (immune); the process
    # back-end's launcher dies and takes the command with it
    r = box.run_shell("kill -9 $PPID; sleep 1; echo survived")
    assert "Traceback" not in r.stderr
    if backend == "process":
        assert r.signal == 9 and "survived" not in r.stdout, r


def test_workspace_file_count_is_bounded(layout: Layout, backend: str) -> None:
    limits = SMALL.replace(disk_mb=10)  # 640 files
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=limits))  # type: ignore[arg-type]
    r = box.run_python("import os\nfor i in range(200000):\n    open(f'f{i}', 'w').close()\n")
    assert r.killed_by == "disk", (r.killed_by, r.stderr[-300:])
    assert len(os.listdir(layout.ws)) < 100_000


def test_no_core_files(layout: Layout, backend: str) -> None:
    box = create_sandbox(layout.ws, SandboxPolicy(backend=backend, limits=SMALL))  # type: ignore[arg-type]
    r = box.run_shell("ulimit -c; python3 -c 'import os; os.abort()'")
    assert r.stdout.split()[0] == "0"
    assert not [p for p in layout.ws.iterdir() if p.name.startswith("core")]


@pytest.mark.requires("bwrap")
def test_paths_kept_read_only_inside_the_workspace(layout: Layout, tmp_path: Path) -> None:
    (layout.ws / ".git" / "hooks").mkdir(parents=True)
    (layout.ws / ".envrc").write_text("")
    os.symlink(layout.outside, layout.ws / "link")  # a symlink out of the workspace is never bound
    policy = SandboxPolicy(backend="bubblewrap", limits=SMALL, readonly_in_workspace=(".git", ".envrc", "link", "none"))
    box = create_sandbox(layout.ws, policy)
    r = box.run_shell("echo x > .git/hooks/pre-commit; echo y >> .envrc; echo z > src.txt; cat link/secret.txt")
    assert r.stderr.count("Read-only file system") == 2, r.stderr
    assert not (layout.ws / ".git" / "hooks" / "pre-commit").exists()
    assert (layout.ws / ".envrc").read_text() == ""
    assert (layout.ws / "src.txt").read_text() == "z\n"
    assert "outside secret" not in r.stdout
    with pytest.raises(ValueError, match="relative"):
        SandboxPolicy(readonly_in_workspace=("../x",))
