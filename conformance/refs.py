"""Local `$ref`s followed, in one place: a JSON pointer resolved (`resolve_pointer`) and a chain
of references followed to what it names (`deref`), cycles refused. `conformance diff`, drift
and the mock's validation all follow references with these."""

from __future__ import annotations

from typing import Any

MAX_REF_HOPS = 64


class RefError(ValueError):
    """A `$ref` that cannot be followed in this document."""


def resolve_pointer(doc: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise RefError(f"only local $refs are followed, not {ref!r}")
    node = doc
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise RefError(f"$ref {ref} points at nothing")
    return node


def deref(doc: dict[str, Any], node: Any) -> tuple[Any, str | None]:
    """Follow a chain of `$ref`s; the last schema name followed, if any."""
    name = None
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or len(seen) > MAX_REF_HOPS:
            raise RefError(f"$ref cycle at {ref}")
        seen.add(ref)
        name = ref.rsplit("/", 1)[-1]
        node = resolve_pointer(doc, ref)
    return node, name
