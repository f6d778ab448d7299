"""What programs do besides being themselves: the commands they run, the files they write, or "opaque".

:func:`examine` looks at one argv (as :class:`~podium.tools.shell_syntax.Word` s) and says:

* which **inner commands** it runs that must be judged too (``sudo rm x`` runs ``rm x``; ``find -exec``),
* which **shell scripts** it runs (``bash -c 'STRING'``, parsed again by the caller),
* which **files it writes or reads** (``tee f``, ``cp a b``, ``sed -i f``), judged by the path rules, and
* whether it is **opaque**: it runs code or commands that cannot be known from its argv
  (``python -c``, ``xargs``, ``git -c``, ``awk '{system(..)}'``, ``ssh``, ``eval``).

The full table is in ``docs/approval.md``; keep the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from podium.tools.program_code import INTERPRETERS, SHELLS, awk, interpreter, interpreter_name, sed, shell
from podium.tools.program_view import ProgramView, globbed, opaque, operands, skip_options, wrapper
from podium.tools.shell_syntax import Word

__all__ = ["OPAQUE_BUILTINS", "OPAQUE_PROGRAMS", "ProgramView", "examine"]


_OPAQUE_BUILTIN_NAMES = (
    ". alias bind builtin compgen complete compopt declare enable eval exec export fc getopts hash "
    "history let local mapfile read readarray readonly set shopt source trap typeset unalias unset"
)
OPAQUE_BUILTINS = frozenset(_OPAQUE_BUILTIN_NAMES.split())
"""Shell builtins that change how later commands run or evaluate code (``eval``, ``alias``, ``export``,
``read``/``let``/``declare`` whose array subscripts run command substitutions ...): always opaque."""

_OPAQUE_PROGRAM_NAMES = (
    "at batch busybox catchsegv chroot chrt crontab dbus-run-session doas ed emacs entr ex expect "
    "firejail flock gdb lldb ltrace nc ncat netcat nsenter numactl parallel patch prlimit pwsh powershell "
    "runuser scp script setpriv sftp socat ssh strace su systemd-run taskset toybox unshare valgrind vi "
    "vim nvim watch xvfb-run bwrap"
)
OPAQUE_PROGRAMS = frozenset(_OPAQUE_PROGRAM_NAMES.split())
"""Programs that run other commands or code in ways the table does not model: always opaque."""

_OTHER_SHELLS = frozenset({"ash", "zsh", "ksh", "mksh", "yash", "fish", "csh", "tcsh", "nu", "elvish", "xonsh"})
_MAX_ARGS = 10_000


# --------------------------------------------------------------------------- wrappers


def _env(words: Sequence[Word]) -> ProgramView:
    args = words[1:]
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("-i", "--ignore-environment", "-0", "--null", "-v", "--debug", "-"):
            i += 1
        elif text in ("-u", "--unset", "-C", "--chdir"):
            i += 2
        elif text.startswith(("--unset=", "--chdir=", "-u", "-C")) or text.startswith(
            ("--ignore-signal", "--default-signal", "--block-signal", "--list-signal-handling")
        ):
            i += 1
        elif text.startswith(("-S", "--split-string")):
            return opaque("env -S splits a string into a command")
        elif text.startswith("-"):
            return opaque(f"env {text}: an option not modelled")
        else:
            break
    if bad := globbed(args[:i], "env"):
        return bad
    if i < len(args) and "=" in args[i].text:
        return opaque("env sets environment variables for the command (PATH, LD_PRELOAD ...)")
    view = ProgramView()
    if i < len(args):
        view.inner.append(list(args[i:]))
    return view


def _sudo(words: Sequence[Word]) -> ProgramView:
    for w in words[1:]:
        if not w.text.startswith("-"):
            break
        if w.text in ("-i", "--login", "-s", "--shell", "-e", "--edit") or (
            not w.text.startswith("--") and any(c in w.text[1:] for c in "ise")
        ):
            return opaque("sudo starts a shell or an editor")
    view = wrapper(
        words,
        flags="AbBEHKkNnPSlvV",
        valued="CDgpRrTtUuh",
        long_flags=("--askpass", "--background", "--bell", "--preserve-env", "--set-home", "--non-interactive"),
        long_valued=("--close-from", "--chdir", "--group", "--prompt", "--chroot", "--role", "--type", "--user"),
    )
    if view.inner and view.inner[0][0].assignment:
        return opaque("sudo sets environment variables for the command")
    return view


def _timeout(words: Sequence[Word]) -> ProgramView:
    args = words[1:]
    start, problem = skip_options(
        args,
        "timeout",
        flags="v",
        valued="sk",
        long_flags=("--preserve-status", "--foreground", "--verbose"),
        long_valued=("--signal", "--kill-after"),
    )
    if problem:
        return opaque(problem)
    if bad := globbed(args[: start + 1], "timeout"):
        return bad
    view = ProgramView()
    if start + 1 < len(args):
        view.inner.append(list(args[start + 1 :]))
    return view


def _nice(words: Sequence[Word]) -> ProgramView:
    args = list(words[1:])
    if args and re.fullmatch(r"-[0-9]+|--[0-9]+|-\+[0-9]+", args[0].text):
        args = args[1:]  # the old `nice -10 cmd` form
    return wrapper([words[0], *args], valued="n", long_valued=("--adjustment",))


def _time(words: Sequence[Word]) -> ProgramView:
    view = wrapper(
        words,
        flags="pvaq",
        valued="fo",
        long_flags=("--portability", "--verbose", "--append", "--quiet"),
        long_valued=("--format", "--output"),
    )
    args = words[1:]
    for i, w in enumerate(args):
        if w.text in ("-o", "--output") and i + 1 < len(args):
            view.writes.append(args[i + 1])
        elif w.text.startswith("--output="):
            view.writes.append(Word(w.text.split("=", 1)[1], w.quoted, w.glob))
    return view


def _command(words: Sequence[Word]) -> ProgramView:
    if any(w.text in ("-v", "-V") for w in words[1:2]) or any(w.text in ("-pv", "-pV") for w in words[1:2]):
        return ProgramView()  # only looks the name up
    return wrapper(words, flags="p")


def _xargs(words: Sequence[Word]) -> ProgramView:
    args = words[1:]
    start, problem = skip_options(
        args,
        "xargs",
        flags="0oprtxeil",
        valued="adEILnPs",
        long_flags=(
            "--null",
            "--open-tty",
            "--interactive",
            "--no-run-if-empty",
            "--verbose",
            "--exit",
            "--show-limits",
            "--eof",
            "--replace",
            "--max-lines",
        ),
        long_valued=("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"),
    )
    if problem:
        return opaque(problem)
    if bad := globbed(args[:start], "xargs"):
        return bad
    inner = list(args[start:]) or [Word("echo")]
    return ProgramView(inner=[inner], inner_opaque="xargs adds arguments read from its input")


def _find(words: Sequence[Word]) -> ProgramView:
    if bad := globbed(words[1:], "find"):
        return bad
    view = ProgramView()
    args = words[1:]
    i = 0
    while i < len(args):
        text = args[i].text
        if text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            if end >= len(args) or end == i + 1:
                return opaque(f"find {text} without its ; or +")
            view.inner.append(list(args[i + 1 : end]))
            i = end + 1
            continue
        if text == "-delete":
            view.opaque = "find -delete removes every file it finds"
        elif text in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(args):
            view.writes.append(args[i + 1])
        i += 1
    return view


def _runner(words: Sequence[Word], subcommands: Sequence[str]) -> ProgramView:
    """``uv run CMD``, ``poetry run CMD`` ...: the command after the subcommand is judged too."""
    if len(words) < 2 or words[1].text not in subcommands:
        return ProgramView()
    rest = words[2:]
    if rest and rest[0].text == "--":
        rest = rest[1:]
    if not rest:
        return ProgramView()
    if rest[0].text.startswith("-") or rest[0].glob:
        return opaque(f"{words[0].text} {words[1].text}: options before the command are not modelled")
    return ProgramView(inner=[list(rest)])


def _npx(words: Sequence[Word]) -> ProgramView:
    rest = words[1:]
    if rest and rest[0].text == "--":
        rest = rest[1:]
    if not rest:
        return ProgramView()
    if rest[0].text.startswith("-") or rest[0].glob:
        return opaque(f"{words[0].text}: options before the command are not modelled")
    return ProgramView(inner=[list(rest)])


# --------------------------------------------------------------------------- other programs that run programs

_GIT_FLAG_NAMES = (
    "-p --paginate -P --no-pager --no-replace-objects --literal-pathspecs --glob-pathspecs --noglob- "
    "pathspecs --icase-pathspecs --no-optional-locks --no-lazy-fetch --no-advice -v --version -h --help "
    "--html-path --man-path --info-path"
)
_GIT_FLAGS = frozenset(_GIT_FLAG_NAMES.split())
_GIT_COMMAND_NAMES = (
    "add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore "
    "check-mailmap check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column "
    "commit commit-graph commit-tree config count-objects describe diagnose diff diff-files diff-index "
    "diff-tree fast-export fast-import fetch fetch-pack fmt-merge-msg for-each-ref format-patch fsck gc "
    "get-tar-commit-id grep hash-object help index-pack init interpret-trailers log ls-files ls-remote "
    "ls-tree mailinfo mailsplit maintenance merge merge-base merge-file merge-tree mktag mktree multi- "
    "pack-index mv name-rev notes pack-objects pack-refs patch-id prune prune-packed pull push range-diff "
    "read-tree rebase reflog remote repack replace rerere reset restore rev-list rev-parse revert rm "
    "shortlog show show-branch show-index show-ref sparse-checkout stash status stripspace submodule "
    "switch symbolic-ref tag unpack-objects update-index update-ref var verify-commit verify-pack verify- "
    "tag version whatchanged worktree write-tree difftool mergetool filter-branch send-email credential "
    "instaweb daemon gui citool request-pull imap-send"
)
GIT_COMMANDS = frozenset(_GIT_COMMAND_NAMES.split())
"""Git's own commands; anything else may be an alias or a ``git-NAME`` program and is opaque."""

_GIT_RUNS = {
    "bisect": ("run",),
    "submodule": ("foreach",),
    "rebase": ("-x", "--exec"),
    "grep": ("-O", "--open-files-in-pager"),
    "clone": ("-u", "--upload-pack", "-c", "--config", "--template"),
    "fetch": ("--upload-pack",),
    "pull": ("--upload-pack",),
    "ls-remote": ("-u", "--upload-pack"),
    "push": ("--receive-pack", "--exec"),
    "archive": ("--exec",),
    "fetch-pack": ("--upload-pack",),
    # the external diff program of the configuration or the environment
    "diff": ("--ext-diff",),
    "log": ("--ext-diff",),
    "show": ("--ext-diff",),
    "format-patch": ("--ext-diff",),
}
_GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote", "remote", "submodule", "archive"})
_GIT_OUTPUT = frozenset({"diff", "log", "show", "format-patch", "archive", "range-diff"})
_GIT_CONFIG_READS = ("--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color")


def _git(words: Sequence[Word]) -> ProgramView:
    args = words[1:]
    i = 0
    while i < len(args):
        w = args[i]
        if w.glob:
            return opaque(f"git: the pattern {w.text!r} could expand to options")
        text = w.text
        if not text.startswith("-"):
            break
        name = text.split("=", 1)[0]
        if name in ("-c", "--config-env", "--exec-path") or text.startswith("-c"):
            return opaque(f"git {name}: sets configuration or programs for the command (pager, hooks, aliases)")
        if name in ("-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--bare", "--list-cmds"):
            return opaque(f"git {name}: uses another repository, with its own configuration and hooks")
        if name not in _GIT_FLAGS:
            return opaque(f"git {name}: an option not modelled")
        i += 1
    if i >= len(args):
        return ProgramView()
    command = args[i].text
    rest = [w.text for w in args[i + 1 :]]
    if command not in GIT_COMMANDS:
        return opaque(f"git {command}: not a git command, so possibly an alias or a git-{command} program")
    if command in ("difftool", "mergetool", "filter-branch", "send-email", "credential", "instaweb", "daemon"):
        return opaque(f"git {command} runs other programs")
    if command == "config" and not (rest[:1] in (["get"], ["list"]) or any(r in _GIT_CONFIG_READS for r in rest)):
        return opaque("git config changes configuration (aliases, pager, hooks path ...)")
    for option in _GIT_RUNS.get(command, ()):
        for r in rest:
            if r == option or (option.startswith("--") and r.startswith(option + "=")):
                return opaque(f"git {command} {option} runs a command")
            if not option.startswith("--") and len(option) == 2 and r.startswith(option) and not r.startswith("--"):
                return opaque(f"git {command} {option} runs a command")
    if command in _GIT_NETWORK and any("::" in r or r.startswith("ext:") for r in rest):
        return opaque(f"git {command}: a remote helper URL (ext::, fd::) can run commands")
    view = ProgramView()
    words_after = args[i + 1 :]
    for n, w in enumerate(words_after):
        if w.text.startswith("--output="):
            view.writes.append(Word(w.text.split("=", 1)[1], w.quoted, w.glob))
        elif w.text in ("--output", "-o") and n + 1 < len(words_after) and command in _GIT_OUTPUT:
            view.writes.append(words_after[n + 1])
    return view


def _tar(words: Sequence[Word]) -> ProgramView:
    args = words[1:]
    if bad := globbed(args, "tar"):
        return bad
    for n, w in enumerate(args):
        text = w.text
        name = text.split("=", 1)[0]
        if name in (
            "--to-command",
            "--use-compress-program",
            "--checkpoint-action",
            "--info-script",
            "--new-volume-script",
            "--rsh-command",
            "--rmt-command",
        ):
            return opaque(f"tar {name} runs a command")
        short = (text.startswith("-") and not text.startswith("--")) or (n == 0 and not text.startswith("-"))
        if short and any(c in text for c in "IF"):
            return opaque("tar -I/-F runs a command")
        if (":" in text and not text.startswith("--")) or (name == "--file" and ":" in text):
            return opaque("tar on host:file runs a remote shell")
    return ProgramView()


def _option_opaque(program: str, options: Sequence[str], short: str = "") -> Callable[[Sequence[Word]], ProgramView]:
    """A program that is opaque when one of ``options`` (or a short cluster with ``short``) is given."""

    def examine_options(words: Sequence[Word]) -> ProgramView:
        for w in words[1:]:
            name = w.text.split("=", 1)[0]
            clustered = bool(short) and w.text.startswith("-") and not w.text.startswith("--")
            if name in options or (clustered and any(c in w.text[1:] for c in short)):
                return opaque(f"{program} {name}: runs another program")
        return ProgramView()

    return examine_options


def _rsync(words: Sequence[Word]) -> ProgramView:
    view = _option_opaque("rsync", ("--rsh", "--rsync-path", "-e"), short="e")(words)
    if not view.opaque and any(":" in w.text and not w.text.startswith("-") for w in words[1:]):
        return opaque("rsync to or from host: runs a remote shell")
    return view


def _make(words: Sequence[Word]) -> ProgramView:
    for n, w in enumerate(words[1:], 1):
        text = w.text
        if text.startswith(("--eval", "-E")) or (text == "-f" and n + 1 < len(words) and words[n + 1].text == "-"):
            return opaque("make --eval/-f - runs code given on the command line")
        if not text.startswith("-") and "=" in text:
            return opaque("make VAR=value can replace the commands it runs (SHELL=, CC= ...)")
    return ProgramView()


# --------------------------------------------------------------------------- programs that write files


def _writes_operands(
    valued: str = "", long_valued: Sequence[str] = (), skip_first: bool = False
) -> Callable[[Sequence[Word]], ProgramView]:
    def examine_writes(words: Sequence[Word]) -> ProgramView:
        found = operands(words[1:], valued, long_valued)
        if skip_first and not any(w.text.startswith("--reference") for w in words[1:]):
            found = found[1:]
        return ProgramView(writes=found)

    return examine_writes


def _writes_target(
    valued: str = "", long_valued: Sequence[str] = (), every: bool = False
) -> Callable[[Sequence[Word]], ProgramView]:
    def examine_target(words: Sequence[Word]) -> ProgramView:
        args = words[1:]
        for i, w in enumerate(args):
            if w.text in ("-t", "--target-directory") and i + 1 < len(args):
                return ProgramView(writes=[args[i + 1]] + (operands(args, valued, long_valued) if every else []))
            if w.text.startswith("--target-directory="):
                return ProgramView(writes=[Word(w.text.split("=", 1)[1], w.quoted, w.glob)])
        found = operands(args, valued + "t", long_valued)
        return ProgramView(writes=found if every else found[-1:])

    return examine_target


def _cp(words: Sequence[Word]) -> ProgramView:
    """``cp`` writes its target; with ``-s``/``-l`` (links) every operand becomes writable under a new name."""
    links = any(
        w.text in ("--symbolic-link", "--link")
        or (w.text.startswith("-") and not w.text.startswith("--") and any(c in w.text for c in "sl"))
        for w in words[1:]
    )
    return _writes_target(valued="S", long_valued=("--suffix", "--backup", "--sparse", "--reflink"), every=links)(words)


def _writes_options(words: Sequence[Word], options: Sequence[str], view: ProgramView | None = None) -> ProgramView:
    """The files named by ``options`` (``-o FILE``, ``--output=FILE``, ``-oFILE``) are written."""
    view = view or ProgramView()
    args = words[1:]
    for i, w in enumerate(args):
        for option in options:
            if w.text == option and i + 1 < len(args):
                view.writes.append(args[i + 1])
            elif option.startswith("--") and w.text.startswith(option + "="):
                view.writes.append(Word(w.text.split("=", 1)[1], w.quoted, w.glob))
            elif len(option) == 2 and w.text.startswith(option) and len(w.text) > 2 and not w.text.startswith("--"):
                view.writes.append(Word(w.text[2:], w.quoted, w.glob))
    return view


def _chmod(words: Sequence[Word]) -> ProgramView:
    """``chmod [-R -v -c -f] MODE FILE...``: a mode may start with ``-`` (``chmod -x f``)."""
    operands = [w for w in words[1:] if w.text not in ("-R", "-v", "-c", "-f", "--recursive", "--verbose", "--")]
    if any(w.text.startswith("--reference") for w in words[1:]):
        return ProgramView(writes=[w for w in operands if not w.text.startswith("--")])
    return ProgramView(writes=operands[1:])


def _dd(words: Sequence[Word]) -> ProgramView:
    view = ProgramView()
    for w in words[1:]:
        if w.text.startswith("of="):
            view.writes.append(Word(w.text[3:], w.quoted, w.glob))
        elif w.text.startswith("if="):
            view.reads.append(Word(w.text[3:], w.quoted, w.glob))
    return view


def _printf(words: Sequence[Word]) -> ProgramView:
    if any(w.text.startswith("-v") for w in words[1:2]):
        return opaque("printf -v assigns a variable (its subscript can run commands)")
    return ProgramView()


def _wait(words: Sequence[Word]) -> ProgramView:
    if any(w.text.startswith("-") and "p" in w.text for w in words[1:]):
        return opaque("wait -p assigns a variable (its subscript can run commands)")
    return ProgramView()


def _test(words: Sequence[Word]) -> ProgramView:
    if any(w.text in ("-v", "-R") for w in words[1:]):
        return opaque(f"{words[0].text} -v evaluates a variable subscript (it can run commands)")
    return ProgramView()


def _pytest(words: Sequence[Word]) -> ProgramView:
    """The files and directories pytest writes (and clears) as its options name them, ``-o cache_dir=DIR`` too."""
    view = _writes_options(
        words, ("--basetemp", "--junitxml", "--junit-xml", "--result-log", "--resultlog", "--report-log")
    )
    args = words[1:]
    for i, w in enumerate(args):
        setting = w.text[2:] if w.text.startswith("-o") and len(w.text) > 2 else None
        if w.text in ("-o", "--override-ini") and i + 1 < len(args):
            setting = args[i + 1].text
        elif w.text.startswith("--override-ini="):
            setting = w.text.split("=", 1)[1]
        if setting is not None and setting.split("=", 1)[0].strip() == "cache_dir" and "=" in setting:
            view.writes.append(Word(setting.split("=", 1)[1], w.quoted, w.glob))
    return view


_PYTHON_MODULES: dict[str, Callable[[Sequence[Word]], ProgramView]] = {"pytest": _pytest, "py.test": _pytest}
"""``python -m MODULE ...`` whose files are judged like the program's (``python -m pytest --basetemp=.git``)."""


def _python_module(words: Sequence[Word], view: ProgramView) -> ProgramView:
    for i, w in enumerate(words[1:-1], start=1):
        if w.text == "-m":
            handler = _PYTHON_MODULES.get(words[i + 1].text)
            if handler is not None:
                module = handler(words[i + 1 :])
                view.writes.extend(module.writes)
                view.reads.extend(module.reads)
            break
        if not w.text.startswith("-"):
            break
    return view


_RUNNERS = {
    "uv": ("run", "tool"),
    "poetry": ("run",),
    "pdm": ("run",),
    "hatch": ("run",),
    "pipenv": ("run",),
    "pixi": ("run", "exec"),
    "conda": ("run",),
    "bundle": ("exec",),
    "npm": ("exec", "x"),
    "pnpm": ("exec", "dlx"),
    "yarn": ("exec", "dlx"),
}

_HANDLERS: dict[str, Callable[[Sequence[Word]], ProgramView]] = {
    "env": _env,
    "sudo": _sudo,
    "nice": _nice,
    "ionice": lambda w: wrapper(w, flags="t", valued="cnpPu"),
    "timeout": _timeout,
    "stdbuf": lambda w: wrapper(w, valued="ioe", long_valued=("--input", "--output", "--error")),
    "nohup": lambda w: wrapper(w),
    "setsid": lambda w: wrapper(w, flags="cfw", long_flags=("--ctty", "--fork", "--wait")),
    "time": _time,
    "command": _command,
    "xargs": _xargs,
    "find": _find,
    "pytest": _pytest,
    "py.test": _pytest,
    "git": _git,
    "tar": _tar,
    "gtar": _tar,
    "rsync": _rsync,
    "make": _make,
    "gmake": _make,
    "awk": awk,
    "gawk": awk,
    "mawk": awk,
    "nawk": awk,
    "sed": sed,
    "gsed": sed,
    "sort": lambda w: _writes_options(w, ("-o", "--output"), _option_opaque("sort", ("--compress-program",))(w)),
    "shuf": lambda w: _writes_options(w, ("-o", "--output")),
    "uniq": lambda w: ProgramView(
        writes=operands(w[1:], "fsw", ("--skip-fields", "--skip-chars", "--check-chars"))[1:2]
    ),
    "curl": lambda w: _writes_options(w, ("-o", "--output", "-c", "--cookie-jar", "-D", "--dump-header")),
    "wget": lambda w: _writes_options(w, ("-O", "--output-document", "-o", "--output-file", "-a", "--append-output")),
    "rg": _option_opaque("rg", ("--pre", "--hostname-bin")),
    "fd": _option_opaque("fd", ("-x", "--exec", "-X", "--exec-batch")),
    "fdfind": _option_opaque("fdfind", ("-x", "--exec", "-X", "--exec-batch")),
    "zip": _option_opaque("zip", ("-TT", "--unzip-command")),
    "npx": _npx,
    "bunx": _npx,
    "uvx": _npx,
    "pipx": lambda w: _runner(w, ("run",)),
    "tee": _writes_operands(long_valued=("--output-error",)),
    "touch": _writes_operands(valued="drt", long_valued=("--date", "--reference", "--time")),
    "rm": _writes_operands(),
    "rmdir": _writes_operands(),
    "unlink": _writes_operands(),
    "shred": _writes_operands(valued="ns", long_valued=("--iterations", "--size", "--random-source")),
    "mkdir": _writes_operands(valued="m", long_valued=("--mode", "--context")),
    "truncate": _writes_operands(valued="sro", long_valued=("--size", "--reference")),
    "chmod": lambda w: _chmod(w),
    "chown": _writes_operands(long_valued=("--reference", "--from"), skip_first=True),
    "chgrp": _writes_operands(long_valued=("--reference",), skip_first=True),
    "cp": lambda w: _cp(w),
    "install": _writes_target(valued="mogS", long_valued=("--mode", "--owner", "--group", "--suffix")),
    "ln": _writes_target(valued="S", long_valued=("--suffix", "--backup"), every=True),
    "mv": _writes_target(valued="S", long_valued=("--suffix", "--backup"), every=True),
    "dd": _dd,
    "printf": _printf,
    "test": _test,
    "wait": _wait,
    "[": _test,
}


def examine(words: Sequence[Word]) -> ProgramView:
    """What the argv ``words`` runs or writes besides its own program (see the module docstring).

    The program is looked up by its base name, case-insensitively (``/usr/bin/ENV`` is ``env``).
    """
    if not words:
        return ProgramView()
    if len(words) > _MAX_ARGS:
        return opaque("too many arguments to examine")
    name = words[0].text.rsplit("/", 1)[-1].lower()
    if name in OPAQUE_BUILTINS:
        return opaque(f"the shell builtin {name!r} changes how later commands run or evaluates code")
    if name in OPAQUE_PROGRAMS:
        return opaque(f"{name} runs other commands or code")
    if name in SHELLS:
        return shell(words)
    if name in _OTHER_SHELLS:
        return opaque(f"{name}: a shell whose syntax is not modelled")
    handler = _HANDLERS.get(name)
    if handler is not None:
        return handler(words)
    if name in _RUNNERS:
        return _runner(words, _RUNNERS[name])
    kind = interpreter_name(name)
    if kind is not None:
        view = interpreter(words, INTERPRETERS[kind])
        return _python_module(words, view) if kind == "python" and not view.opaque else view
    return ProgramView()
