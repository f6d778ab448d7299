"""Ask real bash what a command line runs: the argv of every external command, and the files it creates.

Every program is made "not found" (``PATH`` points nowhere), and bash's ``command_not_found_handle`` logs
the argv it would have run, so nothing the line names is executed. Builtins (``echo``, ``cd`` ...) still
run, so lines given to the oracle should use other program names.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

HANDLER = (  # one file per call: commands of a pipeline run at the same time
    'command_not_found_handle() { printf "%s\\0" "$@" > "$ARGV_LOG/$BASHPID.$RANDOM$RANDOM"; return $STATUS; }\n'
)


def bash_run(line: str) -> tuple[list[list[str]], set[str], int]:
    """Every argv bash runs for ``line``, sorted without repeats; the files it created; its exit status.

    The line runs twice, once with every command succeeding and once failing, so both sides of ``&&`` and
    ``||`` run.
    """
    argvs: list[list[str]] = []
    created: set[str] = set()
    status = 0
    for outcome in ("0", "1"):
        run_argvs, run_created, status = _run(line, outcome)
        for argv in run_argvs:
            if argv not in argvs:
                argvs.append(argv)
        created |= run_created
    return sorted(argvs), created, status


def _run(line: str, outcome: str) -> tuple[list[list[str]], set[str], int]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp, "work")
        work.mkdir()
        log = Path(tmp, "argv")
        log.mkdir()
        env = {"PATH": "/nonexistent", "ARGV_LOG": str(log), "HOME": tmp, "LANG": "C.UTF-8", "STATUS": outcome}
        done = subprocess.run(
            ["/bin/bash", "--norc", "--noprofile", "-c", HANDLER + line + "\nwait"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
        argvs = [[os.fsdecode(a) for a in f.read_bytes().split(b"\0")[:-1]] for f in log.iterdir()]
        created = {str(p.relative_to(work)) for p in work.rglob("*")}
        return sorted(argvs), created, done.returncode
