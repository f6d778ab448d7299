"""Imports point down the layers (core < capabilities < orchestration < interfaces), checked from the source.

The checker and its rules are in ``tests/layering.py``; the prose is ``docs/architecture.md``. The first test
runs it over ``src/podium``; the others break each rule on purpose in a small package built in a temporary
directory, so a checker that stopped seeing one kind of import would fail here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import layering

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_the_package_keeps_its_layers() -> None:
    violations, unplaced = layering.check(SRC)
    if violations or unplaced:
        pytest.fail("\n" + layering.report(violations, unplaced), pytrace=False)


def test_the_checker_sees_the_whole_package() -> None:
    imports = list(layering.collect(SRC))
    kinds = {i.kind for i in imports}
    assert {"import", "import in a function", "type-only import", "string reference"} <= kinds
    # the lazy export table of the package and the built-in providers of the registry are string references
    strings = {(i.source, i.target) for i in imports if i.kind == "string reference"}
    assert ("podium", "podium.agent.agent") in strings
    assert ("podium.providers.registry", "podium.providers.openai") in strings


# --------------------------------------------------------------------------- the rules, broken on purpose


def build(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package ``podium`` under ``tmp_path/src`` with a module in each layer, plus ``files``."""
    base = {
        "__init__.py": "",
        "messages.py": "",
        "providers/__init__.py": "",
        "providers/base.py": "",
        "tools/__init__.py": "",
        "tools/tool.py": "",
        "testing/__init__.py": "",
        "testing/models.py": "",
        "agent/__init__.py": "",
        "agent/loop.py": "",
        "agent/events.py": "",
        "store/__init__.py": "",
        "store/base.py": "",
        "cli/__init__.py": "",
        "cli/app.py": "",
    }
    for name, text in {**base, **files}.items():
        path = tmp_path / "src" / "podium" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path / "src"


def broken(tmp_path: Path, files: dict[str, str]) -> list[layering.Violation]:
    violations, unplaced = layering.check(build(tmp_path, files))
    assert not unplaced
    return violations


BREAKS = {
    "store imports agent (sideways)": (
        {"store/base.py": "from podium.agent.events import RunStarted\n"},
        "store/base.py",
        1,
        "no sideways imports: store (orchestration) imports agent",
    ),
    "a lazy import in a function of the core": (
        {"messages.py": "def f():\n    from podium.providers.base import Model\n    return Model\n"},
        "messages.py",
        2,
        "imports point down the layers: messages (core) imports providers (capabilities)",
    ),
    "a lazy import in a method": (
        {"tools/tool.py": "class T:\n    async def run(self):\n        import podium.agent.loop\n"},
        "tools/tool.py",
        3,
        "imports point down the layers: tools (capabilities) imports agent (orchestration)",
    ),
    "a type-only import": (
        {
            "tools/tool.py": """\
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from podium.agent.events import AgentEvent
            """
        },
        "tools/tool.py",
        3,
        "imports point down the layers: tools (capabilities) imports agent",
    ),
    "a string reference (lazy registry entry)": (
        {"providers/base.py": 'FACTORIES = {"test": "podium.testing.models:make_test_model"}\n'},
        "providers/base.py",
        1,
        "nothing in podium imports the test helpers (podium.testing)",
    ),
    "importlib.import_module with a literal": (
        {"store/base.py": "import importlib\ndef f():\n    return importlib.import_module('podium.cli.app')\n"},
        "store/base.py",
        3,
        "imports point down the layers: store (orchestration) imports cli (interfaces)",
    ),
    "a subpackage taken from its parent": (
        {"store/base.py": "from podium import agent\n"},
        "store/base.py",
        1,
        "store (orchestration) imports agent",
    ),
    "a relative import": (
        {"store/base.py": "from ..agent import loop\n"},
        "store/base.py",
        1,
        "store (orchestration) imports agent",
    ),
    "a name from the package facade": (
        {"store/base.py": "from podium import Agent\n"},
        "store/base.py",
        1,
        "store (orchestration) imports (podium) (facade), a layer above",
    ),
    "providers import tools (sideways)": (
        {"providers/base.py": "from podium.tools.tool import Tool\n"},
        "providers/base.py",
        1,
        "no sideways imports: providers (capabilities) imports tools",
    ),
    "the CLI reaches into the loop": (
        {"cli/app.py": "from podium.agent.loop import agent_loop\n"},
        "cli/app.py",
        1,
        "interfaces never reach into the loop's internals: podium.agent.loop",
    ),
    "a private name from another package": (
        {"agent/loop.py": "from podium.tools.tool import _schema\n"},
        "agent/loop.py",
        1,
        "agent imports the private name(s) _schema of podium.tools.tool",
    ),
    "the core does I/O": (
        {"messages.py": "import socket\n"},
        "messages.py",
        1,
        "the core does no I/O; messages imports socket",
    ),
    "the core imports a third-party package": (
        {"messages.py": "def f():\n    import pydantic\n"},
        "messages.py",
        2,
        "the core imports only the standard library; messages imports pydantic",
    ),
    "the store needs a UI package": (
        {"store/base.py": "def f():\n    from rich.console import Console\n"},
        "store/base.py",
        2,
        "rich is a user-interface package",
    ),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_each_rule_fails_with_the_file_the_import_and_the_rule(tmp_path: Path, case: str) -> None:
    files, where, line, rule = BREAKS[case]
    violations = broken(tmp_path, files)
    assert len(violations) == 1, layering.report(violations, [])
    message = str(violations[0])
    assert message.startswith(f"src/podium/{where}:{line}: ")
    assert rule in message
    assert "fix: " in message


def test_what_is_allowed_stays_allowed(tmp_path: Path) -> None:
    files = {
        "messages.py": '"""Not an import: podium.agent.loop."""\nimport json\nimport logging\n'
        'logger = logging.getLogger("podium.agent")\n',
        "providers/base.py": "from podium.messages import *\n",
        "testing/models.py": "from podium.providers.base import *\nfrom podium.tools.tool import *\n",
        "agent/loop.py": "from podium.store.base import *\nfrom podium.tools.tool import *\nfrom . import events\n",
        "store/base.py": "from podium.tools import tool\n",
        "cli/app.py": "from podium import __version__\nfrom podium.agent import events\nimport rich\n",
        "__init__.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from podium.agent.loop import X\n"
            'EXPORTS = {"X": "podium.agent.loop"}\n'
        ),
    }
    assert broken(tmp_path, files) == []


def test_a_new_unit_must_be_placed(tmp_path: Path) -> None:
    src = build(tmp_path, {"plugins/__init__.py": ""})
    violations, unplaced = layering.check(src)
    assert unplaced == ["plugins"]
    assert "podium.plugins is in no layer" in layering.report(violations, unplaced)


# --------------------------------------------------------------------------- what the rules protect at run time


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_the_store_runs_without_the_agent_or_the_cli() -> None:
    loaded = loaded_after(
        "import tempfile, os, podium.store as s; "
        "st = s.SQLiteStore(os.path.join(tempfile.mkdtemp(), 'x.db')); c = st.create(); "
        "st.paused_run(c.id); s.default_db_path()"
    )
    assert not {m for m in loaded if m.startswith(("podium.agent", "podium.cli", "podium.testing", "click", "rich"))}


def test_the_core_loads_alone() -> None:
    loaded = loaded_after("import podium.messages, podium.paused, podium.streaming, podium.settings")
    podium_modules = {m for m in loaded if m.startswith("podium.")}
    assert {layering.unit_of(m) for m in podium_modules} <= {
        u for u, layer in layering.UNITS.items() if layer == layering.CORE
    }


# --------------------------------------------------------------------------- the map is true


def test_the_architecture_doc_places_every_unit() -> None:
    text = ARCHITECTURE.read_text()
    for unit in layering.UNITS:
        if unit != layering.FACADE_UNIT:
            assert re.search(rf"`{re.escape(unit)}[/`.]", text), f"docs/architecture.md does not place {unit}"


def test_every_path_the_docs_cite_exists() -> None:
    cited: set[str] = set()
    for doc in (ARCHITECTURE, ROOT / "CONTRIBUTING.md", ROOT / "README.md"):
        cited |= set(re.findall(r"`((?:src|tests|docs|bench|scripts)/[\w./-]*[\w/])`", doc.read_text()))
    assert len(cited) > 20
    missing = sorted(p for p in cited if not (ROOT / p).exists())
    assert missing == []
