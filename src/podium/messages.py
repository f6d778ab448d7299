"""The universal message model: pure data, no I/O, the same for every provider.

A conversation is a list of :class:`Message`. Each message has a ``role`` and a sequence of tagged
parts: :class:`Text`, :class:`Image`, :class:`File`, :class:`Thinking`, :class:`ToolCall`,
:class:`ToolResult`, and :class:`ProviderPart` for provider items that have no universal meaning
(a server-side web search, say), kept verbatim so that they round-trip to the provider that made them,
and :class:`CachePoint`, a marker for provider prompt caching.

Roles: ``system`` (instructions), ``user``, ``assistant`` (what a model said: text, thinking, tool
calls) and ``tool`` (tool results, one :class:`ToolResult` part per call).

Everything here serializes to versioned JSON (:func:`dump_messages`, :func:`load_messages`) that keeps
every field; the store, traces and the web UI use only that format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias, cast

from podium.exceptions import SerializationError
from podium.usage import CostField, Usage, stored_cost

__all__ = [
    "FORMAT_VERSION",
    "CachePoint",
    "ContentPart",
    "File",
    "FinishReason",
    "Image",
    "Message",
    "ModelResponse",
    "Part",
    "ProviderPart",
    "Redaction",
    "Role",
    "Text",
    "Thinking",
    "ToolCall",
    "ToolResult",
    "dump_messages",
    "load_messages",
    "message_from_dict",
    "message_to_dict",
    "new_call_id",
]

FORMAT_VERSION = 1
"""Version of the JSON format written by :func:`dump_messages`."""

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]
"""Normalized finish reasons; the provider's own value is kept in ``provider_details["finish_reason"]``."""

JsonDict: TypeAlias = dict[str, Any]
_ROLES: frozenset[str] = frozenset(("system", "user", "assistant", "tool"))
_FINISH: frozenset[str] = frozenset(("stop", "length", "tool_calls", "content_filter", "error", "cancelled"))


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text."""

    text: str
    """The text."""
    provider_details: JsonDict | None = None
    """Provider extras (citations, item ids), returned verbatim to the same provider."""
    type: ClassVar[Literal["text"]] = "text"


@dataclass(frozen=True, slots=True)
class Image:
    """An image, given as bytes (``data``) or by ``url``."""

    data: bytes | None = None
    """The raw image bytes (not base64)."""
    url: str | None = None
    """An http(s) URL, when the image is not inline."""
    media_type: str | None = None
    """MIME type such as ``image/png``; required with ``data``."""
    provider_details: JsonDict | None = None
    """Provider extras (for example OpenAI's ``detail``)."""
    type: ClassVar[Literal["image"]] = "image"

    def __post_init__(self) -> None:
        _check_source("Image", self.data, self.url, self.media_type)


@dataclass(frozen=True, slots=True)
class File:
    """A document or other file (PDF, text, audio ...), as bytes or by URL."""

    data: bytes | None = None
    """The raw file bytes (not base64)."""
    url: str | None = None
    """An http(s) URL, when the file is not inline."""
    media_type: str | None = None
    """MIME type such as ``application/pdf``; required with ``data``."""
    filename: str | None = None
    """A file name to show the model, when known."""
    provider_details: JsonDict | None = None
    """Provider extras."""
    type: ClassVar[Literal["file"]] = "file"

    def __post_init__(self) -> None:
        _check_source("File", self.data, self.url, self.media_type)


Redaction: TypeAlias = Literal["provider", "encrypted"]
"""Why a :class:`Thinking` block has reasoning but no readable text (see :attr:`Thinking.redaction`)."""
_REDACTIONS: frozenset[str] = frozenset(("provider", "encrypted"))


@dataclass(frozen=True, slots=True)
class Thinking:
    """A model's reasoning.

    Providers that sign or encrypt reasoning need it back verbatim on later turns: ``signature``
    (Anthropic, Bedrock, Gemini thought signatures) or ``encrypted`` (Anthropic redacted thinking,
    OpenAI Responses ``encrypted_content``, Bedrock ``redactedContent``). ``provider`` says which
    provider produced it, so that it is only sent back there.

    A block with reasoning but no readable text is *redacted* (:attr:`redacted`), for one of two reasons
    that :attr:`redaction` keeps apart: the provider withheld it (``"provider"``: Anthropic
    ``redacted_thinking``, Bedrock ``redactedContent``), or the reasoning is only held encrypted and no
    readable summary came with it (``"encrypted"``: an OpenAI Responses reasoning item without a summary,
    OpenRouter ``reasoning.encrypted`` details, a signed block with no text).
    """

    text: str = ""
    """Readable reasoning (or its summary); empty when redacted."""
    signature: str | None = None
    """Signature the provider needs to accept this block back."""
    encrypted: str | None = None
    """Opaque encrypted or redacted reasoning content."""
    provider: str | None = None
    """Provider that produced the block, such as ``anthropic``."""
    id: str | None = None
    """Provider item id (OpenAI Responses reasoning item id)."""
    provider_details: JsonDict | None = None
    """Other provider extras (summary parts, format)."""
    redaction: Redaction | None = None
    """Why there is no readable text: ``"provider"`` (the provider redacted the block), ``"encrypted"``
    (the reasoning is encrypted and no summary was returned), or ``None`` (the text is the reasoning).

    Left at ``None``, it is derived: a block with no text that carries ``encrypted`` content or a
    ``signature`` is ``"encrypted"``. Providers set it themselves where that is not enough (``"provider"``
    for a block they redacted; ``"encrypted"`` for an OpenAI Responses reasoning item that came with
    neither a summary nor its ``encrypted_content``, which the API holds by ``id``). A block with text
    cannot be redacted (``ValueError``)."""
    type: ClassVar[Literal["thinking"]] = "thinking"

    def __post_init__(self) -> None:
        if self.redaction is None:
            if not self.text and (self.encrypted is not None or self.signature is not None):
                object.__setattr__(self, "redaction", "encrypted")
        elif self.redaction not in _REDACTIONS:
            raise ValueError(f"Thinking.redaction must be 'provider', 'encrypted' or None, not {self.redaction!r}")
        elif self.text:
            raise ValueError("a Thinking block with text is not redacted: leave redaction=None")

    @property
    def redacted(self) -> bool:
        """True when the block stands for reasoning that cannot be read (no text); :attr:`redaction` says why."""
        return self.redaction is not None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool."""

    id: str = ""
    """Call id, unique within the conversation; the result refers to it. Generated when not given
    (``call_`` and 24 random hex digits), so ``ToolCall(name="search", args={...})`` works."""
    name: str = ""
    """Tool name."""
    args: JsonDict = field(default_factory=dict)
    """Arguments as a JSON object (empty when they did not parse; see ``raw_args``)."""
    raw_args: str | None = None
    """The argument string as the model sent it, kept only when it is not a JSON object."""
    provider_details: JsonDict | None = None
    """Provider extras (item ids, Gemini thought signature)."""
    type: ClassVar[Literal["tool_call"]] = "tool_call"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(
                f"ToolCall.name must be a string, got {type(self.name).__name__}: "
                "ToolCall(name='search', args={'q': 'x'}) (the id is optional)"
            )
        if not isinstance(self.args, Mapping):
            raise TypeError(
                f"ToolCall.args must be a JSON object (a dict), got {type(self.args).__name__}; "
                "an argument string that is not a JSON object goes in raw_args= with args={}"
            )
        if type(self.args) is not dict:
            object.__setattr__(self, "args", dict(self.args))
        if not self.id:
            object.__setattr__(self, "id", new_call_id())

    @property
    def args_json(self) -> str:
        """The arguments as the JSON string to send to a provider."""
        if self.raw_args is not None:
            return self.raw_args
        return json.dumps(self.args, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The result of one tool call, sent back to the model."""

    call_id: str
    """Id of the :class:`ToolCall` this answers."""
    name: str
    """Tool name."""
    content: Sequence[ContentPart] = ()
    """What the tool returned: text, images, files."""
    is_error: bool = False
    """True when the call failed (bad arguments, exception, timeout, denial, interruption)."""
    interrupted: bool = False
    """True when the run was cancelled before the tool finished."""
    provider_details: JsonDict | None = None
    """Provider extras."""
    type: ClassVar[Literal["tool_result"]] = "tool_result"

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", _as_parts(self.content, "ToolResult.content", _CONTENT_TYPES))

    @property
    def text(self) -> str:
        """The text parts of the content, joined."""
        return "".join(p.text for p in self.content if isinstance(p, Text))


@dataclass(frozen=True, slots=True)
class ProviderPart:
    """A provider item with no universal meaning, kept verbatim (server tool calls and results, ...).

    It is sent back only to the provider that produced it and dropped for others.
    """

    provider: str
    """Provider that produced the item."""
    data: JsonDict
    """The item exactly as the provider sent it."""
    type: ClassVar[Literal["provider"]] = "provider"


@dataclass(frozen=True, slots=True)
class CachePoint:
    """Marks the end of a prompt prefix that the provider should cache.

    Anthropic gets ``cache_control`` on the block before it, Bedrock a ``cachePoint`` block; providers
    that cache automatically (OpenAI, Gemini) ignore it.
    """

    ttl: str | None = None
    """Cache lifetime where the provider supports a choice (Anthropic: ``5m`` or ``1h``)."""
    type: ClassVar[Literal["cache_point"]] = "cache_point"


ContentPart: TypeAlias = Text | Image | File
Part: TypeAlias = Text | Image | File | Thinking | ToolCall | ToolResult | ProviderPart | CachePoint

_CONTENT_TYPES: tuple[type, ...] = (Text, Image, File)
_PART_TYPES: tuple[type, ...] = (Text, Image, File, Thinking, ToolCall, ToolResult, ProviderPart, CachePoint)


def new_call_id() -> str:
    """A fresh tool-call id (``call_`` and 24 random hex digits)."""
    import uuid

    return "call_" + uuid.uuid4().hex[:24]


def _as_parts(value: Any, where: str, allowed: tuple[type, ...]) -> tuple[Any, ...]:
    """``value`` as a tuple of parts: a string is one :class:`Text`, a single part is a tuple of one.

    Raises:
        TypeError: something that is not a part (bytes, a number, a dict ...), said plainly.
    """
    if isinstance(value, str):
        return (Text(value),)
    if isinstance(value, allowed):
        return (value,)
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{where} takes a string, a part or a sequence of parts, got {type(value).__name__}; "
            "wrap bytes in Image(data=..., media_type=...) or File(...)"
        )
    parts = value if type(value) is tuple else tuple(value)
    for part in parts:
        if type(part) not in allowed and not isinstance(part, allowed):
            if isinstance(part, str):
                return tuple(Text(p) if isinstance(p, str) else p for p in _checked(parts, where, allowed))
            _refuse(part, where, allowed)
    return parts


def _checked(parts: tuple[Any, ...], where: str, allowed: tuple[type, ...]) -> tuple[Any, ...]:
    for part in parts:
        if not isinstance(part, (str, *allowed)):
            _refuse(part, where, allowed)
    return parts


def _refuse(part: Any, where: str, allowed: tuple[type, ...]) -> None:
    names = ", ".join(t.__name__ for t in allowed)
    raise TypeError(f"{where}: {type(part).__name__} is not a part; use a string or one of {names}")


def _check_source(kind: str, data: bytes | None, url: str | None, media_type: str | None) -> None:
    if (data is None) == (url is None):
        raise ValueError(f"{kind} needs exactly one of data= (bytes) or url=")
    if data is not None:
        if not isinstance(data, bytes):
            raise TypeError(f"{kind}.data must be bytes, got {type(data).__name__}; decode base64 first")
        if not media_type:
            raise ValueError(f"{kind} with data= needs media_type= (for example 'image/png')")


@dataclass(frozen=True)
class Message:
    """One message of a conversation.

    Assistant messages produced by a model also carry where they came from (``provider``,
    ``model``), why the model stopped, what it cost, and the provider's extras.
    """

    role: Role
    """``system``, ``user``, ``assistant`` or ``tool``."""
    parts: Sequence[Part]
    """The content, in order. A string is taken as one :class:`Text` part (``Message("user", "hi")``), and
    strings in a sequence as text parts; anything else that is not a part raises :class:`TypeError`."""
    provider: str | None = None
    """Provider that produced an assistant message."""
    model: str | None = None
    """Model that produced an assistant message."""
    finish_reason: FinishReason | None = None
    """Why the model stopped."""
    usage: Usage | None = None
    """Usage of the request that produced this message."""
    cost: CostField = CostField()  # noqa: RUF009 - a descriptor, not a shared default value
    """Cost in USD of that request, when the price is known (given as a number, ``None`` or a
    :class:`~podium.usage.DeferredCost`, worked out on first read)."""
    provider_details: JsonDict | None = None
    """Provider extras for the whole message (response id, ...)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", _as_parts(self.parts, f"{type(self).__name__}.parts", _PART_TYPES))

    @classmethod
    def user(cls, *content: str | Part) -> Message:
        """A user message; strings become :class:`Text` parts."""
        return cls("user", tuple(Text(c) if isinstance(c, str) else c for c in content))

    @classmethod
    def system(cls, text: str) -> Message:
        """A system (instructions) message."""
        return cls("system", (Text(text),))

    @classmethod
    def assistant(cls, *content: str | Part) -> Message:
        """An assistant message; strings become :class:`Text` parts."""
        return cls("assistant", tuple(Text(c) if isinstance(c, str) else c for c in content))

    @property
    def text(self) -> str:
        """The text parts, joined."""
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls, in order."""
        return [p for p in self.parts if isinstance(p, ToolCall)]

    @property
    def tool_results(self) -> list[ToolResult]:
        """The tool results, in order."""
        return [p for p in self.parts if isinstance(p, ToolResult)]


@dataclass(frozen=True)
class ModelResponse:
    """What one model request returned, in universal form."""

    parts: Sequence[Part]
    """Text, thinking and tool calls, in the order the model produced them (a string is one text part)."""
    model: str | None = None
    """The model that answered, as the provider named it."""
    provider: str | None = None
    """The provider, such as ``openai`` or ``anthropic``."""
    finish_reason: FinishReason | None = None
    """Why the model stopped (normalized)."""
    usage: Usage = field(default_factory=Usage)
    """Tokens used by this request."""
    cost: CostField = CostField()  # noqa: RUF009 - a descriptor, not a shared default value
    """Cost in USD, ``None`` when the price is unknown (given as a number, ``None`` or a
    :class:`~podium.usage.DeferredCost`: the price table is loaded only when a cost is read)."""
    provider_details: JsonDict | None = None
    """Provider extras for the whole response, kept verbatim."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", _as_parts(self.parts, f"{type(self).__name__}.parts", _PART_TYPES))

    @property
    def text(self) -> str:
        """The text parts, joined."""
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls, in order."""
        return [p for p in self.parts if isinstance(p, ToolCall)]

    @property
    def thinking(self) -> list[Thinking]:
        """The thinking blocks, in order."""
        return [p for p in self.parts if isinstance(p, Thinking)]

    def to_message(self) -> Message:
        """The assistant message to append to the history."""
        return Message(
            "assistant",
            self.parts,
            provider=self.provider,
            model=self.model,
            finish_reason=self.finish_reason,
            usage=self.usage,
            cost=stored_cost(self),
            provider_details=self.provider_details,
        )

    def to_dict(self) -> JsonDict:
        """JSON-able dict of this response (versioned like messages)."""
        data: JsonDict = {"parts": [part_to_dict(p) for p in self.parts]}
        if self.provider is not None:
            data["provider"] = self.provider
        if self.model is not None:
            data["model"] = self.model
        if self.finish_reason is not None:
            data["finish_reason"] = self.finish_reason
        data["usage"] = self.usage.to_dict()
        cost = self.cost
        if cost is not None:
            data["cost"] = cost
        if self.provider_details is not None:
            data["provider_details"] = self.provider_details
        return {"version": FORMAT_VERSION, "response": data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelResponse:
        """Inverse of :meth:`to_dict`; raises :class:`SerializationError` on bad data."""
        _check_version(data, "response")
        body = data.get("response")
        if not isinstance(body, Mapping):
            raise SerializationError("response: expected an object")
        msg = message_from_dict({**body, "role": "assistant"}, "response")
        return cls(
            msg.parts,
            model=msg.model,
            provider=msg.provider,
            finish_reason=msg.finish_reason,
            usage=msg.usage or Usage(),
            cost=msg.cost,
            provider_details=msg.provider_details,
        )


# --------------------------------------------------------------------------- serialization


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _media_to_dict(part: Image | File) -> JsonDict:
    out: JsonDict = {"type": part.type}
    if part.data is not None:
        out["data"] = _b64(part.data)
    if part.url is not None:
        out["url"] = part.url
    if part.media_type is not None:
        out["media_type"] = part.media_type
    if isinstance(part, File) and part.filename is not None:
        out["filename"] = part.filename
    return out


def part_to_dict(part: Part) -> JsonDict:
    """One part as a JSON-able dict with a ``type`` tag. Fields at their default are left out."""
    out: JsonDict
    if isinstance(part, Text):
        out = {"type": "text", "text": part.text}
    elif isinstance(part, (Image, File)):
        out = _media_to_dict(part)
    elif isinstance(part, Thinking):
        out = {"type": "thinking", "text": part.text}
        for name in ("signature", "encrypted", "provider", "id", "redaction"):
            value = getattr(part, name)
            if value is not None:
                out[name] = value
    elif isinstance(part, ToolCall):
        out = {"type": "tool_call", "id": part.id, "name": part.name, "args": part.args}
        if part.raw_args is not None:
            out["raw_args"] = part.raw_args
    elif isinstance(part, ToolResult):
        out = {
            "type": "tool_result",
            "call_id": part.call_id,
            "name": part.name,
            "content": [part_to_dict(p) for p in part.content],
        }
        if part.is_error:
            out["is_error"] = True
        if part.interrupted:
            out["interrupted"] = True
    elif isinstance(part, ProviderPart):
        return {"type": "provider", "provider": part.provider, "data": part.data}
    elif isinstance(part, CachePoint):
        return {"type": "cache_point"} if part.ttl is None else {"type": "cache_point", "ttl": part.ttl}
    else:  # pragma: no cover - exhaustive
        raise TypeError(f"not a message part: {part!r}")
    if part.provider_details is not None:
        out["provider_details"] = part.provider_details
    return out


def message_to_dict(message: Message) -> JsonDict:
    """One message as a JSON-able dict. Fields at their default are left out."""
    out: JsonDict = {"role": message.role, "parts": [part_to_dict(p) for p in message.parts]}
    if message.provider is not None:
        out["provider"] = message.provider
    if message.model is not None:
        out["model"] = message.model
    if message.finish_reason is not None:
        out["finish_reason"] = message.finish_reason
    if message.usage is not None:
        out["usage"] = message.usage.to_dict()
    if message.cost is not None:
        out["cost"] = message.cost
    if message.provider_details is not None:
        out["provider_details"] = message.provider_details
    return out


def dump_messages(messages: Iterable[Message], *, indent: int | None = None) -> str:
    """Serialize a conversation to versioned JSON."""
    doc = {"version": FORMAT_VERSION, "messages": [message_to_dict(m) for m in messages]}
    return json.dumps(doc, ensure_ascii=False, indent=indent)


def load_messages(data: str | bytes | Mapping[str, Any]) -> list[Message]:
    """Parse versioned JSON written by :func:`dump_messages`.

    Raises:
        SerializationError: the JSON is malformed, of an unknown version, or a field has the wrong
            shape; the message names the path of the bad field.
    """
    doc: Any
    if isinstance(data, (str, bytes)):
        try:
            doc = json.loads(data)
        except json.JSONDecodeError as exc:
            raise SerializationError(f"not JSON: {exc}") from exc
    else:
        doc = data
    if not isinstance(doc, Mapping):
        raise SerializationError("expected a JSON object with 'version' and 'messages'")
    _check_version(doc, "messages")
    items = doc.get("messages")
    if not isinstance(items, list):
        raise SerializationError("messages: expected a list")
    return [message_from_dict(item, f"messages[{i}]") for i, item in enumerate(items)]


def _check_version(doc: Mapping[str, Any], what: str) -> None:
    version = doc.get("version")
    if version is None:
        raise SerializationError(f"missing 'version'; is this Podium {what} JSON?")
    if version != FORMAT_VERSION:
        raise SerializationError(
            f"unknown format version {version!r}: this Podium reads version {FORMAT_VERSION}. "
            "Data written by a newer Podium needs a newer Podium; upgrade with `pip install -U podium`."
        )


class _Reader:
    """Typed field access with path-bearing errors."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise SerializationError(f"{path}: expected an object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def check_keys(self, allowed: Iterable[str]) -> None:
        extra = set(self.data) - set(allowed)
        if extra:
            raise SerializationError(f"{self.path}: unknown fields {sorted(extra)}")

    def get_str(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise SerializationError(f"{self.path}.{key}: expected a string, got {value!r}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise SerializationError(f"{self.path}.{key}: expected a string or absent, got {value!r}")
        return value

    def get_bool(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise SerializationError(f"{self.path}.{key}: expected true or false, got {value!r}")
        return value

    def opt_dict(self, key: str) -> JsonDict | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, dict):
            raise SerializationError(f"{self.path}.{key}: expected an object, got {value!r}")
        return cast("JsonDict | None", value)

    def get_dict(self, key: str) -> JsonDict:
        value = self.opt_dict(key)
        if value is None:
            raise SerializationError(f"{self.path}.{key}: missing")
        return value

    def get_list(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list):
            raise SerializationError(f"{self.path}.{key}: expected a list, got {value!r}")
        return value

    def opt_bytes(self, key: str) -> bytes | None:
        value = self.opt_str(key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise SerializationError(f"{self.path}.{key}: not valid base64") from exc


_PART_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("type", "text", "provider_details"),
    "image": ("type", "data", "url", "media_type", "provider_details"),
    "file": ("type", "data", "url", "media_type", "filename", "provider_details"),
    "thinking": ("type", "text", "signature", "encrypted", "provider", "id", "provider_details", "redaction"),
    "tool_call": ("type", "id", "name", "args", "raw_args", "provider_details"),
    "tool_result": ("type", "call_id", "name", "content", "is_error", "interrupted", "provider_details"),
    "provider": ("type", "provider", "data"),
    "cache_point": ("type", "ttl"),
}


def part_from_dict(data: Any, path: str = "part") -> Part:
    """Inverse of :func:`part_to_dict`; raises :class:`SerializationError` naming ``path``."""
    r = _Reader(data, path)
    kind = r.get_str("type")
    keys = _PART_KEYS.get(kind)
    if keys is None:
        raise SerializationError(f"{path}.type: unknown part type {kind!r}; expected one of {sorted(_PART_KEYS)}")
    r.check_keys(keys)
    details = r.opt_dict("provider_details") if kind not in ("provider", "cache_point") else None
    try:
        if kind == "text":
            return Text(r.get_str("text"), details)
        if kind == "image":
            return Image(r.opt_bytes("data"), r.opt_str("url"), r.opt_str("media_type"), details)
        if kind == "file":
            return File(r.opt_bytes("data"), r.opt_str("url"), r.opt_str("media_type"), r.opt_str("filename"), details)
        if kind == "thinking":
            return _thinking_from(r, details)
        if kind == "tool_call":
            return ToolCall(r.get_str("id"), r.get_str("name"), r.get_dict("args"), r.opt_str("raw_args"), details)
        if kind == "tool_result":
            content: list[ContentPart] = []
            for i, item in enumerate(r.get_list("content")):
                sub = part_from_dict(item, f"{path}.content[{i}]")
                if not isinstance(sub, (Text, Image, File)):
                    raise SerializationError(f"{path}.content[{i}]: tool results hold text, image or file parts only")
                content.append(sub)
            return ToolResult(
                r.get_str("call_id"),
                r.get_str("name"),
                tuple(content),
                r.get_bool("is_error"),
                r.get_bool("interrupted"),
                details,
            )
        if kind == "cache_point":
            return CachePoint(r.opt_str("ttl"))
        return ProviderPart(r.get_str("provider"), r.get_dict("data"))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(f"{path}: {exc}") from exc


_WITHHELD_BY = frozenset(("anthropic", "bedrock"))
"""Providers whose ``encrypted`` content was, before ``redaction`` existed, only ever a block they redacted."""


def _thinking_from(r: _Reader, details: JsonDict | None) -> Thinking:
    """A thinking part; JSON written before ``redaction`` existed gets it derived.

    Old data has no ``redaction`` key. For a block without text: Anthropic and Bedrock filled
    ``encrypted`` only for blocks they redacted (``redacted_thinking``, ``redactedContent``), so that is
    ``"provider"``; an OpenAI Responses reasoning item (it has an ``id``) is ``"encrypted"``. Anything
    else is derived as :class:`Thinking` does (``"encrypted"`` with encrypted content or a signature,
    else ``None``).
    """
    text, encrypted, provider = r.get_str("text"), r.opt_str("encrypted"), r.opt_str("provider")
    item_id = r.opt_str("id")
    redaction = r.opt_str("redaction")
    if redaction is None and "redaction" not in r.data and not text:
        if provider in _WITHHELD_BY and encrypted is not None:
            redaction = "provider"
        elif provider == "openai-responses" and item_id is not None:
            redaction = "encrypted"
    elif redaction is not None and redaction not in _REDACTIONS:
        raise SerializationError(f"{r.path}.redaction: unknown value {redaction!r}; expected 'provider' or 'encrypted'")
    return Thinking(
        text,
        r.opt_str("signature"),
        encrypted,
        provider,
        item_id,
        details,
        cast("Redaction | None", redaction),
    )


_MESSAGE_KEYS = ("role", "parts", "provider", "model", "finish_reason", "usage", "cost", "provider_details")


def message_from_dict(data: Any, path: str = "message") -> Message:
    """Inverse of :func:`message_to_dict`; raises :class:`SerializationError` naming ``path``."""
    r = _Reader(data, path)
    r.check_keys(_MESSAGE_KEYS)
    role = r.get_str("role")
    if role not in _ROLES:
        raise SerializationError(f"{path}.role: unknown role {role!r}; expected one of {sorted(_ROLES)}")
    parts = tuple(part_from_dict(p, f"{path}.parts[{i}]") for i, p in enumerate(r.get_list("parts")))
    finish = r.opt_str("finish_reason")
    if finish is not None and finish not in _FINISH:
        raise SerializationError(f"{path}.finish_reason: unknown value {finish!r}; expected one of {sorted(_FINISH)}")
    usage_data = r.opt_dict("usage")
    usage: Usage | None = None
    if usage_data is not None:
        try:
            usage = Usage.from_dict(usage_data)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"{path}.usage: {exc}") from exc
    cost = r.data.get("cost")
    if cost is not None and (not isinstance(cost, (int, float)) or isinstance(cost, bool)):
        raise SerializationError(f"{path}.cost: expected a number, got {cost!r}")
    return Message(
        cast(Role, role),
        parts,
        provider=r.opt_str("provider"),
        model=r.opt_str("model"),
        finish_reason=cast("FinishReason | None", finish),
        usage=usage,
        cost=float(cost) if cost is not None else None,
        provider_details=r.opt_dict("provider_details"),
    )
