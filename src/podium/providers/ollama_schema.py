"""Tool schemas fitted to what Ollama's native API reads.

Ollama's ``/api/chat`` reads a small part of JSON Schema per parameter: ``type`` (a name or a list of
names), ``items``, ``description`` and ``enum`` (its Python SDK's request types hold exactly these); other
keywords are dropped without a word. Schemas from MCP servers or from ``Optional`` parameters use more:
``$ref`` into ``$defs``, ``anyOf``/``oneOf``, nested ``properties``, ``default``, bounds. So that the model
still learns them, :func:`ollama_parameters` keeps what Ollama reads and says the rest in the description:

* ``$ref`` s are inlined (recursive ones are named, not expanded);
* ``anyOf``/``oneOf`` of one type and ``null`` becomes ``type: [type, "null"]`` with that type's enum,
  items and description; other unions become a list of their types plus ``one of: <alternatives>``;
* a nested object's fields, ``default`` and other keywords (``minimum``, ``pattern``...) are appended to
  the description as compact JSON.

A schema that already fits is returned unchanged (same keys and values).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ollama_parameters"]

_READ = frozenset({"type", "items", "description", "enum"})
_SILENT = frozenset({"title", "$schema", "$id", "$comment", "examples", "additionalProperties"})


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _ref_key(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
        return ref.rsplit("/", 1)[-1]
    return None


def _inline(node: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> Any:
    """``node`` with its ``$ref`` s replaced by their definitions (a recursive one stays a named ref)."""
    if isinstance(node, list):
        return [_inline(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    key = _ref_key(node)
    if key is not None and key in defs and key not in seen:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**defs[key], **rest}, defs, seen | {key})
    return {k: _inline(v, defs, seen) for k, v in node.items() if k not in ("$defs", "definitions")}


def _union(alternatives: list[Any], out: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """Fold ``anyOf``/``oneOf``; returns the single non-null alternative to read further, if there is one."""
    nullable = any(isinstance(a, dict) and a.get("type") == "null" for a in alternatives)
    rest = [a for a in alternatives if not (isinstance(a, dict) and a.get("type") == "null")]
    if len(rest) == 1 and isinstance(rest[0], dict):
        return {**rest[0], "_nullable": nullable}
    types: list[str] = []
    for a in rest:
        t = a.get("type") if isinstance(a, dict) else None
        for name in t if isinstance(t, list) else [t]:
            if isinstance(name, str) and name not in types:
                types.append(name)
    if nullable:
        types.append("null")
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    notes.append(f"one of: {_compact(rest)}")
    return None


def _property(node: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    node = _inline(node, defs)
    if not isinstance(node, dict):
        return {}
    out: dict[str, Any] = {}
    notes: list[str] = []
    alternatives = node.get("anyOf", node.get("oneOf"))
    if isinstance(alternatives, list):
        single = _union(alternatives, out, notes)
        if single is not None:
            nullable = single.pop("_nullable")
            merged = {**{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}, **single}
            if "description" in node:
                merged["description"] = node["description"]
            out = _property(merged, defs)
            if nullable:
                t = out.get("type")
                names = (t if isinstance(t, list) else [t]) if t is not None else []
                out["type"] = [*names, "null"] if "null" not in names else names
            return out
    for key, value in node.items():
        if key in ("anyOf", "oneOf", "description") or key in _SILENT:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in _READ:
            out[key] = value
        elif key in ("properties", "required") and node.get("type") == "object":
            continue
        else:
            notes.append(f"{key}: {_compact(value)}")
    if node.get("type") == "object" and isinstance(node.get("properties"), dict):
        fields = {"properties": node["properties"], "required": node.get("required", [])}
        notes.insert(0, f"an object: {_compact(fields)}")
    description = node.get("description")
    if notes:
        tail = "; ".join(notes)
        description = f"{description} ({tail})" if description else tail
    if description is not None:
        out["description"] = description
    return out


def ollama_parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` (an object schema of tool parameters) in the part of JSON Schema that Ollama reads."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    properties = schema.get("properties")
    fits = not defs and all(isinstance(p, dict) and set(p) <= _READ for p in (properties or {}).values())
    if fits and set(schema) <= {"type", "properties", "required"}:
        return dict(schema)
    out: dict[str, Any] = {"type": "object", "properties": {}}
    for name, prop in (properties or {}).items():
        out["properties"][name] = _property(prop, defs)
    if isinstance(schema.get("required"), list):
        out["required"] = list(schema["required"])
    return out
