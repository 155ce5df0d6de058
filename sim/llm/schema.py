"""JSON schemas in the LLM simulator: answers that conform to one, and strict Structured Outputs' rules.

``SchemaAnswerer`` builds a value for a schema deterministically from the ticket text;
``check_strict_schema`` refuses a strict schema that breaks the documented rules.
"""

from __future__ import annotations

import math
from typing import Any

from sim.common import ApiError
from sim.llm.errors import invalid_request
from sim.llm.text import NEUTRAL_DEFAULTS, first_sentence, guess_language, score_enum, stable_hash

# The schema behind answers to requests without one (plain text or json_object).
DEFAULT_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "category": {"type": "string", "enum": ["bug", "refund", "feature", "other"]},
        "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
        "sentiment": {"type": "string", "enum": ["negative", "neutral", "positive"]},
        "language": {"type": "string"},
    },
    "required": ["summary", "category", "urgency", "sentiment", "language"],
    "additionalProperties": False,
}
# Fixed examples for the string formats Structured Outputs supports.
FORMAT_EXAMPLES = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "support@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
}
# Recursive schemas stop growing at MAX_DEPTH (arrays stay as short as allowed, nullable unions
# become null); one that still goes deeper, twice as deep, cannot be answered.
MAX_DEPTH = 10
Path = tuple[str | int, ...]


class SchemaAnswerer:
    """Builds a value that conforms to a JSON schema, deterministically from the ticket text."""

    def __init__(self, text: str, root: dict):
        self.text = text
        self.root = root
        # Where enum values went and what each allowed: for bad_enum faults and injections.
        self.enum_fields: list[tuple[Path, list]] = []

    def build(self) -> Any:
        """The whole answer for the root schema."""
        return self._value(self.root, (), "", is_root=True)

    def _resolve(self, schema: Any) -> dict:
        """Follow $ref (keys beside it win, as in OpenAI's strict schemas) and merge allOf."""
        for _ in range(MAX_DEPTH):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**self._lookup(schema["$ref"]), **siblings}
        if not isinstance(schema, dict):
            raise invalid_request(
                "Invalid schema for response_format: every schema must be an object.",
                "response_format",
                "invalid_json_schema",
            )
        if "allOf" in schema:
            merged = {key: value for key, value in schema.items() if key != "allOf"}
            for part in schema["allOf"]:
                merged = {**self._resolve(part), **merged}
            schema = merged
        return schema

    def _lookup(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise invalid_request(
                f"Invalid schema for response_format: unsupported $ref {ref!r}.",
                "response_format",
                "invalid_json_schema",
            )
        node: Any = self.root
        for key in filter(None, ref[1:].split("/")):
            if not isinstance(node, dict) or key not in node:
                raise invalid_request(
                    f"Invalid schema for response_format: {ref!r} points nowhere.",
                    "response_format",
                    "invalid_json_schema",
                )
            node = node[key]
        return node

    def _salt(self, path: Path) -> int:
        """A stable number for this ticket and this place in the answer."""
        return stable_hash(self.text, *path)

    def _value(self, schema: Any, path: Path, name: str, is_root: bool = False) -> Any:
        if len(path) > 2 * MAX_DEPTH:
            raise invalid_request(
                f"Invalid schema for response_format: it nests deeper than {2 * MAX_DEPTH} levels.",
                "response_format",
                "invalid_json_schema",
            )
        schema = self._resolve(schema)
        description = schema.get("description", "")
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"], path, name, description)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            resolved = [self._resolve(variant) for variant in variants]
            concrete = [variant for variant in resolved if variant.get("type") != "null"]
            if not concrete or (len(path) >= MAX_DEPTH and len(concrete) < len(resolved)):
                return None
            # The variant inherits the union's description ("summary of ...", enum hints).
            return self._value({"description": description, **concrete[0]}, path, name)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((entry for entry in kind if entry != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema or is_root else "array" if "items" in schema else "string"
        if kind == "object":
            return {key: self._value(sub, (*path, key), key) for key, sub in (schema.get("properties") or {}).items()}
        if kind == "array":
            return self._array(schema, path, name)
        if kind == "string":
            return self._string(schema, path, name, description)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._number(schema, path)
        if kind == "boolean":
            return self._salt(path) % 2 == 0
        if kind == "null":
            return None
        raise invalid_request(
            f"Invalid schema for response_format: unknown type {kind!r}.", "response_format", "invalid_json_schema"
        )

    def _enum(self, values: list, path: Path, name: str, description: str) -> Any:
        if not values:
            raise invalid_request(
                "Invalid schema for response_format: an enum must list values.",
                "response_format",
                "invalid_json_schema",
            )
        self.enum_fields.append((path, list(values)))
        strings = [value for value in values if isinstance(value, str)]
        if "language" in name.lower():
            guess = guess_language(self.text)
            if guess in strings:
                return guess
        scores = score_enum(self.text, strings, description, name) if strings else {}
        best = max(scores.values(), default=0)
        if best == 0:
            default = next((value for value in NEUTRAL_DEFAULTS if value in strings), None)
            if default is not None:
                return default
            candidates = values
        else:
            candidates = [value for value in strings if scores[value] == best]
        return candidates[self._salt(path) % len(candidates)]

    def _array(self, schema: dict, path: Path, name: str) -> list:
        minimum = schema.get("minItems", 0)
        count = minimum if len(path) >= MAX_DEPTH else max(minimum, 1)
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        items = schema.get("items", {})
        return [self._value(items, (*path, index), name) for index in range(count)]

    def _string(self, schema: dict, path: Path, name: str, description: str) -> str:
        lowered = name.lower()
        if lowered == "summary" or "summary" in description.lower():
            text = first_sentence(self.text) or "Empty ticket."
        elif "language" in lowered:
            text = guess_language(self.text)
        elif schema.get("format") in FORMAT_EXAMPLES:
            text = FORMAT_EXAMPLES[schema["format"]]
        else:
            label = lowered.replace("_", " ") or "answer"
            text = f"{label}: {first_sentence(self.text, 80) or 'no details given'}"
        maximum = schema.get("maxLength")
        if maximum is not None:
            text = text[:maximum]
        return text.ljust(schema.get("minLength", 0), ".")

    def _integer(self, schema: dict, path: Path) -> int:
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is None and high is None:
            low, high = 1, 10
        elif low is None:
            low = high - 9
        elif high is None:
            high = low + 9
        low, high = math.ceil(low), math.floor(high)
        return low + self._salt(path) % (high - low + 1)

    def _number(self, schema: dict, path: Path) -> float:
        # A confidence-like value in [0.5, 0.99], stable for this ticket and field.
        fraction = 0.5 + (self._salt(path) % 50) / 100
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if (low is None or low <= fraction) and (high is None or fraction <= high):
            return fraction
        # Outside the allowed range: place the same fraction inside it instead.
        low = high - 1 if low is None else low
        high = low + 1 if high is None else high
        return round(low + fraction * (high - low), 6)


# --- Strict Structured Outputs --------------------------------------------------------------------


def _invalid_schema(name: str, problem: str) -> ApiError:
    return invalid_request(
        f"Invalid schema for response_format '{name}': {problem}", "response_format", "invalid_json_schema"
    )


def _is_object_schema(schema: dict) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema


def _strict_schema_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    """The first rule of strict Structured Outputs this (sub)schema breaks, or None.

    https://platform.openai.com/docs/guides/structured-outputs#supported-schemas : with strict,
    every object must set "additionalProperties": false and list every property in "required".
    Subschemas are searched under properties, items, anyOf/oneOf/allOf and $defs/definitions.
    """
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}, "
    if _is_object_schema(schema):
        if schema.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        required = schema.get("required")
        need = "'required' is required to be supplied and to be an array including every key in properties."
        if not isinstance(required, list):
            missing = next(iter(properties), None)
            return where + need + (f" Missing {missing!r}." if missing is not None else "")
        missing = next((key for key in properties if key not in required), None)
        if missing is not None:
            return where + need + f" Missing {missing!r}."
        extra = next((key for key in required if key not in properties), None)
        if extra is not None:
            return where + f"Extra required key {extra!r} supplied."
    children: list[tuple[tuple[str, ...], Any]] = []
    for keyword in ("$defs", "definitions", "properties"):
        if isinstance(schema.get(keyword), dict):
            children += [((*context, keyword, str(key)), sub) for key, sub in schema[keyword].items()]
    items = schema.get("items")
    if isinstance(items, dict):
        children.append(((*context, "items"), items))
    elif isinstance(items, list):
        children += [((*context, "items", str(index)), sub) for index, sub in enumerate(items)]
    for keyword in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(keyword), list):
            children += [((*context, keyword, str(index)), sub) for index, sub in enumerate(schema[keyword])]
    for child_context, child in children:
        problem = _strict_schema_problem(child, child_context)
        if problem is not None:
            return problem
    return None


def check_strict_schema(name: str, schema: dict) -> None:
    """Raise OpenAI's 400 invalid_json_schema when a strict schema breaks Structured Outputs' rules."""
    # https://platform.openai.com/docs/guides/structured-outputs#supported-schemas : the root must
    # be an object (not anyOf, not an array).
    if schema.get("type") != "object":
        raise _invalid_schema(
            name, f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'."
        )
    problem = _strict_schema_problem(schema, ())
    if problem is not None:
        raise _invalid_schema(name, problem)
