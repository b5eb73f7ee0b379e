"""Request validation: JSON bodies and query strings, against the bundled spec of one dialect.

`read_json` turns a body's bytes into a document within the mock's bounds (README
"Bounds"): at most MAX_JSON_ELEMENTS elements and MAX_JSON_DEPTH levels, finite numbers.
What breaks a bound is a 422 naming the offending place, never a 500, and nothing is stored
that the response encoder cannot send back exactly (big integers and lone surrogates,
which the spec allows, are escaped by shaping.dumps).

`RequestValidator` checks a document or a query string against the spec's schemas and
answers with pydantic-v2-style 422 items (conformance.mock.errors). Its hook points
(`HOOKS`) are where faults drop errors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from conformance.api import Api
from conformance.mock.errors import ErrorBuilder, dedupe, item, pydantic_errors
from conformance.refs import deref
from conformance.spec import schema_validator

#: The validator's hook points (README "Faults").
HOOKS = ("query",   # (op_id, params) -> (values, 422 items)
         "body")    # (op_id, document) -> 422 items

MAX_JSON_DEPTH = 64
#: Values, keys and containers of one body: 10,000 recipients with ids and a few dynamic
#: variables each take about 150,000.
MAX_JSON_ELEMENTS = 300_000
#: A query integer has at most this many ASCII digits (a longer one: 422 int_parsing_size).
#: The spec bounds `limit` on neither side, so any size is valid data; beyond 19 digits the
#: value saturates (every use clamps it), so no long int is ever converted.
MAX_QUERY_DIGITS = 1000
_QUERY_INT = re.compile(r"[ \t]*([+-]?)([0-9]+)[ \t]*")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _short(text: str, size: int = 64) -> str:
    return text if len(text) <= size else text[:size] + "..."


def within_bounds(document: Any) -> bool:
    """True when `check_document` would find nothing, decided without building a location
    per element (that was half the cost of a 100-recipient submit). False means "ask
    check_document": it may still find nothing (the total below over-counts its count by
    at most the last dict's keys), so only True is trusted. tests/self/test_fast_paths.py
    checks the two agree."""
    level, depth, count = [document], 0, 0
    while level:
        count += len(level)
        below: list = []
        for value in level:
            kind = type(value)
            if kind is str or kind is int or kind is bool or value is None:
                continue
            if kind is dict:
                count += len(value)
                below.extend(value.values())
            elif kind is list:
                below.extend(value)
            elif kind is float:
                if not math.isfinite(value):
                    return False
            elif isinstance(value, (dict, list, float)):
                return False   # a subclass: the reference decides
            else:
                continue
            if kind is dict or kind is list:
                if depth >= MAX_JSON_DEPTH:
                    return False
        if count > MAX_JSON_ELEMENTS:
            return False
        level, depth = below, depth + 1
    return True


def check_document(document: Any, prefix: list) -> list[dict]:
    """The bounds of README "Bounds" over a parsed JSON value (iterative: any depth).

    Integers of any size (up to the parser's 4,300 digits) and strings with lone
    surrogates are valid JSON the spec allows, so they are kept and sent back exactly
    (shaping.dumps escapes them); only what JSON cannot carry at all (an overflowing
    number, `1e400`, which a parser reads as infinity) is refused."""
    errors: list[dict] = []
    stack = [(document, prefix, 0)]
    count = 0
    while stack and len(errors) < 10:
        value, loc, depth = stack.pop()
        count += 1
        if count > MAX_JSON_ELEMENTS:
            errors.append(item("too_long", prefix, f"JSON body has more than "
                               f"{MAX_JSON_ELEMENTS} elements", None,
                               {"max_length": MAX_JSON_ELEMENTS}))
            break
        if isinstance(value, float):
            if not math.isfinite(value):
                errors.append(item("finite_number", loc, "Input should be a finite number",
                                   str(value)))
        elif isinstance(value, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                errors.append(item("too_long", loc, f"JSON nested deeper than "
                                   f"{MAX_JSON_DEPTH} levels", None,
                                   {"max_depth": MAX_JSON_DEPTH}))
                continue
            if isinstance(value, dict):
                count += len(value)
                stack.extend((sub, [*loc, key], depth + 1) for key, sub in value.items())
            else:
                stack.extend((sub, [*loc, i], depth + 1) for i, sub in enumerate(value))
    return errors


#: A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float;
#: found by mapping every digit to "0" and every other byte to " " (a regex is 15x slower).
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def parse(raw: bytes) -> Any:
    """`json.loads` of the UTF-8 text, through orjson when that gives the same value (about
    5x faster on a 100-recipient body). orjson refuses what the reference reads differently
    or refuses itself (NaN, Infinity, an overflowing number, lone surrogates, a BOM, invalid
    UTF-8, nesting beyond 1024) and those go to the reference for its exact error or value;
    the one thing it reads differently without refusing, an integer beyond 64 bits, is
    sent to the reference before orjson sees it. tests/self/test_fast_paths.py compares."""
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def read_json(raw: bytes, errors: ErrorBuilder, prefix: list | None = None) -> Any:
    """Bytes to a JSON document within the bounds, or ApiError 422 as FastAPI words it."""
    prefix = prefix or ["body"]
    if not raw:
        raise errors.validation([item("missing", prefix, "Field required", None)])
    # A cheap upper bound on the element count before paying for a parse.
    if raw.count(b",") + raw.count(b":") > 2 * MAX_JSON_ELEMENTS:
        raise errors.validation([item("too_long", prefix, f"JSON body has more than "
                                      f"{MAX_JSON_ELEMENTS} elements", None,
                                      {"max_length": MAX_JSON_ELEMENTS})])
    try:
        document = parse(raw)
    except json.JSONDecodeError as exc:
        raise errors.validation([item("json_invalid", [*prefix, exc.pos], "JSON decode error",
                                      {}, {"error": exc.msg})]) from None
    except RecursionError:
        raise errors.validation([item("json_invalid", [*prefix, 0], "JSON decode error", {},
                                      {"error": f"nested deeper than {MAX_JSON_DEPTH} "
                                                "levels"})]) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.validation([item("json_invalid", [*prefix, 0], "JSON decode error",
                                      {}, {"error": _short(str(exc), 200)})]) from None
    problems = [] if within_bounds(document) else check_document(document, list(prefix))
    if problems:
        raise errors.validation(problems)
    return document


@dataclass
class OperationInfo:
    operation_id: str
    method: str
    template: str
    operation: dict
    query: list[dict] = field(default_factory=list)   # query parameter objects
    body_schema: dict | None = None
    #: Compiled once here: looking a validator up by its schema's text costs a json.dumps.
    query_validators: dict[str, Any] = field(default_factory=dict)   # by parameter name
    body_validator: Any = None


def _schema_types(schema: dict) -> set[str]:
    if "type" in schema:
        value = schema["type"]
        return set(value if isinstance(value, list) else [value])
    out: set[str] = set()
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        out |= _schema_types(sub)
    return out


def parse_query_int(name: str, raw: str) -> tuple[int | None, dict | None]:
    """A query integer: ASCII digits only (fullmatch: no other script's digits, no trailing
    newline), at most MAX_QUERY_DIGITS of them."""
    found = _QUERY_INT.fullmatch(raw)
    if found is None:
        return None, item("int_parsing", ["query", name], "Input should be a valid integer, "
                          "unable to parse string as an integer", _short(raw))
    digits = found.group(2).lstrip("0") or "0"
    if len(digits) > MAX_QUERY_DIGITS:
        return None, item("int_parsing_size", ["query", name], "Unable to parse input string "
                          "as an integer, exceeded maximum size", _short(raw))
    sign = -1 if found.group(1) == "-" else 1
    return sign * (int(digits) if len(digits) <= 19 else 10**19), None


class RequestValidator:
    """Validates query strings and JSON bodies against the spec of one dialect."""

    def __init__(self, spec: dict, api: Api) -> None:
        self.spec = spec
        self.ops: dict[str, OperationInfo] = {}
        for op_id in api.ids:
            found = api.by_id[op_id]
            method, template = found.method.lower(), found.template
            op = spec["paths"][template][method]
            info = OperationInfo(op_id, method, template, op,
                                 [p for p in op.get("parameters", []) if p.get("in") == "query"])
            info.query_validators = {p["name"]: schema_validator(spec, p.get("schema", {}))
                                     for p in info.query}
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if body:
                info.body_schema = body["schema"]
                info.body_validator = schema_validator(spec, info.body_schema)
            self.ops[op_id] = info

    def query(self, op_id: str, params: Mapping[str, str]) -> tuple[dict, list[dict]]:
        """Parsed query values (defaults applied) and 422 items."""
        values: dict[str, Any] = {}
        errors: list[dict] = []
        info = self.ops[op_id]
        for param in info.query:
            name, schema = param["name"], param.get("schema", {})
            if name not in params:
                if "default" in schema:
                    values[name] = schema["default"]
                elif param.get("required"):
                    errors.append(item("missing", ["query", name], "Field required", None))
                continue
            raw = params[name]
            value: Any = raw
            if "integer" in _schema_types(schema):
                value, error = parse_query_int(name, raw)
                if error:
                    errors.append(error)
                    continue
            for err in info.query_validators[name].iter_errors(value):
                errors.extend(pydantic_errors(err, ["query", name]))
            values[name] = value
        return values, dedupe(errors)

    def body(self, op_id: str, document: Any) -> list[dict]:
        """422 items for a parsed JSON body (the spec's schema)."""
        info = self.ops[op_id]
        schema = info.body_schema
        if schema is None:
            return []
        errors = []
        for err in info.body_validator.iter_errors(document):
            errors.extend(pydantic_errors(err, ["body"]))
        return dedupe(self._in_field_order(schema, errors))

    def _in_field_order(self, schema: dict, errors: list[dict]) -> list[dict]:
        """Pydantic reports fields in declaration order; jsonschema by keyword."""
        target, _ = deref(self.spec, schema)
        order = {name: i for i, name in enumerate(target.get("properties", {}))}

        def key(entry):
            loc = entry["loc"]
            return order.get(loc[1], len(order)) if len(loc) > 1 else -1
        return sorted(errors, key=key)



async def read_body(request, limit: int, errors: ErrorBuilder) -> bytes:
    """The body's bytes, at most `limit` of them (checked on Content-Length and while
    reading); ApiError 413 beyond."""
    def too_large():
        return errors.object(413, "invalid_request", "payload_too_large",
                             f"Request body is larger than {limit} bytes.")
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > limit):
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)
