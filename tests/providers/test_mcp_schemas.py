"""An awkward MCP tool schema (as servers write them) through every provider's request builder.

MCP servers send JSON Schema as they like: ``$schema``, ``$defs`` with ``$ref`` s (one inside ``anyOf``),
nullable types both as ``anyOf`` with ``null`` and as a type list, ``oneOf``, enums, nested objects,
``additionalProperties``. :mod:`podium.mcp` passes the schema on whole; each provider's Podium model must
send a body its SDK's request types accept (:mod:`sdk_schemas`), with the schema in it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from switching_kit import KITS, capture

from podium.mcp.convert import mcp_function_schema
from podium.messages import Message
from podium.settings import ToolDefinition

pytestmark = pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")

AWKWARD: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "order": {"$ref": "#/$defs/Order"},
        "priority": {"anyOf": [{"type": "string", "enum": ["low", "high"]}, {"type": "integer"}], "default": "low"},
        "notes": {"type": ["array", "null"], "items": {"type": "string"}},
        "target": {
            "oneOf": [
                {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]},
                {"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]},
            ]
        },
    },
    "required": ["order"],
    "additionalProperties": False,
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string", "description": "The city."}},
            "required": ["street", "city"],
        },
        "Order": {
            "type": "object",
            "properties": {
                "item": {"type": "string"},
                "quantity": {"type": "integer", "minimum": 1},
                "ship_to": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
            },
            "required": ["item"],
        },
    },
}


def _find_schema(body: Any) -> dict[str, Any] | None:
    """The tool's parameter schema inside a request body (wherever the wire format puts it)."""
    if isinstance(body, dict):
        if "properties" in body and "order" in body.get("properties", {}):
            return body
        for value in body.values():
            found = _find_schema(value)
            if found is not None:
                return found
    elif isinstance(body, list):
        for value in body:
            found = _find_schema(value)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("provider", sorted(KITS))
def test_an_awkward_mcp_schema_reaches_every_provider_in_a_body_its_sdk_accepts(provider: str) -> None:
    kit = KITS[provider]
    schema = mcp_function_schema("place_order", "Place an order.", AWKWARD)
    definition = ToolDefinition(schema.name, schema.description, schema.parameters)
    with capture(kit, kit.target_model, kit.target_reply) as server:
        kit.model(server.url, kit.target_model).request([Message.user("order a pen")], tools=[definition])
        [received] = server.received
        body = received.json
    kit.validate(body, kit.target_model)
    sent = _find_schema(body)
    assert sent is not None, f"{provider}: no tool schema in {json.dumps(body)[:500]}"
    # whatever the provider adapted, the facts the model needs are all there
    text = json.dumps(sent)
    for fact in ("low", "high", "email", "phone", "street", "The city.", "item", "minimum"):
        assert fact in text, f"{provider} lost {fact}: {text}"
    if provider != "ollama":  # the others take JSON Schema as it is
        assert sent == AWKWARD


def test_ollama_fits_schemas_to_what_its_api_reads() -> None:
    from podium.providers.ollama_schema import ollama_parameters

    simple = {"type": "object", "properties": {"city": {"type": "string", "description": "A city."}}, "required": []}
    assert ollama_parameters(simple) == simple
    fitted = ollama_parameters(AWKWARD)
    props = fitted["properties"]
    assert set(fitted) == {"type", "properties", "required"} and fitted["required"] == ["order"]
    assert props["notes"] == {"type": ["array", "null"], "items": {"type": "string"}}
    assert props["priority"]["type"] == ["string", "integer"] and "default" in props["priority"]["description"]
    assert props["order"]["type"] == "object" and '"ship_to"' in props["order"]["description"]
    nullable = {"anyOf": [{"type": "string", "enum": ["a", "b"], "description": "inner"}, {"type": "null"}]}
    out = ollama_parameters({"type": "object", "properties": {"x": {**nullable, "description": "outer"}}})
    assert out["properties"]["x"] == {"type": ["string", "null"], "enum": ["a", "b"], "description": "outer"}
