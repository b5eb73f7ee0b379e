"""Error translation: the mock's two error shapes, as the vendor (FastAPI on pydantic v2)
sends them.

* `ApiError(status, body)`: an error response ready to send.
* `ErrorBuilder`: the object detail `{"detail": {"type", "code", "message", "status",
  "request_id"}}` and the 422 list detail `{"detail": [items]}`. Its hook points
  (`HOOKS`) are where faults change an error's shape.
* `pydantic_errors`: one jsonschema ValidationError as pydantic-v2-style 422 items
  (`{"type", "loc", "msg", "input", "ctx"?}`), and `item` to build one by hand.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

#: The error builder's hook points (README "Faults").
HOOKS = ("not_found",)   # (message) -> ApiError: the 404 of an unknown batch


class ApiError(Exception):
    """An error response: `body` is the JSON document to send."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class ErrorBuilder:
    """Builds the two error shapes: the object detail and the 422 list detail."""

    def object(self, status: int, type_: str, code: str, message: str,
               state: str | None = None) -> ApiError:
        return ApiError(status, {"detail": {
            "type": type_, "code": code, "message": message, "status": state or code,
            "request_id": uuid.uuid4().hex}})

    def validation(self, errors: list[dict]) -> ApiError:
        return ApiError(422, {"detail": errors})

    def not_found(self, message: str) -> ApiError:   # hook point
        return self.object(404, "not_found", "batch_call_not_found", message)

    def conflict(self, code: str, message: str) -> ApiError:
        return self.object(409, "conflict", code, message)


    def invalid(self, loc: list, message: str, input_: Any) -> ApiError:
        """A 422 with one `value_error` item (rules beyond the schema)."""
        return self.validation([item("value_error", loc, f"Value error, {message}", input_,
                                     {"error": message})])


def _num(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _expected(values) -> str:
    quoted = [repr(v) if isinstance(v, str) else json.dumps(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


_TYPE_ERRORS = {
    "string": ("string_type", "Input should be a valid string"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "number": ("float_type", "Input should be a valid number"),
    "array": ("list_type", "Input should be a valid list"),
    "null": ("none_required", "Input should be None"),
}


def item(type_: str, loc: list, msg: str, input_: Any, ctx: dict | None = None) -> dict:
    item = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx is not None:
        item["ctx"] = ctx
    return item


def pydantic_errors(error, prefix: list) -> list[dict]:
    """One jsonschema ValidationError as FastAPI (pydantic v2) error items."""
    keyword = error.validator
    loc = prefix + list(error.absolute_path)
    inst = error.instance
    value = error.validator_value
    if keyword in ("anyOf", "oneOf"):
        branches: dict[int, list] = {}
        for sub in error.context or ():
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        useful = [subs for index, subs in sorted(branches.items())
                  if value[index] != {"type": "null"}]
        if len(useful) == 1:
            return [item for sub in useful[0] for item in pydantic_errors(sub, prefix)]
        # Several candidate types: report each branch, like pydantic's union errors.
        return [item for subs in useful for sub in subs for item in pydantic_errors(sub, prefix)]
    if keyword == "required":
        return [item("missing", loc + [name], "Field required", inst)
                for name in value if isinstance(inst, dict) and name not in inst]
    if keyword == "type":
        expected = value if isinstance(value, list) else [value]
        expected = [t for t in expected if t != "null"] or expected
        first = expected[0]
        if first == "integer":
            if isinstance(inst, float) and not isinstance(inst, bool):
                return [item("int_from_float", loc, "Input should be a valid integer, got a "
                              "number with a fractional part", inst)]
            if isinstance(inst, str):
                return [item("int_parsing", loc, "Input should be a valid integer, unable to "
                              "parse string as an integer", inst)]
            return [item("int_type", loc, "Input should be a valid integer", inst)]
        if first == "object":
            if "properties" in error.schema:
                return [item("model_attributes_type", loc, "Input should be a valid "
                              "dictionary or object to extract fields from", inst)]
            return [item("dict_type", loc, "Input should be a valid dictionary", inst)]
        type_, msg = _TYPE_ERRORS.get(first, ("value_error", error.message))
        return [item(type_, loc, msg, inst)]
    if keyword == "minimum":
        return [item("greater_than_equal", loc, f"Input should be greater than or equal to "
                      f"{_num(value)}", inst, {"ge": _num(value)})]
    if keyword == "maximum":
        return [item("less_than_equal", loc, f"Input should be less than or equal to "
                      f"{_num(value)}", inst, {"le": _num(value)})]
    if keyword == "exclusiveMinimum":
        return [item("greater_than", loc, f"Input should be greater than {_num(value)}", inst,
                      {"gt": _num(value)})]
    if keyword == "exclusiveMaximum":
        return [item("less_than", loc, f"Input should be less than {_num(value)}", inst,
                      {"lt": _num(value)})]
    if keyword == "maxItems":
        return [item("too_long", loc, f"List should have at most {value} item"
                      f"{'s' if value != 1 else ''} after validation, not {len(inst)}", inst,
                      {"field_type": "List", "max_length": value, "actual_length": len(inst)})]
    if keyword == "minItems":
        return [item("too_short", loc, f"List should have at least {value} item"
                      f"{'s' if value != 1 else ''} after validation, not {len(inst)}", inst,
                      {"field_type": "List", "min_length": value, "actual_length": len(inst)})]
    if keyword == "maxLength":
        return [item("string_too_long", loc, f"String should have at most {value} "
                      f"character{'s' if value != 1 else ''}", inst, {"max_length": value})]
    if keyword == "minLength":
        return [item("string_too_short", loc, f"String should have at least {value} "
                      f"character{'s' if value != 1 else ''}", inst, {"min_length": value})]
    if keyword == "pattern":
        return [item("string_pattern_mismatch", loc, f"String should match pattern '{value}'",
                      inst, {"pattern": value})]
    if keyword == "enum":
        one_of = _expected(value)
        return [item("enum", loc, f"Input should be {one_of}", inst, {"expected": one_of})]
    if keyword == "const":
        one_of = _expected([value])
        return [item("literal_error", loc, f"Input should be {one_of}", inst,
                      {"expected": one_of})]
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(inst, dict):
        allowed = set(error.schema.get("properties", {}))
        return [item("extra_forbidden", loc + [k], "Extra inputs are not permitted", v)
                for k, v in inst.items() if k not in allowed]
    return [item("value_error", loc, f"Value error, {error.message}", inst,
                  {"error": error.message})]


def dedupe(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for item in items:
        key = (item["type"], json.dumps(item["loc"]))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


