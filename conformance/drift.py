"""Drift: what a target sends that the bundled spec does not declare.

Undeclared response properties are allowed by the spec (it does not close its objects), so
they pass validation; drift lists them, with undeclared headers, status codes, content types
and enum values (these last three also fail validation: a misspelt status is a real bug, and
the hint says the vendor may have added the value). Drift alone fails a run only with
--strict-drift.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from conformance.api import api_of
from conformance.refs import RefError, deref

#: Headers any HTTP server may send; their absence from the spec is not drift.
ORDINARY_HEADERS = frozenset({
    "content-type", "content-length", "date", "server", "connection", "keep-alive",
    "transfer-encoding", "content-encoding", "vary", "cache-control", "etag", "expires",
    "pragma", "via", "age", "access-control-allow-origin", "access-control-allow-credentials",
    "access-control-expose-headers", "strict-transport-security", "x-content-type-options",
    "alt-svc", "allow", "set-cookie", "x-request-id", "request-id", "x-trace-id",
    "content-disposition", "x-frame-options", "referrer-policy", "cf-ray", "cf-cache-status",
    "x-cache", "last-modified", "accept-ranges", "nel", "report-to"})


@dataclass
class Entry:
    kind: str          # response-property | header | status | content-type | enum-value
    operation: str
    where: str
    first_seen: str
    count: int = 1
    hint: str = ""


class Drift:
    """Collects drift over a run; one entry per (kind, operation, where)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], Entry] = {}

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def add(self, kind: str, operation: str, where: str, test: str, hint: str = "") -> None:
        key = (kind, operation, where)
        if key in self._entries:
            self._entries[key].count += 1
        else:
            self._entries[key] = Entry(kind, operation, where, test, 1, hint)

    def as_json(self) -> str:
        return json.dumps([asdict(e) for e in self.entries], sort_keys=True)

    def observe_response(self, spec: dict, operation: str, status: int, headers, body,
                         test: str) -> None:
        """Everything in one response the spec does not declare."""
        op = api_of(spec).operation(operation)
        raw = _operation_object(spec, op)
        responses = raw.get("responses", {})
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
            or responses.get("default")
        if response is None:
            self.add("status", operation, str(status), test,
                     "the vendor may have added this status")
            return
        declared = {h.lower() for h in response.get("headers", {})}
        for name in headers:
            lower = name.lower()
            if lower not in declared and lower not in ORDINARY_HEADERS:
                self.add("header", operation, lower, test)
        content = response.get("content") or {}
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if content and media and media not in content:
            self.add("content-type", operation, media, test)
            return
        schema = (content.get("application/json") or {}).get("schema")
        if schema is not None and body is not None:
            _walk(self, spec, schema, body, "", operation, test, set())


def _operation_object(spec: dict, op) -> dict:
    return spec["paths"][op.template][op.method.lower()]


def _resolve(spec: dict, schema: dict) -> dict:
    """What `schema` names through its `$ref`s ({} for a reference that leads nowhere)."""
    try:
        node, _ = deref(spec, schema)
    except RefError:
        return {}
    return node if isinstance(node, dict) else {}


def _branches(spec: dict, schema: dict) -> list[dict]:
    """The schema and every schema it combines (allOf / anyOf / oneOf), resolved."""
    out, stack = [], [schema]
    while stack:
        node = _resolve(spec, stack.pop())
        out.append(node)
        for key in ("allOf", "anyOf", "oneOf"):
            stack.extend(node.get(key, []))
    return out


def _walk(drift: Drift, spec: dict, schema: dict, value, pointer: str, operation: str,
          test: str, seen: set) -> None:
    branches = _branches(spec, schema)
    enums = [b["enum"] for b in branches if "enum" in b]
    if enums and isinstance(value, str) and not any(value in e for e in enums):
        drift.add("enum-value", operation, f"{pointer or '/'} = {value!r}", test,
                  "not in the spec's enum: a misspelling, or a value the vendor added")
    if isinstance(value, dict):
        properties: dict = {}
        open_ended = False
        for branch in branches:
            properties.update(branch.get("properties", {}))
            extra = branch.get("additionalProperties")
            open_ended = open_ended or isinstance(extra, dict) and bool(extra)
        if not properties:
            return  # a free-form object (dynamic variables and the like)
        for key, item in value.items():
            where = f"{pointer}/{key}"
            if key in properties:
                _walk(drift, spec, properties[key], item, where, operation, test, seen)
            elif not open_ended:
                drift.add("response-property", operation, where, test)
    elif isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        for element in value:
            for item_schema in items:
                _walk(drift, spec, item_schema, element, f"{pointer}/*", operation, test, seen)
