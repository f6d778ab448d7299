"""A whole process that answers one chat turn: import, build the client, one S1 request, exit.

``python bench/first_turn.py VARIANT SERVER_ROOT``. The driver (:mod:`run`) times the process from the
outside (wall, and CPU and peak RSS through ``os.wait4``): "import + first request" and "peak RSS of one
chat turn". Only the standard library is imported before the variant's own imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import variants


def main() -> int:
    variant, root = sys.argv[1], sys.argv[2]
    fn = variants.make(variant, "S1", root)
    text, deltas = fn()
    problem = variants.check("S1", text, deltas)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(peak_line())
    return 0


def peak_line() -> str:
    """The ``VmHWM`` line of ``/proc/self/status``: this program's peak RSS.

    ``ru_maxrss`` seen by a parent through ``wait4`` is not used: on Linux it also counts the parent's RSS
    at the time of the fork.
    """
    with open("/proc/self/status") as f:
        return next(line for line in f if line.startswith("VmHWM")).strip()


if __name__ == "__main__":
    sys.exit(main())
