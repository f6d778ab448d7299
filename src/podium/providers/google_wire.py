"""Pure translation between Podium's universal messages and the Gemini ``generateContent`` wire format.

Shared by the Gemini API and Vertex AI (same JSON), by sync and async calls, and by requests and
streams: a non-streaming response is fed to the same :class:`GeminiAccumulator` as one big stream
chunk, so both paths give the same :class:`~podium.messages.ModelResponse`.

Mapping, universal -> wire:

* ``system`` messages -> ``systemInstruction``; ``assistant`` -> ``model`` contents; ``user`` and
  ``tool`` -> ``user`` contents (consecutive contents of the same role are merged).
* :class:`Text` -> ``text``; :class:`Image` / :class:`File` bytes -> ``inlineData`` (base64url, as
  the official SDK sends it); URLs (``gs://``, ``https://``, YouTube, Files API) -> ``fileData``.
* :class:`ToolCall` -> ``functionCall`` with its ``id``; :class:`ToolResult` -> ``functionResponse``
  with ``{"output": ...}`` (or ``{"error": ...}`` when ``is_error``), Gemini's documented keys;
  images and files in a result follow it as ``inlineData``/``fileData`` parts.
* :class:`Thinking` from Google -> ``{"text", "thought": true}``; a ``thoughtSignature`` on any part
  is kept and sent back verbatim on the same part (``Thinking.signature``, or
  ``provider_details["thoughtSignature"]`` of text, tool-call and media parts).
* :class:`ProviderPart` from Google (code execution, ...) is sent back verbatim; :class:`CachePoint`
  is ignored (Gemini caches implicitly, or explicitly with ``cachedContent``).

Wire -> universal: ``text`` -> Text, ``thought`` text -> Thinking, ``functionCall`` -> ToolCall
(Gemini before 3 returns no id: Podium makes one from the response id and the part index, stable
between streaming and non-streaming; from a random token when a response has no id, so that ids never
repeat across turns), ``inlineData``/``fileData`` -> Image/File, anything else ->
ProviderPart. Extra part fields land in the part's ``provider_details`` and go back verbatim.
Finish reason, safety ratings, grounding and citation metadata, the raw usage and the response id
land in the response's ``provider_details``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import cast

from podium.exceptions import InvalidResponseError
from podium.exceptions import UserError
from podium.messages import CachePoint
from podium.messages import File
from podium.messages import FinishReason
from podium.messages import Image
from podium.messages import JsonDict
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import Part
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.conversion import map_tool_call_id
from podium.providers.conversion import prepare_parts
from podium.providers.conversion import same_provider
from podium.providers.conversion import sampling
from podium.providers.pricing import cost_of
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import ToolDefinition
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.usage import Usage

__all__ = [
    "FAMILY",
    "GeminiAccumulator",
    "build_request",
    "finish_reason_of",
    "merge_extra",
    "thinking_config",
    "usage_of",
]

FAMILY = ("google", "google-vertex")
"""Providers that speak this wire format. Their thinking, signatures and provider parts are sent to
each other (same models, same JSON); whether a signature made on one endpoint validates on the other
is Google's call and was not checked against the live services."""

_SIGNATURE = "thoughtSignature"
_YOUTUBE = re.compile(r"^https?://(www\.|m\.)?(youtube\.com|youtu\.be)/", re.IGNORECASE)

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "LANGUAGE": "error",
    "OTHER": "error",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "IMAGE_OTHER": "error",
    "NO_IMAGE": "error",
}

# Effort levels -> thinking budgets for models that take a budget (Gemini 2.5).
_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}


# --------------------------------------------------------------------------- request


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _guess_mime(url: str, default: str | None) -> str | None:
    if _YOUTUBE.match(url):
        return "video/mp4"
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed or default


def _media_part(part: Image | File, details: JsonDict | None) -> JsonDict:
    out: JsonDict
    if part.data is not None:
        out = {"inlineData": {"mimeType": part.media_type, "data": _b64(part.data)}}
    else:
        assert part.url is not None
        file_data: JsonDict = {"fileUri": part.url}
        mime = part.media_type or _guess_mime(part.url, "image/jpeg" if isinstance(part, Image) else None)
        if mime:
            file_data["mimeType"] = mime
        out = {"fileData": file_data}
    if details:
        out.update(details)
    return out


def _tool_output(result: ToolResult) -> Any:
    """The value of a tool result for ``functionResponse.response``: parsed JSON objects stay structured."""
    text = result.text
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


def _tool_result_parts(result: ToolResult, call_id: str) -> list[JsonDict]:
    response: JsonDict = {"error": _tool_output(result)} if result.is_error else {"output": _tool_output(result)}
    function_response: JsonDict = {"id": call_id, "name": result.name, "response": response}
    parts: list[JsonDict] = [{"functionResponse": function_response}]
    for item in result.content:
        if isinstance(item, (Image, File)):
            parts.append(_media_part(item, None))
    return parts


def _convert_parts(message: Message, provider: str, own: bool, settings: ModelSettings) -> list[JsonDict]:
    out: list[JsonDict] = []
    for part in prepare_parts(message, provider, family=FAMILY, foreign_thinking=settings.foreign_thinking):
        details = part.provider_details if own and not isinstance(part, (ProviderPart, CachePoint)) else None
        if isinstance(part, Text):
            wire: JsonDict = {"text": part.text}
            if details:
                wire.update(details)
            out.append(wire)
        elif isinstance(part, (Image, File)):
            out.append(_media_part(part, details))
        elif isinstance(part, ToolCall):
            call: JsonDict = {"id": map_tool_call_id(part.id), "name": part.name, "args": part.args}
            wire = {"functionCall": call}
            if details:
                wire.update(details)
            out.append(wire)
        elif isinstance(part, ToolResult):
            out.extend(_tool_result_parts(part, map_tool_call_id(part.call_id)))
        elif isinstance(part, Thinking):
            if part.provider is not None and part.provider not in FAMILY:
                continue  # foreign thinking kept by prepare_parts only as Text
            if not part.text and not part.signature:
                continue  # nothing Gemini can take (it has no encrypted thoughts; a signature alone goes back)
            wire = {"text": part.text, "thought": True}
            if part.signature:
                wire[_SIGNATURE] = part.signature
            if part.provider_details:
                wire.update(part.provider_details)
            out.append(wire)
        elif isinstance(part, ProviderPart):
            out.append(dict(part.data))
        # CachePoint: nothing to send
    return out


def _contents(messages: Sequence[Message], provider: str, settings: ModelSettings) -> tuple[list[JsonDict], list[str]]:
    system: list[str] = []
    contents: list[JsonDict] = []
    for message in messages:
        if message.role == "system":
            system.extend(p.text for p in message.parts if isinstance(p, Text))
            continue
        role = "model" if message.role == "assistant" else "user"
        # part provider_details are Gemini wire fields only on Gemini's own answers
        own = message.role == "assistant" and same_provider(message, provider, FAMILY)
        parts = _convert_parts(message, provider, own, settings)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"parts": parts, "role": role})
    return contents, system


def thinking_config(model_name: str, thinking: bool | str | int) -> JsonDict:
    """``generationConfig.thinkingConfig`` for the portable ``thinking`` setting.

    Gemini 3 takes a ``thinkingLevel`` (Pro: ``low``/``high``; Flash also ``minimal``/``medium``),
    Gemini 2.5 a ``thinkingBudget`` in tokens. ``False`` turns thinking off where the model allows
    it (budget 0; the lowest level on Gemini 3, which cannot turn it off).
    """
    gemini3 = "gemini-3" in model_name
    pro = "pro" in model_name
    if thinking is False:
        if gemini3:
            return {"thinkingLevel": "low" if pro else "minimal"}
        return {"thinkingBudget": 0}
    config: JsonDict = {"includeThoughts": True}
    if thinking is True:
        return config
    if isinstance(thinking, int):
        config["thinkingBudget"] = thinking
        return config
    if thinking not in _BUDGETS:
        raise UserError(f"thinking={thinking!r}: use True/False, 'minimal', 'low', 'medium', 'high' or a token budget")
    if gemini3:
        level = thinking
        if pro:
            level = "low" if thinking in ("minimal", "low") else "high"
        config["thinkingLevel"] = level
    else:
        config["thinkingBudget"] = _BUDGETS[thinking]
    return config


def _tool_config(tool_choice: str, tools: Sequence[ToolDefinition]) -> JsonDict:
    names = [t.name for t in tools]
    if tool_choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if tool_choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if tool_choice == "required":
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": names}}
    if tool_choice not in names:
        raise UserError(f"tool_choice={tool_choice!r} names no offered tool; offered: {names}")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [tool_choice]}}


def merge_extra(body: JsonDict, extra: Mapping[str, Any]) -> None:
    """Deep-merge ``extra`` into ``body`` (objects merge key by key, anything else replaces)."""
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge_extra(current, value)
        else:
            body[key] = value


def build_request(
    messages: Sequence[Message],
    *,
    provider: str,
    model_name: str,
    tools: Sequence[ToolDefinition] | None,
    settings: ModelSettings,
    output: OutputSchema | None,
) -> JsonDict:
    """The ``generateContent`` JSON body for a conversation.

    ``settings.extra[provider]`` is deep-merged last, except its ``tools`` list, which is appended
    to the function declarations (built-in tools such as ``{"googleSearch": {}}``); its
    ``cached_content`` key (or the wire name ``cachedContent``) names an explicit context cache,
    in which case the system instruction, tools and tool config are left out (they live in the
    cache, and the API rejects them next to it).
    """
    contents, system = _contents(messages, provider, settings)
    body: JsonDict = {"contents": contents}
    generation = sampling(settings, temperature="temperature", top_p="topP", max_tokens="maxOutputTokens", seed="seed")
    if settings.stop:
        generation["stopSequences"] = list(settings.stop)
    if settings.thinking is not None:
        generation["thinkingConfig"] = thinking_config(model_name, settings.thinking)
    if output is not None:
        schema = dict(output.schema)
        schema.setdefault("title", output.name)
        if output.description and "description" not in schema:
            schema["description"] = output.description
        generation["responseMimeType"] = "application/json"
        generation["responseJsonSchema"] = schema
    if generation:
        body["generationConfig"] = generation
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system], "role": "user"}
    if tools:
        declarations = []
        for tool in tools:
            declarations.append(
                {"description": tool.description, "name": tool.name, "parametersJsonSchema": dict(tool.parameters)}
            )
        body["tools"] = [{"functionDeclarations": declarations}]
        if settings.tool_choice is not None:
            body["toolConfig"] = _tool_config(settings.tool_choice, tools)
    elif settings.tool_choice not in (None, "auto", "none"):
        raise UserError(f"tool_choice={settings.tool_choice!r} needs tools; this request offers none")
    extra = dict(settings.for_provider(provider))
    extra_tools = extra.pop("tools", None)
    if extra_tools:
        body.setdefault("tools", []).extend(extra_tools)
    cached = extra.pop("cached_content", None) or extra.get("cachedContent")
    if cached:
        extra["cachedContent"] = cached
        for key in ("systemInstruction", "tools", "toolConfig"):
            body.pop(key, None)
    merge_extra(body, extra)
    return body


# --------------------------------------------------------------------------- response


def usage_of(meta: Mapping[str, Any] | None) -> Usage:
    """Universal usage from ``usageMetadata``.

    ``input_tokens`` = prompt (cached included) + tool-use prompt tokens; ``output_tokens`` =
    candidates + thoughts; so input + output equals ``totalTokenCount``. Per-modality counts go to
    ``details`` (``input_image_tokens``, ``output_text_tokens``, ``cache_text_tokens`` ...).
    """
    if not meta:
        return Usage(requests=1)
    prompt = int(meta.get("promptTokenCount", 0))
    tool_prompt = int(meta.get("toolUsePromptTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    candidates = int(meta.get("candidatesTokenCount", 0))
    details: dict[str, int] = {}
    if tool_prompt:
        details["tool_use_prompt_tokens"] = tool_prompt
    for key, prefix in (
        ("promptTokensDetails", "input"),
        ("candidatesTokensDetails", "output"),
        ("cacheTokensDetails", "cache"),
        ("toolUsePromptTokensDetails", "tool_use_prompt"),
    ):
        for item in meta.get(key) or ():
            modality = str(item.get("modality", "unknown")).lower()
            details[f"{prefix}_{modality}_tokens"] = int(item.get("tokenCount", 0))
    return Usage(
        input_tokens=prompt + tool_prompt,
        output_tokens=candidates + thoughts,
        cache_read_tokens=int(meta.get("cachedContentTokenCount", 0)),
        reasoning_tokens=thoughts,
        requests=1,
        details=details,
    )


def finish_reason_of(raw: str | None, has_tool_calls: bool, blocked: bool) -> FinishReason | None:
    """Normalized finish reason; Gemini says ``STOP`` after function calls too."""
    if raw is None:
        return "content_filter" if blocked else None
    reason = _FINISH.get(raw)
    if reason == "stop" and has_tool_calls:
        return "tool_calls"
    return reason


_CANDIDATE_KEEP = ("safetyRatings", "citationMetadata", "groundingMetadata", "urlContextMetadata", "finishMessage")
_RESPONSE_KEEP = ("responseId", "createTime", "promptFeedback", "modelStatus")


def _media_from_wire(part: Mapping[str, Any], details: JsonDict | None) -> Part:
    if "inlineData" in part:
        blob = part["inlineData"]
        mime = str(blob.get("mimeType") or "application/octet-stream")
        raw = str(blob.get("data", ""))
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_" if ("-" in raw or "_" in raw) else None)
        if mime.startswith("image/"):
            return Image(data=data, media_type=mime, provider_details=details)
        return File(data=data, media_type=mime, provider_details=details)
    file_data = part["fileData"]
    uri = str(file_data.get("fileUri", ""))
    mime = file_data.get("mimeType")
    if isinstance(mime, str) and mime.startswith("image/"):
        return Image(url=uri, media_type=mime, provider_details=details)
    return File(url=uri, media_type=mime if isinstance(mime, str) else None, provider_details=details)


class GeminiAccumulator:
    """Turns ``generateContent`` responses or ``streamGenerateContent`` chunks into deltas and one response.

    Streamed text (or thought) pieces continue the current text (or thinking) part; a
    ``functionCall`` or any other part starts a new one. A second ``thoughtSignature`` for the same
    text part starts a new part, so that each signature stays on the part it came with.
    """

    __slots__ = (
        "_builder",
        "_candidate",
        "_finish",
        "_index",
        "_kind",
        "_model",
        "_nonce",
        "_provider",
        "_response",
        "_signed",
        "_tool_calls",
        "_usage",
        "complete",
        "other_candidates",
    )

    def __init__(self, provider: str, model: str) -> None:
        self._builder = ResponseBuilder()
        self._provider = provider
        self._model = model
        self._index = -1
        self._kind = ""
        self._signed = False
        self._tool_calls = 0
        self._finish: str | None = None
        self._usage: Mapping[str, Any] | None = None
        self._candidate: JsonDict = {}
        self._response: JsonDict = {}
        self._nonce: str | None = None
        self.other_candidates: list[Any] = []
        self.complete = False
        """Whether the stream reached its end: a candidate's ``finishReason``, or a blocked prompt."""

    def _new(self, kind: str) -> int:
        self._index += 1
        self._kind = kind
        self._signed = False
        return self._index

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one chunk (or a whole response); return the deltas it carries.

        Raises:
            ProviderHTTPError: The chunk is an error (``{"error": {"code": 429, ...}}``): the exception
                that error gives as an HTTP answer (500 when it names no status).
        """
        if not isinstance(chunk, Mapping):
            raise InvalidResponseError(
                f"{self._provider} sent {type(chunk).__name__} JSON where a generateContent response belongs: "
                f"{str(chunk)[:200]!r}",
                provider=self._provider,
                model=self._model,
            )
        if "error" in chunk:
            raise http_error(embedded_status(chunk, 500), dict(chunk), provider=self._provider, model=self._model)
        deltas: list[StreamDelta] = []
        for key in _RESPONSE_KEEP:
            if key in chunk:
                self._response[key] = chunk[key]
        if (chunk.get("promptFeedback") or {}).get("blockReason"):
            self.complete = True
        if "modelVersion" in chunk:
            self._model = str(chunk["modelVersion"])
        if "usageMetadata" in chunk:
            self._usage = chunk["usageMetadata"]
        candidates = chunk.get("candidates") or ()
        if not candidates:
            return deltas
        candidate = candidates[0]
        if len(candidates) > 1:
            self.other_candidates = list(candidates[1:])
        for key in _CANDIDATE_KEEP:
            value = candidate.get(key)
            if value:
                self._candidate[key] = value
        for key in ("avgLogprobs", "logprobsResult"):
            if key in candidate:
                self._candidate[key] = candidate[key]
        if candidate.get("finishReason"):
            self._finish = str(candidate["finishReason"])
            self.complete = True
        content = candidate.get("content") or {}
        for part in content.get("parts") or ():
            delta = self._part(part)
            if delta is not None:
                deltas.append(delta)
        return deltas

    def _part(self, part: Mapping[str, Any]) -> StreamDelta | None:
        b = self._builder
        if len(part) == 1 and self._kind == "text" and "text" in part:  # the common chunk: more of the same text
            return b.text(self._index, str(part["text"]))
        signature = part.get(_SIGNATURE)
        if "text" in part:
            text = str(part["text"])
            thought = bool(part.get("thought"))
            kind = "thinking" if thought else "text"
            extra = {k: v for k, v in part.items() if k not in ("text", "thought", _SIGNATURE)}
            continues = self._kind == kind and not extra and not (signature and self._signed)
            if not continues and not text and signature and self._kind == "text" and not self._signed:
                continues = True  # a lone signature closing the current text part
            index = self._index if continues else self._new(kind)
            if kind == "thinking":
                delta: StreamDelta = b.thinking(index, text, signature, provider=self._provider)
                if extra:
                    b.details(index, extra)
            else:
                delta = b.text(index, text)
                if signature or extra:
                    b.details(index, {**extra, **({_SIGNATURE: signature} if signature else {})})
            if signature:
                self._signed = True
            return delta
        if "functionCall" in part:
            call = part["functionCall"]
            index = self._new("tool_call")
            self._tool_calls += 1
            call_id = call.get("id") or self._call_id(index)
            delta = b.tool_call(
                index, id=call_id, name=str(call.get("name", "")), args_delta=json.dumps(call.get("args") or {})
            )
            extra = {k: v for k, v in part.items() if k != "functionCall"}
            if extra:
                b.details(index, extra)
            return delta
        index = self._new("part")
        if "inlineData" in part or "fileData" in part:
            extra = {k: v for k, v in part.items() if k not in ("inlineData", "fileData")}
            b.part(index, _media_from_wire(part, extra or None))
        else:
            b.part(index, ProviderPart(self._provider, dict(part)))
        return None

    def _call_id(self, index: int) -> str:
        response_id = str(self._response.get("responseId") or "")
        safe = re.sub(r"[^a-zA-Z0-9_-]", "", response_id)[:40]
        if not safe:  # no response id: a random one, so ids do not repeat in the next turn
            if self._nonce is None:
                self._nonce = uuid.uuid4().hex[:16]
            safe = self._nonce
        return f"gc_{safe}_{index}"

    def build(self, *, cost_of: Any = None) -> ModelResponse:
        """The final response; ``cost_of(usage, model)`` computes the cost when given."""
        usage = usage_of(self._usage)
        blocked = bool((self._response.get("promptFeedback") or {}).get("blockReason"))
        finish = finish_reason_of(self._finish, self._tool_calls > 0, blocked)
        details: JsonDict = dict(self._response)
        if self._finish is not None:
            details["finish_reason"] = self._finish
        details.update(self._candidate)
        if self._usage is not None:
            details["usage_metadata"] = dict(self._usage)
        if self.other_candidates:
            details["other_candidates"] = self.other_candidates
        cost = cost_of(usage, self._model) if cost_of is not None else None
        return self._builder.build(
            model=self._model,
            provider=self._provider,
            finish_reason=finish,
            usage=usage,
            cost=cast("float | None", cost),
            provider_details=details or None,
        )

    def finish(self) -> ModelResponse:
        """The final response, its cost from Podium's price table."""
        return self.build(cost_of=lambda usage, model: cost_of(self._provider, model, usage))
