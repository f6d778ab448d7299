"""JSON schemas from typed functions: expected schemas for the signatures tools use."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from podium.exceptions import UserError
from podium.tools import Injected, RunContext, function_schema, tool


def refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref":
                found.append(value)
            else:
                found.extend(refs(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(refs(value))
    return found


def assert_self_contained(schema: dict[str, Any]) -> None:
    defs = schema.get("$defs", {})
    for ref in refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in defs, f"dangling {ref}"


def test_google_docstring_and_simple_types() -> None:
    def add(a: int, b: float = 1.5, *, label: str | None = None) -> float:
        """Add two numbers.

        More detail on a second paragraph.

        Args:
            a: The first number.
            b: The second number.
            label: An optional label.
        """
        return a + b

    s = function_schema(add)
    assert s.name == "add"
    assert s.description == "Add two numbers.\n\nMore detail on a second paragraph."
    assert s.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "a": {"type": "integer", "description": "The first number."},
            "b": {"type": "number", "default": 1.5, "description": "The second number."},
            "label": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": "An optional label.",
            },
        },
        "required": ["a"],
    }


def test_numpy_docstring() -> None:
    def scale(values: list[float], factor: float) -> list[float]:
        """Scale values.

        Parameters
        ----------
        values : list of float
            The values to scale.
        factor : float
            The multiplier.
        """
        return [v * factor for v in values]

    s = function_schema(scale)
    assert s.description == "Scale values."
    assert s.parameters["properties"]["values"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "The values to scale.",
    }
    assert s.parameters["properties"]["factor"]["description"] == "The multiplier."


def test_rest_docstring() -> None:
    def greet(name: str, times: int = 1) -> str:
        """Greet someone.

        :param name: Who to greet.
        :param times: How many times.
        :returns: The greeting.
        """
        return name * times

    s = function_schema(greet)
    assert s.description == "Greet someone."
    assert s.parameters["properties"]["name"] == {"type": "string", "description": "Who to greet."}
    assert s.parameters["properties"]["times"] == {"type": "integer", "default": 1, "description": "How many times."}


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip_code: str = Field(description="Postal code")


class Person(BaseModel):
    """A person."""

    name: str
    address: Address
    previous: list[Address] = []


@dataclass
class Point:
    x: int
    y: int = 0


class Options(TypedDict):
    verbose: bool
    depth: int


def test_nested_models_dataclasses_typeddict_enum_literal_are_inlined() -> None:
    def complex_tool(
        person: Person,
        where: Point,
        options: Options,
        color: Color,
        mode: Literal["fast", "slow"] = "fast",
        tags: dict[str, int] | None = None,
        pair: tuple[int, str] = (1, "a"),
    ) -> str:
        """Do it."""
        return ""

    s = function_schema(complex_tool)
    p = s.parameters
    assert "$defs" not in p
    assert refs(p) == []
    person = p["properties"]["person"]
    assert person["description"] == "A person."
    assert person["required"] == ["name", "address"]
    assert person["properties"]["address"] == {
        "type": "object",
        "properties": {
            "street": {"type": "string"},
            "zip_code": {"type": "string", "description": "Postal code"},
        },
        "required": ["street", "zip_code"],
    }
    assert person["properties"]["previous"]["items"] == person["properties"]["address"]
    assert p["properties"]["where"] == {
        "type": "object",
        "additionalProperties": False,  # stdlib dataclasses take the tool's extra="forbid"
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
        "required": ["x"],
    }
    assert p["properties"]["options"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {"verbose": {"type": "boolean"}, "depth": {"type": "integer"}},
        "required": ["verbose", "depth"],
    }
    assert p["properties"]["color"] == {"enum": ["red", "green"], "type": "string"}
    assert p["properties"]["mode"] == {"enum": ["fast", "slow"], "type": "string", "default": "fast"}
    assert p["properties"]["tags"] == {
        "anyOf": [{"type": "object", "additionalProperties": {"type": "integer"}}, {"type": "null"}],
        "default": None,
    }
    assert p["properties"]["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
        "default": [1, "a"],
    }
    assert p["required"] == ["person", "where", "options", "color"]
    # and validation builds the real types
    kwargs = s.validate(
        {
            "person": {"name": "Ada", "address": {"street": "s", "zip_code": "1"}},
            "where": {"x": 1},
            "options": {"verbose": True, "depth": 2},
            "color": "red",
        }
    )
    assert isinstance(kwargs["person"], Person)
    assert kwargs["where"] == Point(1, 0)
    assert kwargs["color"] is Color.RED
    assert kwargs["pair"] == (1, "a")


class Node(BaseModel):
    value: int
    children: list[Node] = []


def test_recursive_model_keeps_only_needed_defs() -> None:
    def walk(tree: Node, depth: Optional[int] = None) -> int:  # noqa: UP045 - Optional on purpose
        """Walk a tree."""
        return 0

    s = function_schema(walk)
    assert_self_contained(s.parameters)
    assert set(s.parameters["$defs"]) == {"Node"}
    assert s.parameters["properties"]["tree"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    json.dumps(s.parameters)  # serializable


def test_run_context_and_injected_are_left_out() -> None:
    def search(
        ctx: RunContext[dict[str, str]],
        query: str,
        api_key: Annotated[str, Injected()],
        region: Annotated[str, Injected("zone")] = "eu",
    ) -> str:
        """Search.

        Args:
            query: What to look for.
        """
        return query

    s = function_schema(search)
    assert list(s.parameters["properties"]) == ["query"]
    assert s.context_param == "ctx"
    assert s.injected == {"api_key": "api_key", "region": "zone"}


def test_run_context_must_come_first() -> None:
    def bad(x: int, ctx: RunContext[None]) -> None:
        """Bad."""

    with pytest.raises(UserError, match="must come first"):
        function_schema(bad)


def test_varargs_are_refused() -> None:
    def bad(*args: int) -> None:
        """Bad."""

    with pytest.raises(UserError, match="list the parameters explicitly"):
        function_schema(bad)


def test_unknown_and_wrong_arguments_fail_validation() -> None:
    def f(a: int) -> int:
        """F."""
        return a

    s = function_schema(f)
    with pytest.raises(ValidationError):
        s.validate({"a": "not a number"})
    with pytest.raises(ValidationError):
        s.validate({"a": 1, "b": 2})


def test_tool_decorator_bare_and_with_arguments() -> None:
    @tool
    def bare(x: int) -> int:
        """Double it."""
        return 2 * x

    @tool(name="renamed", description="Custom.", timeout=3, max_output=10, retries=5)
    async def configured(x: int) -> int:
        return x

    assert bare(21) == 42  # still callable
    assert bare.definition.name == "bare"
    assert bare.definition.description == "Double it."
    assert configured.definition.name == "renamed"
    assert configured.definition.description == "Custom."
    assert (configured.timeout, configured.max_output, configured.retries) == (3, 10, 5)
    assert configured.schema.is_async


def test_lambda_needs_a_name() -> None:
    from podium.tools.tool import Tool

    with pytest.raises(UserError, match="needs a name"):
        _ = Tool(lambda x: x).schema
