"""Values to JSON and back, for trace records: messages, responses, events, errors, outputs.

Messages, parts, responses, usage and paused runs use their own stable formats
(:mod:`podium.messages`, :mod:`podium.paused`). Other dataclasses (the agent's events, decisions,
tool calls inside events) are written as ``{"$": "module:Class", ...fields}`` and read back only when
``module`` is a Podium module or one the process has already imported: reading a trace never imports
code. Anything else is kept as its ``repr`` (a string once read back).
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import enum
import importlib
import sys
from collections.abc import Mapping
from typing import Any

from podium.messages import (
    CachePoint,
    File,
    Image,
    Message,
    ModelResponse,
    ProviderPart,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    message_from_dict,
    message_to_dict,
    part_from_dict,
    part_to_dict,
)
from podium.paused import PausedRun
from podium.usage import Usage

__all__ = ["decode", "decode_error", "encode", "encode_error"]

_PARTS = (Text, Image, File, Thinking, ToolCall, ToolResult, ProviderPart, CachePoint)
_MARK = "$"


_PLAIN = frozenset({str, int, bool, type(None)})


def encode(value: Any) -> Any:
    """``value`` as JSON-compatible data (see the module docstring for what is kept exactly)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        if all(type(k) is str for k in value) and _MARK not in value:
            return {k: v if type(v) in _PLAIN else encode(v) for k, v in value.items()}
        return {_MARK: "map", "items": [[encode(k), encode(v)] for k, v in value.items()]}
    if kind is list:
        return [v if type(v) in _PLAIN else encode(v) for v in value]
    fast = _FAST.get(kind)
    if fast is not None:
        return fast(value)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {_MARK: "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        return encode(dict(value))
    if isinstance(value, bytes):
        return {_MARK: "bytes", "b64": base64.b64encode(value).decode("ascii")}
    return _encode_object(value)


def _encode_object(value: Any) -> Any:
    if isinstance(value, Message):
        return {_MARK: "message", "v": message_to_dict(value)}
    if isinstance(value, ModelResponse):
        return {_MARK: "response", "v": value.to_dict()}
    if isinstance(value, _PARTS):
        return {_MARK: "part", "v": part_to_dict(value)}
    if isinstance(value, Usage):
        return {_MARK: "usage", "v": value.to_dict()}
    if isinstance(value, PausedRun):
        return {_MARK: "paused", "v": value.to_json()}
    if isinstance(value, BaseException):
        return encode_error(value)
    if isinstance(value, enum.Enum):
        return {_MARK: "enum", "type": _path(type(value)), "v": encode(value.value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {_MARK: _path(type(value)), **fields}
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        return {_MARK: _path(type(value)), "pydantic": encode(dump(mode="json"))}
    slots = _slots_object(value)
    if slots is not None:
        return slots
    return {_MARK: "repr", "v": repr(value)}


def _float(value: float) -> Any:
    return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)


_FAST: dict[type, Any] = {
    float: _float,
    tuple: lambda value: {_MARK: "tuple", "items": [encode(v) for v in value]},
    Message: lambda value: {_MARK: "message", "v": message_to_dict(value)},
    ModelResponse: lambda value: {_MARK: "response", "v": value.to_dict()},
    Usage: lambda value: {_MARK: "usage", "v": value.to_dict()},
    **{cls: (lambda value: {_MARK: "part", "v": part_to_dict(value)}) for cls in _PARTS},
}
"""Encoders by exact type, for the values met on every step (subclasses take the slower path)."""


def _slots_object(value: Any) -> Any:
    """A run result (a class with ``__slots__``): its public state, read back as a plain mapping."""
    if type(value).__name__ == "RunResult" and type(value).__module__.startswith("podium."):
        keys = ("output", "messages", "new_messages", "usage", "cost", "run_id", "steps", "status", "paused")
        return {_MARK: "run_result", **{k: encode(getattr(value, k)) for k in keys}}
    return None


def decode(data: Any) -> Any:
    """The value :func:`encode` wrote (classes the reader cannot import safely come back as mappings)."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    mark = data.get(_MARK)
    if mark is None:
        return {k: decode(v) for k, v in data.items()}
    simple = _decode_simple(mark, data)
    if simple is not _NOTHING:
        return simple
    return _decode_class(str(mark), data)


_NOTHING = object()


def _decode_simple(mark: Any, data: dict[str, Any]) -> Any:
    if mark == "tuple":
        return tuple(decode(v) for v in data["items"])
    if mark == "map":
        return {decode(k): decode(v) for k, v in data["items"]}
    if mark == "bytes":
        return base64.b64decode(data["b64"])
    if mark == "message":
        return message_from_dict(data["v"])
    if mark == "response":
        return ModelResponse.from_dict(data["v"])
    if mark == "part":
        return part_from_dict(data["v"])
    if mark == "usage":
        return Usage.from_dict(data["v"])
    if mark == "paused":
        return PausedRun.from_json(data["v"])
    if mark == "error":
        return decode_error(data)
    if mark == "repr":
        return data["v"]
    if mark == "run_result":
        return {k: decode(v) for k, v in data.items() if k != _MARK}
    if mark == "enum":
        cls = _class(data["type"])
        value = decode(data["v"])
        return cls(value) if isinstance(cls, type) and issubclass(cls, enum.Enum) else value
    return _NOTHING


def _decode_class(mark: str, data: dict[str, Any]) -> Any:
    fields = {k: decode(v) for k, v in data.items() if k != _MARK}
    cls = _class(mark)
    if cls is None:
        return fields
    try:
        if "pydantic" in fields and hasattr(cls, "model_validate"):
            return cls.model_validate(fields["pydantic"])
        if dataclasses.is_dataclass(cls) and isinstance(cls, type):
            return cls(**fields)
    except Exception:  # a class that changed since the trace was written: keep the data
        return fields
    return fields


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(path: str) -> Any:
    """The class named ``module:Qualname`` if its module is Podium's or already imported, else ``None``."""
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None and (module_name == "podium" or module_name.startswith("podium.")):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
    obj: Any = module
    for name in qualname.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


# --------------------------------------------------------------------------- errors

_SKIPPED_ATTRS = frozenset({"messages", "new_messages", "__cause__", "__context__", "__traceback__", "__notes__"})


def encode_error(error: BaseException) -> dict[str, Any]:
    """An exception as ``{"$": "error", "type", "message", "text", "attrs"}``.

    ``message`` is its first argument, ``text`` what ``str()`` showed; ``attrs`` its instance attributes
    (a run error's history is left out: the trace has it already).
    """
    first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    attrs = {k: encode(v) for k, v in vars(error).items() if k not in _SKIPPED_ATTRS and not k.startswith("_")}
    return {_MARK: "error", "type": _path(type(error)), "message": first, "text": str(error), "attrs": attrs}


class ReplayedError(Exception):
    """An exception read back from a trace whose class cannot be rebuilt here (its type is in ``type_name``)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


def decode_error(data: Mapping[str, Any]) -> BaseException:
    """The exception :func:`encode_error` wrote: the same class when it can be rebuilt, else :class:`ReplayedError`."""
    type_name = str(data.get("type", "Exception"))
    message = str(data.get("message", ""))
    attrs = {k: decode(v) for k, v in dict(data.get("attrs") or {}).items()}
    cls = _class(type_name)
    if cls is None and type_name.startswith("builtins:"):
        cls = getattr(builtins, type_name.partition(":")[2], None)
    podium_class = type_name.startswith("podium.") or type_name.startswith("podium:")
    if not (
        isinstance(cls, type) and (issubclass(cls, Exception) or (podium_class and issubclass(cls, BaseException)))
    ):
        return ReplayedError(type_name, message)  # never SystemExit or KeyboardInterrupt from a file
    try:
        error = cls.__new__(cls)
        BaseException.__init__(error, message)
        for key, value in attrs.items():
            setattr(error, key, value)
    except Exception:
        return ReplayedError(type_name, message)
    return error
