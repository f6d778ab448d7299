"""The CLI's default policy: writes inside the workspace are allowed, except to paths that run code later."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podium.agent.approval import Allow, Ask, Deny
from podium.cli.session import PROTECTED_WRITE_REASON, default_policy
from podium.messages import ToolCall
from podium.tools.builtin import workspace_tools
from podium.tools.protected import PROTECTED_CATEGORIES, PROTECTED_NAMES, protected_reason


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / ".git" / "config").write_text("[core]\n")
    (workspace / "src").mkdir()
    (workspace / "sub").mkdir()
    (workspace / "src" / "main.py").write_text("print(1)\n")
    return workspace


def decide(ws: Path, tool_name: str, args: dict[str, object]) -> object:
    tools = workspace_tools(ws)
    try:
        return default_policy(ws).decide(ToolCall("c", tool_name, args), tools.tool(tool_name))
    finally:
        tools.close()


PROTECTED = [
    ".git/config",
    ".git/hooks/pre-commit",
    ".git/hooks/post-checkout",
    ".git",
    "./.git/config",
    "src/../.git/config",
    ".GIT/config",
    ".Git/HEAD",
    ".git./config",
    "sub/.git/config",
    "vendor/lib/.git/hooks/pre-push",
    ".gitconfig",
    ".config/git/config",
    ".hg/hgrc",
    ".svn/entries",
    ".jj/repo/config.toml",
    ".envrc",
    "sub/.envrc",
    ".env",
    ".vscode/settings.json",
    ".vscode/tasks.json",
    ".VSCode/launch.json",
    ".idea/workspace.xml",
    ".devcontainer/devcontainer.json",
    ".pre-commit-config.yaml",
    ".husky/pre-commit",
    ".githooks/pre-commit",
    "lefthook.yml",
    ".bashrc",
    ".bash_profile",
    ".zshrc",
    ".zshenv",
    ".profile",
    ".npmrc",
    ".ssh/config",
    ".local/lib/python3.11/site-packages/evil.pth",
    "evil.pth",
    "sitecustomize.py",
    "mise.toml",
    ".dir-locals.el",
]


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize("tool_name", ["write_file", "edit_file"])
def test_writes_to_protected_paths_ask(ws: Path, tool_name: str, path: str) -> None:
    args = (
        {"path": path, "content": "x"}
        if tool_name == "write_file"
        else {"path": path, "old_text": "a", "new_text": "b"}
    )
    assert decide(ws, tool_name, args) == Ask(PROTECTED_WRITE_REASON), path


ORDINARY = [
    "src/main.py",
    "README.md",
    "notes.txt",
    ".gitignore",
    ".gitattributes",
    ".github/workflows/ci.yml",
    ".editorconfig",
    "Makefile",
    "package.json",
    "conftest.py",
    "docs/git/config.md",
    "src/environment.py",
    "refs/notes.md",
]


@pytest.mark.parametrize("path", ORDINARY)
def test_ordinary_writes_inside_the_workspace_are_allowed(ws: Path, path: str) -> None:
    assert isinstance(decide(ws, "write_file", {"path": path, "content": "x"}), Allow), path


def test_reading_protected_paths_is_fine_and_outside_is_refused(ws: Path) -> None:
    assert isinstance(decide(ws, "read_file", {"path": ".git/config"}), Allow)
    assert isinstance(decide(ws, "write_file", {"path": "../elsewhere", "content": "x"}), Deny)


def test_protection_follows_symlinks_hard_links_and_absolute_paths(ws: Path) -> None:
    os.symlink(ws / ".git", ws / "innocent")
    os.symlink(ws / ".git" / "hooks" / "pre-commit", ws / "script.sh")
    os.link(ws / ".git" / "config", ws / "hardlinked.txt")
    for path in ("innocent/config", "innocent/hooks/x", "script.sh", "hardlinked.txt", str(ws / ".git" / "config")):
        assert decide(ws, "write_file", {"path": path, "content": "x"}) == Ask(PROTECTED_WRITE_REASON), path


def test_directories_git_or_python_would_load_are_protected(ws: Path) -> None:
    bare = ws / "sub"
    (bare / "objects").mkdir()
    (bare / "refs").mkdir()
    (bare / "HEAD").write_text("ref: refs/heads/main\n")
    venv = ws / ".venv-x"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    for path in ("sub/config", "sub/hooks/pre-commit", "sub/objects/ab", ".venv-x/bin/ls", ".venv-x/lib/x.py"):
        assert protected_reason(path, ws), path
    assert not protected_reason("src/objects.py", ws)
    # building a bare repository piece by piece asks at the second piece
    fresh = ws / "fresh"
    fresh.mkdir()
    assert not protected_reason("fresh/HEAD", ws)
    (fresh / "HEAD").write_text("ref: refs/heads/main\n")
    assert protected_reason("fresh/refs/heads/main", ws)
    assert protected_reason("fresh/config", ws)


def test_shell_redirects_to_protected_paths_ask_with_that_reason(ws: Path) -> None:
    decision = decide(ws, "run_shell", {"command": "echo x > .git/hooks/pre-commit"})
    assert isinstance(decision, Ask)
    assert PROTECTED_WRITE_REASON in decision.reason


def test_the_protected_list_is_a_documented_lowercase_constant() -> None:
    assert all(name == name.lower() for name in PROTECTED_NAMES)
    assert {".git", ".hg", ".svn", ".jj", ".envrc", ".vscode", ".idea", ".husky", ".bashrc"} <= set(PROTECTED_NAMES)
    assert len(PROTECTED_CATEGORIES) >= 5
    docs = (Path(__file__).parents[2] / "docs" / "approval.md").read_text()
    for name in PROTECTED_NAMES:
        assert f"`{name}`" in docs, name


def test_a_quoted_odd_name_is_judged_as_the_file_tools_read_it(tmp_path: Path) -> None:
    """A symlink with a newline in its name pointing at .git: its quoted form must be seen as .git."""
    from podium.agent.approval import Allow
    from podium.cli.session import default_policy
    from podium.messages import ToolCall
    from podium.tools.builtin import workspace_tools
    from podium.tools.sandbox.names import quote_path

    (tmp_path / ".git").mkdir()
    (tmp_path / "a\nb").symlink_to(".git")
    tools = workspace_tools(tmp_path)
    write = tools.tool("write_file")
    path = quote_path("a\nb") + "/config"
    assert path.startswith('"')
    decision = default_policy(tmp_path).decide(ToolCall("c1", "write_file", {"path": path, "content": "x"}), write)
    assert not isinstance(decision, Allow), decision
