"""The JSON API (documented in ``docs/web.md``); the page is one client of it.

Errors are ``{"error": "what was wrong and what to do"}`` with 400 (bad input), 404 (no such thing),
409 (a turn is running, or calls wait for approval), 413 (too large) or 415 (an attachment type the
server does not take).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from podium.exceptions import UserError
from podium.messages import File, Image, Text
from podium.store.base import NotFoundError, StoreError
from podium.web.files import FileRefused, list_dir, read_file
from podium.web.service import Busy, WebService

__all__ = ["ATTACHMENT_TYPES", "KEEPALIVE_SECONDS", "Limits", "routes"]

logger = logging.getLogger("podium.web")

ATTACHMENT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
"""What can be attached to a message."""

KEEPALIVE_SECONDS = 15.0
"""A comment line on an idle event stream this often, so proxies and browsers keep it open."""


class Limits:
    """Size limits of requests.

    Args:
        upload_bytes: The most bytes one attachment may have (decoded).
        attachments: The most attachments one message may carry.
    """

    def __init__(self, upload_bytes: int = 10 * 1024 * 1024, attachments: int = 4) -> None:
        self.upload_bytes = upload_bytes
        self.attachments = attachments

    @property
    def body_bytes(self) -> int:
        """The most bytes a request body may have (base64 of every attachment, and some text)."""
        return (self.upload_bytes * 4 // 3 + 4) * self.attachments + 1024 * 1024


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Handler = Callable[[Request], Awaitable[Response]]


def _json(handler: Handler) -> Handler:
    """Turn the service's errors into JSON responses with the right status."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except _HTTPError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except FileRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except NotFoundError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except Busy as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (UserError, StoreError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return wrapped


async def _body(request: Request, limit: int) -> dict[str, Any]:
    """The JSON object in the body, read up to ``limit`` bytes (413 past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _HTTPError(413, f"the request is larger than {limit // (1024 * 1024)} MiB; send smaller attachments")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _HTTPError(413, f"the request is larger than {limit // (1024 * 1024)} MiB; send smaller attachments")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        return {}
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise _HTTPError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _HTTPError(400, "the body must be a JSON object")
    return doc


def _field(doc: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = doc.get(name)
    if value is None:
        if required:
            raise _HTTPError(400, f"{name!r} is missing")
        return None
    if not isinstance(value, kind):
        raise _HTTPError(400, f"{name!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _parts(doc: dict[str, Any], limits: Limits) -> list[Any]:
    """The parts of a user message: its text, then its attachments (base64, a type from ATTACHMENT_TYPES)."""
    text = _field(doc, "text", str) or ""
    attachments = _field(doc, "attachments", list) or []
    if len(attachments) > limits.attachments:
        raise _HTTPError(413, f"at most {limits.attachments} attachments per message, got {len(attachments)}")
    parts: list[Any] = [Text(text)] if text.strip() else []
    for i, item in enumerate(attachments):
        if not isinstance(item, dict):
            raise _HTTPError(400, f"attachment {i} must be an object with media_type and data (base64)")
        media = item.get("media_type")
        if media not in ATTACHMENT_TYPES:
            allowed = ", ".join(sorted(ATTACHMENT_TYPES))
            raise _HTTPError(415, f"attachment {i} has the type {media!r}; the types taken are {allowed}")
        try:
            data = base64.b64decode(str(item.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise _HTTPError(400, f"attachment {i}: data is not valid base64") from None
        if not data:
            raise _HTTPError(400, f"attachment {i} is empty")
        if len(data) > limits.upload_bytes:
            size = limits.upload_bytes // (1024 * 1024)
            raise _HTTPError(413, f"attachment {i} is larger than {size} MiB; send a smaller file")
        name = item.get("name") if isinstance(item.get("name"), str) else None
        if media.startswith("image/"):
            parts.append(Image(data=data, media_type=media))
        else:
            parts.append(File(data=data, media_type=media, filename=name))
    if not parts:
        raise _HTTPError(400, "the message is empty: write something or attach an image or a PDF")
    return parts


def routes(service: WebService, limits: Limits) -> list[Route]:
    """The API's routes over ``service``."""

    @_json
    async def list_conversations(request: Request) -> Response:
        query = request.query_params.get("q", "")
        return JSONResponse({"conversations": await _off(service.conversations, query)})

    @_json
    async def create_conversation(request: Request) -> Response:
        doc = await _body(request, 64 * 1024)
        return JSONResponse(await _off(service.create, _field(doc, "model", str)), status_code=201)

    @_json
    async def get_conversation(request: Request) -> Response:
        return JSONResponse(await _off(service.conversation, request.path_params["cid"]))

    @_json
    async def patch_conversation(request: Request) -> Response:
        doc = await _body(request, 64 * 1024)
        title, model = _field(doc, "title", str), _field(doc, "model", str)
        return JSONResponse(await _off(service.update, request.path_params["cid"], title=title, model=model))

    @_json
    async def delete_conversation(request: Request) -> Response:
        await _off(service.delete, request.path_params["cid"])
        return JSONResponse({"deleted": request.path_params["cid"]})

    @_json
    async def fork(request: Request) -> Response:
        doc = await _body(request, 64 * 1024)
        return JSONResponse(
            await _off(service.fork, request.path_params["cid"], _field(doc, "up_to", str)), status_code=201
        )

    @_json
    async def undo(request: Request) -> Response:
        return JSONResponse({"hidden": await _off(service.undo, request.path_params["cid"])})

    @_json
    async def redo(request: Request) -> Response:
        return JSONResponse({"shown": await _off(service.redo, request.path_params["cid"])})

    @_json
    async def post_message(request: Request) -> Response:
        parts = _parts(await _body(request, limits.body_bytes), limits)
        status = await _off(service.post, request.path_params["cid"], parts)
        return JSONResponse({"status": status}, status_code=202)

    @_json
    async def stop(request: Request) -> Response:
        return JSONResponse({"stopped": await _off(service.stop, request.path_params["cid"])})

    @_json
    async def approvals(request: Request) -> Response:
        doc = await _body(request, 64 * 1024)
        decisions = _field(doc, "decisions", dict, required=True)
        if not all(isinstance(v, str) for v in decisions.values()):
            raise _HTTPError(400, "each decision is 'allow', 'deny' or 'always'")
        return JSONResponse(await _off(service.decide, request.path_params["cid"], decisions))

    @_json
    async def events(request: Request) -> Response:
        cid = request.path_params["cid"]
        await _off(service.store.get, cid)
        return StreamingResponse(
            _event_stream(service, cid),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    @_json
    async def models(request: Request) -> Response:
        return JSONResponse(await _off(service.models))

    @_json
    async def files(request: Request) -> Response:
        path = request.query_params.get("path", "")
        if request.query_params.get("kind") == "file":
            return JSONResponse(await _off(read_file, service.workspace, path))
        return JSONResponse(await _off(list_dir, service.workspace, path))

    @_json
    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "workspace": str(service.workspace),
                "tools": service.tools,
                "default_model": service.default_model,
                "notes": service.notes,
                "limits": {"upload_bytes": limits.upload_bytes, "attachments": limits.attachments},
                "attachment_types": sorted(ATTACHMENT_TYPES),
            }
        )

    c = "/api/conversations/{cid:str}"
    return [
        Route("/api/info", info, methods=["GET"]),
        Route("/api/models", models, methods=["GET"]),
        Route("/api/files", files, methods=["GET"]),
        Route("/api/conversations", list_conversations, methods=["GET"]),
        Route("/api/conversations", create_conversation, methods=["POST"]),
        Route(c, get_conversation, methods=["GET"]),
        Route(c, patch_conversation, methods=["PATCH"]),
        Route(c, delete_conversation, methods=["DELETE"]),
        Route(c + "/fork", fork, methods=["POST"]),
        Route(c + "/undo", undo, methods=["POST"]),
        Route(c + "/redo", redo, methods=["POST"]),
        Route(c + "/messages", post_message, methods=["POST"]),
        Route(c + "/stop", stop, methods=["POST"]),
        Route(c + "/approvals", approvals, methods=["POST"]),
        Route(c + "/events", events, methods=["GET"]),
    ]


async def _off(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking call (SQLite, a model's resolution) on a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def _event_stream(service: WebService, conversation_id: str) -> Any:
    """Server-sent events of a conversation: ``data: {json}`` per event, a comment line when idle."""
    live = service.live(conversation_id)
    queue = live.subscribe()
    try:
        yield ": connected\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n"
            if item["kind"] == "server_stopping":
                return
    finally:
        live.unsubscribe(queue)
