"""The batch-calling part of a vendor's whole `openapi.json`: how the fragment in
`openapi/vendor/` was made (`extract`)."""

from __future__ import annotations

import copy

from conformance.bundle.sources import BASE


def _local_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                yield value
            else:
                yield from _local_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _local_refs(value)


def is_batch_calling_path(path: str) -> bool:
    return path == BASE or path.startswith(BASE + "/")


def extract(openapi: dict) -> dict:
    """The batch-calling paths of a vendor's full `openapi.json` and every component they
    reach (transitively, in the source's order), unchanged: how the fragment in
    `openapi/vendor/` was made. Extracting a fragment again returns it as it is."""
    paths = {p: copy.deepcopy(item) for p, item in (openapi.get("paths") or {}).items()
             if is_batch_calling_path(p)}
    if not paths:
        raise ValueError(f"no path under {BASE} (not a batch-calling contract)")
    components = openapi.get("components") or {}
    reached: set[tuple[str, str]] = set()
    todo = list(_local_refs(paths))
    while todo:
        ref = todo.pop()
        parts = ref.removeprefix("#/components/").split("/")
        if len(parts) != 2 or tuple(parts) in reached:
            continue
        kind, name = parts
        if name not in components.get(kind, {}):
            raise ValueError(f"$ref {ref} points at nothing")
        reached.add((kind, name))
        todo.extend(_local_refs(components[kind][name]))
    out_components = {
        kind: {name: copy.deepcopy(node) for name, node in section.items()
               if (kind, name) in reached}
        for kind, section in components.items() if isinstance(section, dict)}
    out = {k: copy.deepcopy(openapi[k]) for k in ("openapi", "info", "servers") if k in openapi}
    out["paths"] = paths
    out["components"] = {k: v for k, v in out_components.items() if v}
    return out
