"""``podium serve``: the web UI (a Starlette app on uvicorn; ``pip install 'podium[web]'``).

It listens on 127.0.0.1 by default and prints a URL with a random token; opening it sets a cookie, and
every request must carry that token and come from the server's own pages (see :mod:`podium.web.security`).
The model, tools, approval policy, MCP servers, memory and database are those of ``podium chat``.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from podium.cli.options import mcp_option, memory_option
from podium.exceptions import UserError

if TYPE_CHECKING:
    from podium.web.service import WebService

__all__ = ["serve"]

logger = logging.getLogger("podium.web")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("-m", "--model", help="Default model of new conversations, e.g. anthropic:claude-sonnet-4-5.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Conversation database file.")
@click.option("--tools/--no-tools", default=False, help="Give the model the built-in workspace tools.")
@click.option(
    "--tool", "only_tools", multiple=True, help="Offer only this built-in tool (repeatable; implies --tools)."
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    help="Directory the tools work in and the file view shows (default: the current one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in the default browser.")
@click.option(
    "--allow-host",
    multiple=True,
    help="Another name the server may be reached by (repeatable), e.g. the machine's name with --host 0.0.0.0.",
)
@click.option("--max-upload-mb", default=10, show_default=True, type=click.IntRange(1, 100), help="Largest attachment.")
@mcp_option
@memory_option
def serve(
    host: str,
    port: int,
    model: str | None,
    db: Path | None,
    tools: bool,
    only_tools: tuple[str, ...],
    workspace: Path,
    open_browser: bool,
    allow_host: tuple[str, ...],
    max_upload_mb: int,
    memory: bool | None,
    mcp_files: tuple[Path, ...],
) -> None:
    """Serve the web UI: chat in a browser tab, with approvals, files, images and past conversations."""
    try:
        import uvicorn

        from podium.web.api import Limits
        from podium.web.app import create_app, new_token
        from podium.web.security import allowed_hosts
        from podium.web.service import WebService
    except ImportError as exc:
        raise UserError(f"podium serve needs the web extra ({exc.name} is missing): pip install 'podium[web]'") from exc
    from podium.cli.config import choose_model
    from podium.cli.mcp import open_servers
    from podium.cli.session import EMBEDDED_NOTE, build_agent, open_memory
    from podium.providers.registry import model as resolve
    from podium.store import SQLiteStore

    choice = choose_model(model)
    resolve(choice.spec)  # a bad model name fails now, not at the first message
    notes = [EMBEDDED_NOTE] if choice.is_embedded_default else []
    workspace = workspace.resolve()
    sock = _bind(host, port)
    store = SQLiteStore(db) if db is not None else SQLiteStore()
    try:
        tools_on = tools or bool(only_tools)
        notes_memory = open_memory(memory, store.path, workspace)
        servers = open_servers(mcp_files)

        def make_agent(spec: str) -> Any:
            return build_agent(resolve(spec), tools_on, workspace, only_tools or None, notes_memory, servers)

        service = WebService(
            store,
            workspace,
            choice.spec,
            make_agent,
            offered_models=_offered_models(),
            tools=tools_on,
            notes=notes,
        )
        actual = sock.getsockname()[1]
        token = new_token()
        app = create_app(
            service,
            token=token,
            hosts=allowed_hosts(host, actual, allow_host),
            limits=Limits(upload_bytes=max_upload_mb * 1024 * 1024),
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{actual}/?token={token}"
        for note in notes:
            click.echo(note, err=True)
        click.echo(f"podium web UI: {url}", err=False)
        click.echo(
            f"model {choice.spec}; tools {'on' if service.tools else 'off'} in {workspace}; database {store.path}",
            err=True,
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            click.echo(
                f"note: listening on {host}, not only this machine; the token still guards it, but the traffic is "
                "plain HTTP. Other machines must use a name given with --allow-host (the Host header is checked).",
                err=True,
            )
        sys.stdout.flush()
        if open_browser:
            import threading
            import webbrowser

            threading.Timer(0.5, webbrowser.open, args=(url,)).start()
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3, ws="none"
        )
        _server_class()(config, service).run(sockets=[sock])
    finally:
        sock.close()
        store.close()


def _offered_models() -> list[dict[str, str]]:
    """The models ``podium models`` lists that can run here: those of the providers with a key, local, test."""
    import os

    from podium.cli.config import KEY_DEFAULTS

    offered: list[dict[str, str]] = []
    for variable, provider, default in KEY_DEFAULTS:
        if os.environ.get(variable) and all(m["id"] != default for m in offered):
            offered.append({"id": default, "label": f"{default} ({provider}, {variable} set)"})
    offered.append({"id": "local:", "label": "local: (embedded SmolLM2-135M)"})
    offered.append({"id": "test:echo", "label": "test:echo (repeats you)"})
    return offered


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server that ends the clients' event streams first when asked to stop (Ctrl-C, SIGTERM)."""

        def __init__(self, config: uvicorn.Config, service: WebService) -> None:
            super().__init__(config)
            self.service = service

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.service.close_streams()
            super().handle_exit(sig, frame)

    return Server


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a ``UserError`` saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host!r}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port (0: any free port)" if exc.errno == 98 else ""
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.set_inheritable(True)
    return sock
