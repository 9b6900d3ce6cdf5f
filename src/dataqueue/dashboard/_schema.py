"""JSON Schemas (OpenAPI 3.1 dialect) derived from the records' type hints.

The records the API returns are dataclasses; their schemas are built from
the same field list that ``_json.plain`` encodes, so a field added to a
record appears in the OpenAPI document without anyone editing it.
"""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime
from enum import Enum
from typing import (
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

Schema = dict[str, Any]


class Components:
    """The named schemas of one document; records become ``$ref``s here."""

    def __init__(self, names: dict[type, str]) -> None:
        self._names = names
        self.schemas: dict[str, Schema] = {}

    def ref(self, record: type, extra: dict[str, Schema] | None = None) -> Schema:
        """A ``$ref`` to ``record``'s schema, built on first use; ``extra``
        adds properties that the API sends beside the record's fields."""
        name = self._names.get(record, record.__name__)
        if name not in self.schemas:
            self.schemas[name] = {}  # taken first: records may refer to themselves
            self.schemas[name] = self._object(record, extra or {})
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, record: type, extra: dict[str, Schema]) -> Schema:
        hints = get_type_hints(record)
        if dataclasses.is_dataclass(record):
            names = [field.name for field in dataclasses.fields(record)]
        else:
            names = list(hints)
        properties = {name: self.of(hints[name]) for name in names}
        properties.update(extra)
        schema: Schema = {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
        if record.__doc__:
            schema["description"] = " ".join(record.__doc__.split())
        return schema

    def of(self, hint: Any) -> Schema:
        """The schema of values of the type ``hint``, as ``_json.plain``
        writes them."""
        origin = get_origin(hint)
        args = get_args(hint)
        if hint is Any:
            return {}
        if origin is Union or origin is types.UnionType:
            present = [arg for arg in args if arg is not type(None)]
            if len(present) == 1:
                inner = self.of(present[0])
            else:
                inner = {"anyOf": [self.of(arg) for arg in present]}
            return _nullable(inner) if len(present) < len(args) else inner
        if origin is Literal:
            return {"type": "string", "enum": list(args)}
        if origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            value = self.of(args[1]) if args else {}
            return {"type": "object", "additionalProperties": value}
        return self._leaf(hint)

    def _leaf(self, hint: Any) -> Schema:
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is str:
            return {"type": "string"}
        if hint is datetime:
            return {"type": "string", "format": "date-time"}
        if isinstance(hint, type) and issubclass(hint, Enum):
            return {"type": "string", "enum": [member.value for member in hint]}
        if dataclasses.is_dataclass(hint) or is_typeddict(hint):
            return self.ref(hint)
        raise TypeError(f"no JSON schema for {hint!r}")


def _nullable(schema: Schema) -> Schema:
    if not schema:
        return schema  # any value, null included
    if isinstance(schema.get("type"), str):
        widened = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}
