"""The layer rules of ``src/podium`` and a checker that reads every import from the source (AST).

The rules are data here and prose in ``docs/architecture.md``; ``tests/test_layering.py`` runs the checker
over the package and over small synthetic packages that break each rule on purpose.

What counts as an import, anywhere in a file (module level, inside functions and methods, under
``if TYPE_CHECKING:``, in ``try``/``except ImportError``):

* ``import podium.x.y`` and ``from podium.x import y`` (``y`` is resolved to the submodule when it is one),
  relative imports included;
* a string literal naming a Podium module, ``"podium.x.y"`` or ``"podium.x.y:attr"`` -- the form used by
  ``importlib.import_module``, lazy export tables and the provider registry. Docstrings and logger names
  (``logging.getLogger("podium.store")``) are not imports.

Type-only imports obey the same rules: a signature in a lower layer that names an upper layer's type is
the very coupling the layers forbid, and with ``from __future__ import annotations`` nothing needs them.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CORE, CAPABILITIES, ORCHESTRATION, FACADE, INTERFACES = "core", "capabilities", "orchestration", "facade", "interfaces"
RANK = {CORE: 0, CAPABILITIES: 1, ORCHESTRATION: 2, FACADE: 3, INTERFACES: 4}

PACKAGE = "podium"
FACADE_UNIT = "(podium)"
"""The unit of ``podium/__init__.py``: the package's public names, re-exported lazily from every layer."""

UNITS: dict[str, str] = {
    # core: pure data, no I/O; the modules may import one another
    "exceptions": CORE,
    "messages": CORE,
    "paused": CORE,
    "secrets": CORE,
    "settings": CORE,
    "streaming": CORE,
    "usage": CORE,
    # capabilities
    "providers": CAPABILITIES,
    "tools": CAPABILITIES,
    "mcp": CAPABILITIES,
    # orchestration
    "store": ORCHESTRATION,
    "trace": ORCHESTRATION,
    "agent": ORCHESTRATION,
    # the package itself
    FACADE_UNIT: FACADE,
    # interfaces
    "cli": INTERFACES,
    "web": INTERFACES,
    "batch": INTERFACES,  # drives agents (podium batch, podium.batch.run); only podium.agent's public modules
    "testing": INTERFACES,  # test helpers for users' tests: they may use everything, nothing uses them
}
"""Every top-level module and subpackage of ``podium`` and its layer. A new one fails the test until it is
placed here (and in ``docs/architecture.md``)."""

SIDEWAYS: dict[str, frozenset[str]] = {
    "mcp": frozenset({"tools"}),  # the MCP client builds toolsets, the server serves them
    "agent": frozenset({"store", "trace"}),  # the loop records runs; store and trace never import the agent
    "cli": frozenset({"web", "batch"}),  # `podium serve` starts the web UI; `podium batch` runs a batch
}
"""Imports allowed between different units of one layer (besides the core, whose modules are one unit of
pure data). Anything else in the same layer is sideways: providers and tools never import each other,
store and trace never import the agent (nor each other), the web UI never imports the CLI."""

HELPER_UNITS = frozenset({"testing"})
"""Helpers for users' tests: nothing else in ``podium`` may import them (production code never depends on a
test double). The provider registry finds the ``test`` models through an entry point instead."""

AGENT_PUBLIC = frozenset(
    {
        "podium.agent",
        "podium.agent.agent",
        "podium.agent.approval",
        "podium.agent.cancel",
        "podium.agent.decisions",
        "podium.agent.events",
        "podium.agent.hooks",
        "podium.agent.memory",
        "podium.agent.recording",
        "podium.agent.replay",
        "podium.agent.durable",
        "podium.agent.result",
        "podium.agent.rules",
    }
)
"""The agent modules an interface may import; the rest (the loop, its drivers, approval binding, output
handling, and any new module until listed here) are the loop's internals."""

INTERFACE_ONLY_PACKAGES = frozenset({"click", "rich", "prompt_toolkit", "textual", "starlette", "fastapi", "uvicorn"})
"""Third-party UI and web packages: only the interfaces may import them."""

CORE_FORBIDDEN_STDLIB = frozenset(
    {
        "asyncio",
        "concurrent",
        "http",
        "multiprocessing",
        "select",
        "selectors",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "urllib.request",
    }
)
"""Standard modules that do network, process or database I/O: the core never imports them."""

CORE_ALLOWED_THIRD_PARTY = frozenset({"typing_extensions"})
"""The core imports the standard library and nothing else but these."""

_MODULE_STRING = re.compile(r"podium(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_][\w.]*)?")
_NOT_IMPORTS = {"getLogger"}  # calls whose string arguments are not modules (logger names)


@dataclass(frozen=True)
class Import:
    """One import found in a file."""

    source: str
    """The importing module, ``podium.store.sqlite``."""
    path: Path
    """Its file, relative to the folder that holds ``src/``."""
    line: int
    """Line of the import."""
    target: str
    """The imported module (third-party ones by their top-level name), ``podium.agent.approval``."""
    names: tuple[str, ...]
    """The names taken from it (``from x import a, b``), or ``()``."""
    text: str
    """The statement as written (or the string literal)."""
    kind: str
    """``import``, ``type-only import``, ``import in a function`` or ``string reference``."""


@dataclass(frozen=True)
class Violation:
    """One broken rule."""

    imp: Import
    rule: str
    hint: str

    def __str__(self) -> str:
        i = self.imp
        return f"{i.path}:{i.line}: {i.kind} `{i.text}`\n    breaks: {self.rule}\n    fix: {self.hint}"


def module_name(path: Path, src: Path) -> str:
    """``src/podium/store/sqlite.py`` -> ``podium.store.sqlite``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """``podium.store.sqlite`` -> ``store``; ``podium`` -> the façade unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE_UNIT


class _Collector(ast.NodeVisitor):
    """Collects every import of one file, noting whether it is type-only or inside a function."""

    def __init__(self, module: str, path: Path, is_package: bool, modules: frozenset[str]) -> None:
        self.module, self.path, self.is_package, self.modules = module, path, is_package, modules
        self.found: list[Import] = []
        self._type_only = 0
        self._functions = 0
        self._skip: set[int] = set()  # ids of string nodes that are docstrings or logger names

    def _kind(self) -> str:
        if self._type_only:
            return "type-only import"
        return "import in a function" if self._functions else "import"

    def _add(self, node: ast.AST, target: str, names: tuple[str, ...], kind: str | None = None) -> None:
        text = ast.unparse(node) if not isinstance(node, ast.Constant) else repr(node.value)
        line = getattr(node, "lineno", 0)
        self.found.append(Import(self.module, self.path, line, target, names, text, kind or self._kind()))

    # -- scopes

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if test in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            self.visit(node.test)
            self._type_only += 1
            for stmt in node.body:
                self.visit(stmt)
            self._type_only -= 1
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            self._skip.add(id(node.value))  # a bare string statement: a docstring
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _NOT_IMPORTS:
            for arg in node.args:
                self._skip.add(id(arg))
        self.generic_visit(node)

    # -- imports

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name, ())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        if not base.startswith(PACKAGE + ".") and base != PACKAGE:
            self._add(node, base, tuple(a.name for a in node.names))
            return
        plain: list[str] = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in self.modules:  # `from podium import agent`, `from podium.agent import loop`
                self._add(node, sub, ())
            else:
                plain.append(alias.name)
        if plain:
            self._add(node, base, tuple(plain))

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.split(".")
        if not self.is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, node.module] if node.module else parts)

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) in self._skip or not isinstance(node.value, str):
            return
        if not _MODULE_STRING.fullmatch(node.value):
            return
        target = node.value.partition(":")[0]
        while target not in self.modules and "." in target:  # "podium.pkg.mod.attr" -> its module
            target = target.rsplit(".", 1)[0]
        if target != PACKAGE:
            self._add(node, target, (), "string reference")


def package_modules(src: Path) -> dict[str, Path]:
    """Every module of the package under ``src`` by dotted name."""
    return {module_name(p, src): p for p in sorted((src / PACKAGE).rglob("*.py"))}


def collect(src: Path) -> Iterator[Import]:
    """Every import of every module of the package under ``src``."""
    modules = package_modules(src)
    names = frozenset(modules)
    for module, path in modules.items():
        shown = path.relative_to(src.parent)
        collector = _Collector(module, shown, path.name == "__init__.py", names)
        collector.visit(ast.parse(path.read_bytes(), filename=str(shown)))
        yield from collector.found


def _third_party(target: str) -> str | None:
    top = target.split(".")[0]
    if not top or top == PACKAGE or top == "__future__" or top in sys.stdlib_module_names:
        return None
    return top


def check_import(imp: Import) -> Violation | None:
    """The first rule ``imp`` breaks, if any."""
    src_unit = unit_of(imp.source)
    src_layer = UNITS[src_unit]
    if not (imp.target == PACKAGE or imp.target.startswith(PACKAGE + ".")):
        return _check_external(imp, src_unit, src_layer)
    dst_unit = unit_of(imp.target)
    if dst_unit == src_unit:
        return None
    dst_layer = UNITS.get(dst_unit)
    if dst_layer is None:
        return Violation(imp, f"`{PACKAGE}.{dst_unit}` is in no layer", "place it in UNITS (tests/layering.py)")
    if dst_unit in HELPER_UNITS:
        return Violation(
            imp,
            f"nothing in podium imports the test helpers ({PACKAGE}.{dst_unit}); {src_unit} is production code",
            "register the helper from its own side (an entry point, a hook) or move the shared code down",
        )
    where = f"{src_unit} ({src_layer}) imports {dst_unit} ({dst_layer})"
    if RANK[dst_layer] > RANK[src_layer]:
        return Violation(
            imp,
            f"imports point down the layers: {where}, a layer above",
            "move the shared code down (data types to the core), or the code that needs both up a layer",
        )
    if dst_layer == src_layer and dst_layer != CORE and dst_unit not in SIDEWAYS.get(src_unit, frozenset()):
        allowed = [f"{a} -> {', '.join(sorted(b))}" for a, b in sorted(SIDEWAYS.items()) if UNITS[a] == src_layer]
        return Violation(
            imp,
            f"no sideways imports: {where}; within {src_layer} only {'; '.join(allowed) or 'nothing'}",
            "move the shared code down a layer, or allow the edge in SIDEWAYS with the reason (and in the docs)",
        )
    if src_layer == INTERFACES and dst_unit == "agent" and imp.target not in AGENT_PUBLIC:
        return Violation(
            imp,
            f"interfaces never reach into the loop's internals: {imp.target} is not public",
            "use podium.agent's public modules (Agent, events, results, approval), or make the module public",
        )
    private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
    if private:
        return Violation(
            imp,
            f"{src_unit} imports the private name(s) {', '.join(private)} of {imp.target}",
            "make the name public where it is defined, or move the code that needs it into its package",
        )
    return None


def _check_external(imp: Import, src_unit: str, src_layer: str) -> Violation | None:
    top = _third_party(imp.target)
    if top is not None and top in INTERFACE_ONLY_PACKAGES and src_layer != INTERFACES:
        return Violation(
            imp,
            f"{top} is a user-interface package: only the interfaces (cli, web) import it, not {src_unit}",
            "return data and let the interface render it",
        )
    if src_layer != CORE:
        return None
    if top is not None and top not in CORE_ALLOWED_THIRD_PARTY:
        return Violation(
            imp,
            f"the core imports only the standard library; {src_unit} imports {top}",
            "move the code that needs it to the layer that uses it",
        )
    io = [m for m in CORE_FORBIDDEN_STDLIB if imp.target == m or imp.target.startswith(m + ".")]
    if io:
        return Violation(
            imp,
            f"the core does no I/O; {src_unit} imports {io[0]}",
            "do the I/O in a capability (providers, tools) or in the store",
        )
    return None


def check(src: Path) -> tuple[list[Violation], list[str]]:
    """All violations in the package under ``src``, and the units that are in no layer."""
    unplaced = sorted({unit_of(m) for m in package_modules(src)} - set(UNITS))
    if unplaced:
        return [], unplaced
    violations = [v for imp in collect(src) if (v := check_import(imp)) is not None]
    return violations, []


def report(violations: list[Violation], unplaced: list[str]) -> str:
    """A message for a failing test: each broken rule with its file, line and import."""
    lines = [
        f"podium.{u} is in no layer: place it in UNITS (tests/layering.py) and docs/architecture.md" for u in unplaced
    ]
    if violations:
        lines.append(f"{len(violations)} import(s) break the layer rules (docs/architecture.md, 'Layers'):")
        lines.extend(str(v) for v in violations)
    return "\n".join(lines)
