"""``MCPServer``: the tools (and, opt-in, the resources and prompts) of an MCP server as a Podium toolset.

Example::

    files = MCPServer.stdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."], prefix="fs")
    agent = Agent("openai:gpt-5", tools=[files])
    agent.run("What is in README.md?")

Lifetime: tied to the run, or managed explicitly. Without ``with``, the server is started (or reached) when a
run first asks for its tools and stopped when that run ends (finished, failed, paused or cancelled); the next
run starts it again. ``with MCPServer.stdio(...) as server:`` (or ``async with``) starts it on entry and stops
it on exit, and :meth:`MCPServer.keep` (or :meth:`MCPServer.connect`) keeps it up across runs -- starting an
``npx`` server costs a second -- until :meth:`MCPServer.close` or interpreter exit (an ``atexit`` hook); if the
process is killed, the server sees its stdin close. Stopping
a stdio server closes its stdin, waits, then terminates it: no child process is left behind.

Each call is a Podium :class:`~podium.tools.Tool`: it goes through the agent's approval policy and hooks,
has the server's ``timeout`` (an error result the model sees; the request is cancelled on the server), and
is cancelled on the server (``notifications/cancelled``) when the run is cancelled. Progress notifications
become the run's ``ToolCallProgress`` events, and are logged on the ``podium.mcp`` logger and passed to
``on_progress``. When the server says its tool list
changed (``notifications/tools/list_changed``), the next run lists the tools again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Self, override

from podium.exceptions import UserError
from podium.mcp.config import ServerConfig
from podium.mcp.connection import Connection, ServerGone, ServerUnavailable
from podium.mcp.convert import mcp_function_schema, to_parts, to_tool_result
from podium.messages import ContentPart, Message, Text, ToolResult
from podium.tools.context import RunContext
from podium.tools.tool import Tool
from podium.tools.toolset import Toolset

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["MCPServer", "MCPTool", "ProgressUpdate"]

logger = logging.getLogger("podium.mcp")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """A progress notification the server sent during a tool call."""

    server: str
    """Name of the server."""
    tool: str
    """Name of the tool (as the server knows it)."""
    call_id: str | None
    """Id of the model's tool call, when the call came from a run."""
    progress: float
    """Progress so far (grows with each update)."""
    total: float | None
    """The total, when known."""
    message: str | None
    """What the server says it is doing."""


class MCPTool(Tool[..., Any]):
    """A tool of an MCP server (its schema is the server's; calling it sends ``tools/call``)."""

    def __init__(self, server: MCPServer, spec: Any) -> None:
        self.server = server
        self.remote_name: str = spec.name
        """The tool's name on the server (the model may see it prefixed)."""
        description = spec.description or spec.title or ""
        annotations = spec.annotations.model_dump(exclude_none=True) if spec.annotations is not None else {}
        super().__init__(
            self._invoke,
            name=spec.name,
            description=description,
            timeout=server.timeout,
            metadata={"mcp_server": server.name, "mcp_tool": spec.name, "mcp_annotations": annotations},
        )
        self._schema = mcp_function_schema(spec.name, description, spec.input_schema)

    async def _invoke(self, ctx: RunContext[Any], arguments: dict[str, Any]) -> ToolResult:
        call_id = ctx.tool_call.id if ctx.tool_call is not None else None
        return await self.server.acall_tool(self.remote_name, arguments, call_id=call_id, report=ctx.report_progress)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


class MCPServer(Toolset):
    """An MCP server's tools as a toolset; also its resources and prompts, as methods and (opt-in) tools."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        prefix: str | None = None,
        allow: Sequence[str] | None = None,
        deny: Sequence[str] | None = None,
        timeout: float | None = None,
        connect_timeout: float = 60.0,
        resources_as_tools: bool = False,
        prompts_as_tools: bool = False,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> None:
        """Describe a server (nothing starts until it is used or entered).

        Args:
            config: Where the server is (:meth:`stdio`, :meth:`http` and :func:`~podium.mcp.load_servers`
                build it).
            prefix: Tool names become ``{prefix}_{name}`` (so two servers cannot clash); default
                ``config.prefix``.
            allow: Only tools whose server-side name matches one of these (``fnmatch`` patterns); default
                ``config.allow`` (all tools when ``None``).
            deny: Never tools matching these patterns; default ``config.deny``.
            timeout: Seconds per call before it becomes an error result and is cancelled on the server;
                default ``config.timeout`` (no limit when ``None``).
            connect_timeout: Seconds to start the server and finish the handshake.
            resources_as_tools: Also offer ``list_resources`` and ``read_resource`` tools.
            prompts_as_tools: Also offer ``list_prompts`` and ``get_prompt`` tools.
            on_progress: Called (on the connection's thread) with each progress notification of a call.
        """
        self.config = config
        self._kept = False
        self.name = config.name
        self.prefix = prefix if prefix is not None else config.prefix
        if self.prefix == "":
            raise UserError("prefix must not be empty (pass None for no prefix)")
        self.allow = tuple(allow) if allow is not None else config.allow
        self.deny = tuple(deny) if deny is not None else config.deny
        self.timeout = timeout if timeout is not None else config.timeout
        if self.timeout is not None and self.timeout <= 0:
            raise UserError("timeout must be a positive number of seconds")
        self.resources_as_tools = resources_as_tools
        self.prompts_as_tools = prompts_as_tools
        self.on_progress = on_progress
        self._conn = Connection(config, connect_timeout=connect_timeout, on_message=self._on_message)
        self._lock = threading.Lock()
        self._tools: list[Tool[..., Any]] | None = None
        self._stale = threading.Event()
        self.list_changes = 0
        """How many ``tools/list_changed`` notifications arrived."""

    # ------------------------------------------------------------------ constructors

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        *,
        name: str | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server run as a child process that speaks MCP on its stdin and stdout.

        Args:
            command: Program to run (looked up on ``PATH``).
            args: Its arguments.
            env: Variables added to the child's environment (the SDK passes ``PATH``, ``HOME`` and a few
                more, not the whole environment: give secrets here explicitly).
            cwd: The child's working directory.
            name: Name in messages and logs; default: the command's name.
            **options: The keyword arguments of :class:`MCPServer` (``prefix``, ``allow``, ``timeout``...).
        """
        if not command:
            raise UserError("MCPServer.stdio needs a command")
        label = name or command.rsplit("/", 1)[-1]
        config = ServerConfig(label, "stdio", command=command, args=tuple(args), env=env, cwd=cwd)
        return cls(config, **options)

    @classmethod
    def http(
        cls, url: str, headers: Mapping[str, str] | None = None, *, name: str | None = None, **options: Any
    ) -> MCPServer:
        """A server reached over streamable HTTP at ``url`` (``headers`` go with every request)."""
        if not url.startswith(("http://", "https://")):
            raise UserError(f"MCPServer.http needs an http:// or https:// URL, got {url!r}")
        config = ServerConfig(name or url, "http", url=url, headers=dict(headers or {}))
        return cls(config, **options)

    # ------------------------------------------------------------------ lifetime

    def connect(self) -> Self:
        """Start (or reach) the server now and keep it up until :meth:`close`; raises :class:`ServerUnavailable`."""
        self._kept = True
        self._conn.call(_noop)
        return self

    def keep(self) -> Self:
        """Keep the server up across runs until :meth:`close` (it still starts on first use)."""
        self._kept = True
        return self

    @override
    def end_run(self) -> None:
        """A run ended: stop the server unless it is kept (``with``, :meth:`connect`, :meth:`keep`).

        The next run starts it again.
        """
        if not self._kept:
            self._conn.end_session()

    def close(self) -> None:
        """Stop the server (a stdio child exits or is killed). Idempotent; a closed server cannot be reused."""
        self._conn.close()

    @property
    def generation(self) -> int:
        """How many sessions were opened (more than 1 after the server went away and was started again)."""
        return self._conn.generation

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        self._kept = True
        await asyncio.wrap_future(self._conn.submit(_noop))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r}, {self.config.describe()!r})"

    # ------------------------------------------------------------------ notifications

    async def _on_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method == "notifications/tools/list_changed":
            self.list_changes += 1
            self._stale.set()
            logger.info("MCP server %r: its tool list changed", self.name)
        elif isinstance(message, Exception):
            logger.debug("MCP server %r: transport error: %r", self.name, message)

    def _progress(self, tool: str, call_id: str | None, sink: Callable[..., None] | None = None) -> Any:
        async def report(progress: float, total: float | None, message: str | None) -> None:  # ProgressFnT
            update = ProgressUpdate(self.name, tool, call_id, progress, total, message)
            of = f"/{total:g}" if total is not None else ""
            logger.info("MCP %s.%s progress %g%s %s", self.name, tool, progress, of, message or "")
            if sink is not None:
                sink(progress, total, message)
            if self.on_progress is not None:
                try:
                    self.on_progress(update)
                except Exception:
                    logger.warning("on_progress raised", exc_info=True)

        return report

    # ------------------------------------------------------------------ tools

    def _wanted(self, name: str) -> bool:
        if self.allow is not None and not _matches(name, self.allow):
            return False
        return not _matches(name, self.deny)

    @override
    def changed(self) -> bool:
        """Whether the server said its tools changed since they were last listed."""
        return self._stale.is_set()

    def list_tools(self) -> list[Any]:
        """The server's tool definitions (the SDK's ``Tool`` models, every page), unfiltered."""
        return self._request(_list_all_tools)

    def _request(self, make: Callable[[Client], Awaitable[T]]) -> T:
        """A request that is not a tool call: it may take ``connect_timeout`` seconds (besides connecting)."""
        limit = self._conn.connect_timeout

        async def bounded(client: Client) -> T:
            try:
                return await asyncio.wait_for(make(client), limit)
            except asyncio.TimeoutError:
                raise TimeoutError(f"MCP server {self.name!r} did not answer within {limit:g} s") from None

        return self._conn.call(bounded)

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        """The server's tools (filtered, prefixed), listed again after the server said they changed."""
        with self._lock:
            if self._tools is None or self._stale.is_set():
                self._stale.clear()
                specs = self.list_tools()
                tools: list[Tool[..., Any]] = [MCPTool(self, s) for s in specs if self._wanted(s.name)]
                tools += self._extra_tools()
                self._tools = _fit_names(tools, self.prefix)
            return self._tools

    async def acall_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        call_id: str | None = None,
        report: Callable[[float, float | None, str | None], None] | None = None,
    ) -> ToolResult:
        """Call the server's tool ``name`` from async code; the result's error flag is the server's.

        A server that cannot be reached or went away gives an error result saying so (and the next call
        reconnects). Cancelling the awaiting task cancels the request on the server. Progress goes to
        ``report`` (in a run: ``ToolCallProgress`` events), to ``on_progress`` and to the log.
        """
        progress = self._progress(name, call_id, report)
        future = self._conn.submit(lambda c: c.call_tool(name, dict(arguments), progress_callback=progress))
        try:
            result = await asyncio.wrap_future(future)
        except (ServerGone, ServerUnavailable) as exc:
            return ToolResult(call_id or "", name, (Text(str(exc)),), is_error=True)
        except Exception as exc:
            from mcp import MCPError

            if isinstance(exc, MCPError):  # a protocol error (unknown tool, invalid params): the model can adapt
                text = f"The MCP server {self.name!r} refused the call: {exc.message} (code {exc.code})"
                return ToolResult(call_id or "", name, (Text(text),), is_error=True)
            raise
        return dataclasses.replace(to_tool_result(result), call_id=call_id or "", name=name)

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolResult:
        """Call the server's tool ``name`` from sync code (see :meth:`acall_tool`)."""
        from podium.tools.executor import run_coroutine

        return run_coroutine(lambda: self.acall_tool(name, arguments or {}))

    # ------------------------------------------------------------------ resources and prompts

    def list_resources(self) -> list[Any]:
        """The server's resources (the SDK's ``Resource`` models, every page)."""
        return self._request(_list_all_resources)

    def list_resource_templates(self) -> list[Any]:
        """The server's resource templates."""
        return self._request(_list_all_templates)

    def read_resource(self, uri: str) -> list[ContentPart]:
        """The contents of the resource at ``uri`` as parts (text, images, files)."""
        result = self._request(lambda c: c.read_resource(uri))
        return [to_parts_resource(r) for r in result.contents]

    def list_prompts(self) -> list[Any]:
        """The server's prompts (the SDK's ``Prompt`` models, every page)."""
        return self._request(_list_all_prompts)

    def get_prompt(self, name: str, arguments: Mapping[str, str] | None = None) -> list[Message]:
        """The messages of prompt ``name`` filled with ``arguments``."""
        result = self._request(lambda c: c.get_prompt(name, dict(arguments or {})))
        return [Message(m.role, tuple(to_parts([m.content]))) for m in result.messages]

    def _extra_tools(self) -> list[Tool[..., Any]]:
        from podium.mcp.extras import prompt_tools, resource_tools

        out: list[Tool[..., Any]] = []
        if self.resources_as_tools:
            out += resource_tools(self)
        if self.prompts_as_tools:
            out += prompt_tools(self)
        return out


def _fit_names(tools: list[Tool[..., Any]], prefix: str | None) -> list[Tool[..., Any]]:
    """``tools`` named ``{prefix}_{name}``, in the characters and length every provider takes.

    Providers take ``[A-Za-z0-9_-]{1,64}``; MCP servers may use dots, slashes or spaces. Other characters
    become ``_``, long names are cut, and names that end up equal get ``_2``, ``_3``... The call still goes
    to the server's own name (:attr:`MCPTool.remote_name`).
    """
    out: list[Tool[..., Any]] = []
    taken: set[str] = set()
    for t in tools:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{t.name}" if prefix else t.name)[:64] or "tool"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base[: 64 - len(str(n)) - 1]}_{n}"
        taken.add(name)
        out.append(t if name == t.name else t.renamed(name))
    return out


def to_parts_resource(contents: Any) -> ContentPart:
    """One part for the contents of a read resource."""
    from podium.mcp.convert import _resource_part

    return _resource_part(contents)


async def _noop(client: Client) -> None:
    return None


async def _pages(fetch: Callable[[str | None], Any], field: str) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(1000):  # a server whose cursor never ends cannot hang the client
        page = await fetch(cursor)
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if not cursor:
            break
    return items


async def _list_all_tools(client: Client) -> list[Any]:
    return await _pages(lambda cur: client.list_tools(cursor=cur), "tools")


async def _list_all_resources(client: Client) -> list[Any]:
    return await _pages(lambda cur: client.list_resources(cursor=cur), "resources")


async def _list_all_templates(client: Client) -> list[Any]:
    return await _pages(lambda cur: client.list_resource_templates(cursor=cur), "resource_templates")


async def _list_all_prompts(client: Client) -> list[Any]:
    return await _pages(lambda cur: client.list_prompts(cursor=cur), "prompts")
