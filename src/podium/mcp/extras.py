"""A server's resources and prompts as tools the model can call (opt-in).

Turned on with ``resources_as_tools=True`` and ``prompts_as_tools=True`` on :class:`~podium.mcp.MCPServer`.

``list_resources`` lists the resources and templates (URI, name, type, description); ``read_resource``
returns a resource's contents as parts (text, images, files). ``list_prompts`` lists the prompts and their
arguments; ``get_prompt`` returns a prompt's messages as text. All four are read-only.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podium.messages import ContentPart, Text
from podium.tools.tool import Tool

if TYPE_CHECKING:
    from podium.mcp.client import MCPServer

__all__ = ["prompt_tools", "resource_tools"]


async def _in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _describe(item: Any, key: str) -> str:
    facts = [f"{key}: {getattr(item, key)}", f"name: {item.name}"]
    mime = getattr(item, "mime_type", None)
    if mime:
        facts.append(f"type: {mime}")
    if item.description:
        facts.append(f"description: {item.description}")
    return "- " + "; ".join(facts)


def resource_tools(server: MCPServer) -> list[Tool[..., Any]]:
    """``list_resources`` and ``read_resource`` tools for ``server``."""
    meta = {"mcp_server": server.name, "mcp_annotations": {"readOnlyHint": True}}

    async def list_resources() -> str:
        """List the resources this server offers (their URIs, names and types)."""
        resources = await _in_thread(server.list_resources)
        try:
            templates = await _in_thread(server.list_resource_templates)
        except Exception:  # servers without templates answer "method not found"
            templates = []
        lines = [_describe(r, "uri") for r in resources]
        lines += [_describe(t, "uri_template") for t in templates]
        return "\n".join(lines) if lines else "(no resources)"

    async def read_resource(uri: str) -> list[ContentPart]:
        """Read one resource.

        Args:
            uri: The resource's URI, as listed by list_resources (templates filled in).
        """
        parts: list[ContentPart] = await _in_thread(functools.partial(server.read_resource, uri))
        return parts or [Text("(empty resource)")]

    return [
        Tool(list_resources, name="list_resources", metadata=meta),
        Tool(read_resource, name="read_resource", metadata=meta),
    ]


def prompt_tools(server: MCPServer) -> list[Tool[..., Any]]:
    """``list_prompts`` and ``get_prompt`` tools for ``server``."""
    meta = {"mcp_server": server.name, "mcp_annotations": {"readOnlyHint": True}}

    async def list_prompts() -> str:
        """List the prompts this server offers and their arguments."""
        prompts = await _in_thread(server.list_prompts)
        lines = []
        for p in prompts:
            args = ", ".join(f"{a.name}{'' if a.required else '?'}" for a in p.arguments or [])
            lines.append(f"- {p.name}({args}){': ' + p.description if p.description else ''}")
        return "\n".join(lines) if lines else "(no prompts)"

    async def get_prompt(name: str, arguments: dict[str, str] | None = None) -> str:
        """Get a prompt's messages.

        Args:
            name: The prompt's name, as listed by list_prompts.
            arguments: Values of the prompt's arguments.
        """
        messages = await _in_thread(functools.partial(server.get_prompt, name, arguments or {}))
        out = []
        for m in messages:
            text = "\n".join(p.text if isinstance(p, Text) else f"[{p.type}]" for p in m.parts)
            out.append(f"{m.role}: {text}")
        return "\n\n".join(out)

    return [
        Tool(list_prompts, name="list_prompts", metadata=meta),
        Tool(get_prompt, name="get_prompt", metadata=meta),
    ]
