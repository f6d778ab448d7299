"""Structured output: how the loop asks for, extracts and validates an ``output_type``.

Modes:

* ``text``: the output is the final text (``output_type=str``, the default).
* ``native``: the provider's JSON-schema mode; the final text is parsed and validated.
* ``tool``: a ``final_result`` tool whose arguments are the output (works with any tool-capable model).
* ``auto``: ``native`` when the model's profile says it has it, else ``tool``.

Non-object output types (``int``, ``list[str]`` ...) are wrapped in ``{"response": ...}`` on the wire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeAlias, cast

from podium.agent.result import OutputT
from podium.providers.profiles import ModelProfile
from podium.settings import OutputSchema, ToolDefinition

__all__ = ["FINAL_RESULT_TOOL", "OutputHandler", "OutputMode"]

OutputMode: TypeAlias = Literal["auto", "native", "tool", "text"]
FINAL_RESULT_TOOL = "final_result"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class OutputHandler(Generic[OutputT]):
    """Validation of the final output for one ``output_type``."""

    def __init__(self, output_type: type[OutputT] | None, mode: OutputMode = "auto") -> None:
        self.output_type = output_type
        self.is_text = output_type is None or output_type is str
        self.mode: OutputMode = "text" if self.is_text else mode
        if self.is_text:
            return
        from pydantic import TypeAdapter

        from podium.tools.schema import NoTitles, inline_refs

        self._adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, output_type))
        schema = inline_refs(self._adapter.json_schema(schema_generator=NoTitles))
        self.wrapped = schema.get("type") != "object"
        if self.wrapped:
            schema = {"type": "object", "properties": {"response": schema}, "required": ["response"]}
        schema.pop("title", None)
        name = getattr(output_type, "__name__", "output")
        description = schema.pop("description", None)
        self.schema = OutputSchema(
            name=re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64], schema=schema, description=description
        )

    def mode_for(self, profile: ModelProfile) -> OutputMode:
        """The concrete mode for a model."""
        if self.mode == "auto":
            return "native" if profile.structured_output else "tool"
        return self.mode

    def tool_definition(self) -> ToolDefinition:
        """The ``final_result`` tool offered in tool mode."""
        description = "Call this with the final answer once you have it."
        if self.schema.description:
            description += f" The answer is: {self.schema.description}"
        return ToolDefinition(FINAL_RESULT_TOOL, description, self.schema.schema)

    def validate_args(self, args: Mapping[str, Any]) -> OutputT:
        """Validate the arguments of a ``final_result`` call (raises pydantic ``ValidationError``)."""
        value: Any = args.get("response") if self.wrapped and "response" in args else args
        return cast(OutputT, self._adapter.validate_python(value))

    def validate_text(self, text: str) -> OutputT:
        """Validate a JSON answer given as text (fenced or bare). Raises ``ValueError`` subclasses."""
        if self.is_text:
            return cast(OutputT, text)
        candidate = text.strip()
        fenced = _FENCE.search(candidate)
        if fenced:
            candidate = fenced.group(1).strip()
        elif not candidate.startswith(("{", "[")):
            start = candidate.find("{")
            end = candidate.rfind("}")
            if start != -1 and end > start:
                candidate = candidate[start : end + 1]
        data = json.loads(candidate)
        if self.wrapped and isinstance(data, dict) and "response" in data:
            data = data["response"]
        return cast(OutputT, self._adapter.validate_python(data))
