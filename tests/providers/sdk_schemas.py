"""Check a request body against the vendor SDK's own request types, strictly (unknown keys fail).

"Valid for that API" is decided by the vendor's code, not by ours:

* TypedDict request params (openai, anthropic, groq): pydantic validation of the SDK's TypedDicts with
  ``extra="forbid"`` set on every TypedDict reachable from the root type while the validator is built
  (pydantic ignores unknown keys of a TypedDict by default, which would hide a misplaced field).
* pydantic request models (mistral, ollama, cohere, google-genai): ``model_validate`` and then a walk
  that fails on any key the matched model has no field or alias for (these SDKs ignore or keep extras).
* botocore (bedrock): the JSON body is turned back into boto3 parameters along the operation's input
  shape (blobs base64-decoded, ``modelId`` from the path) and checked by botocore's ``ParamValidator``.

Each ``validate_*`` function raises (``AssertionError``, pydantic's ``ValidationError`` or botocore's
``ParamValidationError``) when the body is not valid, and returns nothing otherwise.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typing_extensions
from _replay import _consume as consume
from pydantic import BaseModel, ConfigDict, TypeAdapter

__all__ = [
    "strict_adapter",
    "unknown_keys",
    "validate_anthropic",
    "validate_bedrock",
    "validate_chat_completions",
    "validate_cohere",
    "validate_google",
    "validate_groq",
    "validate_mistral",
    "validate_ollama",
    "validate_openai_responses",
]


# --------------------------------------------------------------------------- TypedDict params


def _typed_dicts(tp: Any, seen: set[Any]) -> None:
    if typing.get_origin(tp) is not None or isinstance(tp, typing.ForwardRef):
        for arg in typing.get_args(tp):
            _typed_dicts(arg, seen)
        return
    if typing_extensions.is_typeddict(tp) and tp not in seen:
        seen.add(tp)
        for hint in typing_extensions.get_type_hints(tp, include_extras=True).values():
            _typed_dicts(hint, seen)


@functools.cache
def strict_adapter(tp: Any) -> TypeAdapter[Any]:
    """A validator for ``tp`` that rejects unknown keys in every TypedDict it contains.

    The SDK's classes get ``__pydantic_config__`` only while the validator is built, then it is
    restored, so nothing else in the process sees a change.
    """
    found: set[Any] = set()
    _typed_dicts(tp, found)
    saved = {td: td.__dict__.get("__pydantic_config__") for td in found}
    try:
        for td in found:
            td.__pydantic_config__ = ConfigDict(
                **{**(getattr(td, "__pydantic_config__", None) or {}), "extra": "forbid"}
            )
        return TypeAdapter(tp)
    finally:
        for td, config in saved.items():
            if config is None:
                del td.__pydantic_config__
            else:
                td.__pydantic_config__ = config


def _strict_valid(tp: Any, body: Mapping[str, Any]) -> None:
    # As _replay.sdk_valid (which walks the lazily validated Iterable fields), with extra="forbid".
    consume(strict_adapter(tp).validate_python(dict(body)))


def validate_anthropic(body: Mapping[str, Any]) -> None:
    """Against ``anthropic.types.MessageCreateParamsNonStreaming``."""
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    _strict_valid(MessageCreateParamsNonStreaming, body)


def validate_openai_responses(body: Mapping[str, Any]) -> None:
    """Against ``openai.types.responses.ResponseCreateParamsNonStreaming``."""
    from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

    _strict_valid(ResponseCreateParamsNonStreaming, body)


def _without(body: Mapping[str, Any], message_extras: Sequence[str]) -> dict[str, Any]:
    out = dict(body)
    out["messages"] = [{k: v for k, v in m.items() if k not in message_extras} for m in body["messages"]]
    return out


def validate_chat_completions(body: Mapping[str, Any], *, message_extras: Sequence[str] = ()) -> None:
    """Against ``openai.types.chat.CompletionCreateParamsNonStreaming``.

    ``message_extras`` names message fields a compatible server adds to OpenAI's wire (DeepSeek's
    ``reasoning_content``, OpenRouter's ``reasoning_details``); they are checked by the caller and
    left out here. Every other unknown field fails.
    """
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    _strict_valid(CompletionCreateParamsNonStreaming, _without(body, message_extras))


def validate_groq(body: Mapping[str, Any]) -> None:
    """Against ``groq.types.chat.completion_create_params.CompletionCreateParams``."""
    from groq.types.chat.completion_create_params import CompletionCreateParams

    _strict_valid(CompletionCreateParams, body)


# --------------------------------------------------------------------------- pydantic models


def _field_names(model: BaseModel) -> set[str]:
    names: set[str] = set()
    for name, field in type(model).model_fields.items():
        names.add(name)
        for alias in (field.alias, field.validation_alias, field.serialization_alias):
            if isinstance(alias, str):
                names.add(alias)
    generator = type(model).model_config.get("alias_generator")
    if callable(generator):
        names.update(generator(name) for name in type(model).model_fields)
    return names


def _attribute(model: BaseModel, key: str) -> Any:
    for name, field in type(model).model_fields.items():
        generator = type(model).model_config.get("alias_generator")
        if key in (name, field.alias, field.validation_alias) or (callable(generator) and generator(name) == key):
            return getattr(model, name)
    return None


def unknown_keys(value: Any, validated: Any, path: str = "$") -> list[str]:
    """Paths of keys in ``value`` that the validated pydantic object has no field for."""
    out: list[str] = []
    if isinstance(validated, BaseModel) and isinstance(value, Mapping):
        known = _field_names(validated)
        for key, item in value.items():
            if key not in known:
                out.append(f"{path}.{key}")
            else:
                out.extend(unknown_keys(item, _attribute(validated, key), f"{path}.{key}"))
    elif isinstance(validated, (list, tuple)) and isinstance(value, list) and len(value) == len(validated):
        for index, (item, model) in enumerate(zip(value, validated, strict=True)):
            out.extend(unknown_keys(item, model, f"{path}[{index}]"))
    elif isinstance(validated, Mapping) and isinstance(value, Mapping):
        for key, item in value.items():
            if key in validated:
                out.extend(unknown_keys(item, validated[key], f"{path}.{key}"))
    return out


def _model_valid(model: type[BaseModel], body: Mapping[str, Any]) -> None:
    validated = model.model_validate(dict(body))
    extra = unknown_keys(body, validated)
    assert not extra, f"{model.__name__} has no field for {extra}"


def validate_mistral(body: Mapping[str, Any]) -> None:
    """Against ``mistralai``'s ``ChatCompletionRequest``."""
    from mistralai.client.models import ChatCompletionRequest

    _model_valid(ChatCompletionRequest, body)


def validate_ollama(body: Mapping[str, Any]) -> None:
    """Against ``ollama``'s ``ChatRequest``, each message against its ``Message`` and options ``Options``.

    ``ChatRequest`` also takes messages and options as plain mappings, which would accept anything.
    """
    from ollama._types import ChatRequest, Image, Message, Options

    _model_valid(ChatRequest, body)
    for message in body.get("messages") or ():
        images = message.get("images")
        if images is not None:  # the SDK serializes its Image objects to base64 strings
            message = {**message, "images": [Image(value=base64.b64decode(i, validate=True)) for i in images]}
        _model_valid(Message, message)
    if "options" in body:
        _model_valid(Options, body["options"])


def _signature_types(function: Callable[..., Any], skip: Sequence[str]) -> dict[str, Any]:
    hints = typing.get_type_hints(function)
    return {name: hints[name] for name in inspect.signature(function).parameters if name in hints and name not in skip}


def validate_cohere(body: Mapping[str, Any]) -> None:
    """Against the parameter types of ``cohere.ClientV2.chat`` (``stream: false`` is what the SDK adds)."""
    from cohere.v2.client import V2Client

    types = _signature_types(V2Client.chat, ("request_options", "return"))
    for key, value in body.items():
        if key == "stream":
            assert value is False, "cohere's chat() sends stream=false"
            continue
        assert key in types, f"cohere ClientV2.chat has no parameter {key!r}"
        validated = TypeAdapter(types[key]).validate_python(value)
        extra = unknown_keys(value, validated)
        assert not extra, f"cohere {key}: no field for {extra}"


def _google_fields() -> dict[str, Any]:
    from google.genai import types

    return {
        "contents": list[types.Content],
        "systemInstruction": types.Content,
        "tools": list[types.Tool],
        "toolConfig": types.ToolConfig,
        "generationConfig": types.GenerationConfig,
        "safetySettings": list[types.SafetySetting],
        "cachedContent": str,
        "labels": dict[str, str],
    }


def validate_google(body: Mapping[str, Any]) -> None:
    """Against ``google.genai.types`` (camelCase aliases, ``extra="forbid"``; bytes as JSON base64)."""
    fields = _google_fields()
    for key, value in body.items():
        assert key in fields, f"generateContent has no field {key!r}"
        TypeAdapter(fields[key]).validate_json(json.dumps(value))


# --------------------------------------------------------------------------- botocore


def _from_json(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        if not isinstance(value, Mapping):
            return value
        return {k: _from_json(v, members[k]) if k in members else v for k, v in value.items()}
    if kind == "list":
        return [_from_json(v, shape.member) for v in value] if isinstance(value, list) else value
    if kind == "map":
        return {k: _from_json(v, shape.value) for k, v in value.items()} if isinstance(value, Mapping) else value
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value, validate=True)
    return value


def validate_bedrock(body: Mapping[str, Any], *, model_id: str, operation: str = "Converse") -> None:
    """Against botocore's input shape for ``bedrock-runtime`` ``Converse`` (unknown keys fail there)."""
    import botocore.session
    from botocore.validate import ParamValidator

    service = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = service.operation_model(operation).input_shape
    params = _from_json({"modelId": model_id, **body}, shape)
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
