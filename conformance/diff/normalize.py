"""One view of a schema whatever the spelling: `$ref`s followed, `allOf` merged, and every
nullable form (3.0 `nullable: true`, 3.1 `type: [x, "null"]`, `anyOf`/`oneOf` with a null
alternative, `null` in an enum) read as the same `nullable` flag."""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.refs import MAX_REF_HOPS, deref


def _is_null(doc: dict, alternative) -> bool:
    target, _ = deref(doc, alternative)
    if not isinstance(target, dict):
        return False
    declared = target.get("type")
    return declared == "null" or declared == ["null"] or target.get("enum") == [None]


@dataclass
class View:
    """A schema as the comparison sees it."""

    schema: dict                 # the merged keywords (no $ref / allOf / null alternatives)
    name: str | None = None      # the named component it came from
    nullable: bool = False
    types: frozenset = frozenset()  # JSON types, "null" excluded; empty = unconstrained
    variants: list = field(default_factory=list)  # remaining anyOf/oneOf alternatives (>= 2)
    variant_key: str = ""        # "anyOf" or "oneOf"


def _types_of(schema: dict) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    if "properties" in schema:
        return {"object"}
    if "items" in schema:
        return {"array"}
    return set()


def view(doc: dict, node, depth: int = 0) -> View:
    """Normalise a schema node of `doc` (see the module docstring)."""
    target, name = deref(doc, node)
    if not isinstance(target, dict) or depth > MAX_REF_HOPS:
        return View(schema={}, name=name)
    schema = {k: v for k, v in target.items() if k not in ("allOf", "anyOf", "oneOf", "$ref")}
    nullable = bool(schema.pop("nullable", False))
    # allOf: merge every part (properties and required united, the rest first-wins).
    for part in target.get("allOf") or []:
        sub = view(doc, part, depth + 1)
        name = name or (sub.name if len(target["allOf"]) == 1 else None)
        nullable = nullable or sub.nullable
        for key, value in sub.schema.items():
            if key == "properties":
                schema["properties"] = {**value, **schema.get("properties", {})}
            elif key == "required":
                schema["required"] = sorted(set(schema.get("required", [])) | set(value))
            else:
                schema.setdefault(key, value)
        if sub.types and "type" not in schema:
            schema["type"] = sorted(sub.types)
    variants, variant_key = [], ""
    for key in ("anyOf", "oneOf"):
        alternatives = target.get(key)
        if not alternatives:
            continue
        rest = [a for a in alternatives if not _is_null(doc, a)]
        nullable = nullable or len(rest) < len(alternatives)
        if len(rest) == 1 and depth < MAX_REF_HOPS:
            # `anyOf: [X, null]` is X, nullable; X's keywords win over the wrapper's.
            inner = view(doc, rest[0], depth + 1)
            name = inner.name or name
            nullable = nullable or inner.nullable
            schema = {**schema, **inner.schema}
            variants, variant_key = inner.variants, inner.variant_key
        elif rest:
            variants, variant_key = rest, key
    types = _types_of(schema)
    if "null" in types:
        nullable = True
        types.discard("null")
    if isinstance(schema.get("enum"), list) and None in schema["enum"]:
        nullable = True
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return View(schema=schema, name=name, nullable=nullable, types=frozenset(types),
                variants=variants, variant_key=variant_key)
