"""JSON schemas and argument validators built from typed Python functions.

:func:`function_schema` reads a function's signature and docstring (Google, NumPy or reST style) and
returns a :class:`FunctionSchema`: the self-contained JSON schema the model sees and a pydantic
validator for the arguments the model sends. A :class:`~podium.tools.context.RunContext` parameter and
parameters marked :class:`Injected` are supplied by Podium and left out of the schema.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from podium.exceptions import UserError
from podium.tools.context import RunContext

__all__ = ["FunctionSchema", "Injected", "function_schema", "inline_refs"]


@dataclass(frozen=True, slots=True)
class Injected:
    """Marks a parameter that Podium fills in and the model never sees.

    ``def search(query: str, api_key: Annotated[str, Injected()]) -> str`` takes ``api_key`` from the
    run's ``inject={"api_key": ...}`` mapping (or the agent's). ``Injected("other")`` looks up another key.
    """

    key: str | None = None
    """Key to look up; the parameter name when ``None``."""


@dataclass(frozen=True, slots=True)
class FunctionSchema:
    """What Podium knows about a tool function."""

    name: str
    """Tool name."""
    description: str
    """Description for the model (docstring without the parameter section)."""
    parameters: dict[str, Any]
    """Self-contained JSON schema of the arguments."""
    args_model: type[BaseModel]
    """Pydantic model validating the arguments."""
    field_names: tuple[str, ...]
    """Parameters the model provides, in signature order."""
    context_param: str | None
    """Name of the ``RunContext`` parameter, if any."""
    injected: Mapping[str, str]
    """Injected parameter name -> lookup key."""
    positional: tuple[str, ...]
    """Parameters that must be passed positionally."""
    is_async: bool
    """Whether the function is a coroutine function."""

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate model-provided ``args``; returns keyword values. Raises pydantic ``ValidationError``."""
        model = self.args_model.model_validate(args)
        return {name: getattr(model, name) for name in self.field_names}


class NoTitles(GenerateJsonSchema):
    """Pydantic schema generation without the auto-generated ``title`` keys (noise for models)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        result = super().generate(schema, mode=mode)
        result.pop("title", None)
        for definition in result.get("$defs", {}).values():
            if isinstance(definition, dict):
                definition.pop("title", None)
        return result


def _is_run_context(annotation: Any) -> bool:
    return annotation is RunContext or get_origin(annotation) is RunContext


def _injected_marker(annotation: Any) -> Injected | None:
    if get_origin(annotation) is Annotated:
        for meta in get_args(annotation)[1:]:
            if isinstance(meta, Injected):
                return meta
            if meta is Injected:
                return Injected()
    return None


def function_schema(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    strict_args: bool = True,
) -> FunctionSchema:
    """Build the schema and validator of ``fn``.

    Args:
        fn: A sync or async function with type-annotated parameters.
        name: Tool name; defaults to ``fn.__name__``.
        description: Tool description; defaults to the docstring's text.
        strict_args: Refuse arguments that are not parameters of ``fn``.

    Raises:
        UserError: ``fn`` takes ``*args``/``**kwargs`` or has an annotation pydantic cannot handle.
    """
    tool_name = name or getattr(fn, "__name__", None)
    if not tool_name or tool_name == "<lambda>":
        raise UserError("a tool needs a name: pass name= for lambdas and callables without __name__")
    sig = inspect.signature(fn)
    try:
        hints = get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise UserError(f"cannot resolve the type hints of tool {tool_name!r}: {exc}") from exc
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    param_docs = {p.arg_name: p.description for p in doc.params if p.description}

    fields: dict[str, Any] = {}
    field_names: list[str] = []
    positional: list[str] = []
    context_param: str | None = None
    injected: dict[str, str] = {}
    for index, (pname, param) in enumerate(sig.parameters.items()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise UserError(
                f"tool {tool_name!r}: *{pname} / **{pname} cannot be described to a model; "
                "list the parameters explicitly"
            )
        annotation = hints.get(pname, Any)
        if _is_run_context(annotation):
            if index != 0:
                raise UserError(f"tool {tool_name!r}: the RunContext parameter {pname!r} must come first")
            context_param = pname
            continue
        marker = _injected_marker(annotation)
        if marker is not None:
            injected[pname] = marker.key or pname
            if param.kind is param.POSITIONAL_ONLY:
                positional.append(pname)
            continue
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(pname)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, Field(default, description=param_docs.get(pname)))
        field_names.append(pname)

    config = ConfigDict(extra="forbid" if strict_args else "ignore", arbitrary_types_allowed=False)
    try:
        args_model: type[BaseModel] = create_model(f"{tool_name}_args", __config__=config, **fields)
        raw_schema = args_model.model_json_schema(schema_generator=NoTitles)
    except Exception as exc:  # pydantic raises several types here
        raise UserError(f"tool {tool_name!r}: cannot build a JSON schema for its parameters: {exc}") from exc

    text = description
    if text is None:
        text = "\n\n".join(s for s in (doc.short_description, doc.long_description) if s).strip()
    return FunctionSchema(
        name=tool_name,
        description=text,
        parameters=inline_refs(raw_schema),
        args_model=args_model,
        field_names=tuple(field_names),
        context_param=context_param,
        injected=injected,
        positional=tuple(positional),
        is_async=inspect.iscoroutinefunction(fn),
    )


def inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with every ``$ref`` to ``#/$defs/...`` replaced by its definition.

    Recursive definitions cannot be inlined; they stay in ``$defs`` (only those), so the result is
    always self-contained.
    """
    defs: dict[str, Any] = dict(schema.get("$defs", {}))
    kept: dict[str, Any] = {}

    def resolve(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                key = ref[len("#/$defs/") :]
                if key not in defs:
                    raise UserError(f"schema has a dangling $ref {ref!r}")
                if key in stack:  # recursion: keep the definition
                    if key not in kept:
                        kept[key] = None
                        kept[key] = resolve(copy.deepcopy(defs[key]), (*stack, key))
                    return {k: resolve(v, stack) for k, v in node.items()}
                inlined = resolve(copy.deepcopy(defs[key]), (*stack, key))
                siblings = {k: resolve(v, stack) for k, v in node.items() if k != "$ref"}
                if isinstance(inlined, dict):
                    return {**inlined, **siblings}
                return inlined
            return {k: resolve(v, stack) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, stack) for v in node]
        return node

    result: dict[str, Any] = resolve(dict(schema), ())
    if kept:
        result["$defs"] = kept
    return result


def format_validation_error(error: ValidationError) -> str:
    """A compact, model-readable description of argument errors."""
    lines = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(arguments)"
        lines.append(f"- {loc}: {item['msg']}")
    return "Invalid arguments:\n" + "\n".join(lines)
