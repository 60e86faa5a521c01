"""OpenAPI documents of the feeds' routes: request bodies given as their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def inlined_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its ``$defs`` written in place: a schema placed inside the
    OpenAPI document must not point at ``#/$defs`` (that would be the document's root)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:  # noqa: ANN401 - any JSON value
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
