"""The mock as a Starlette app: every batch-calling operation, in any vendor dialect.

Requests are validated against the bundled spec (conformance.spec), in the dialect of the
profile, and refused the way FastAPI refuses them (422 with pydantic-v2-style details).
Responses are shaped from the store and carry exactly the properties the dialect's
response schemas list.

The app is built from replaceable parts (`AppParts`): the store, the authenticator, the
request validator, the shaper, the status-code table and the error builder. Faults
(conformance/mock/faults.py) patch those parts; the handlers never test for a fault.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.mock.clock import Clock, ManualClock
from conformance.mock.outcomes import DEFAULT_OUTCOMES
from conformance.mock.store import (
    DEFAULT_CONCURRENCY,
    Batch,
    InvalidCursor,
    InvalidState,
    NotFound,
    Page,
    Recipient,
    Store,
)
from conformance.profiles import Profile, load_profile
from conformance.spec import find_operation_by_id, load_spec, schema_validator

#: Accepted API keys unless `keys=` says otherwise; each key is its own workspace.
DEFAULT_KEYS = ("mock-key-local", "mock-key-other")
#: Largest request body accepted (16 MiB; 10,000 recipients with client data fit easily).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Largest page `limit` the list operation serves; larger values are clamped.
MAX_PAGE_LIMIT = 100
ADMIN_PREFIX = "/_mock"

OPERATIONS = ("submitBatchCall", "listBatchCalls", "getBatchCall", "cancelBatchCall",
              "retryBatchCall", "deleteBatchCall", "exportBatchCall")
EXPORT_COLUMNS = ("recipient_id", "phone_number", "whatsapp_user_id", "status",
                  "conversation_id", "created_at_unix", "updated_at_unix")


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------
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

    def not_found(self, message: str) -> ApiError:
        return self.object(404, "not_found", "batch_call_not_found", message)

    def conflict(self, code: str, message: str) -> ApiError:
        return self.object(409, "conflict", code, message)


# ---------------------------------------------------------------------------------------
# Auth: API key -> workspace
# ---------------------------------------------------------------------------------------
def workspace_of(key: str) -> str:
    return "ws_" + hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


class Auth:
    def __init__(self, header: str, keys: Mapping[str, str], errors: ErrorBuilder) -> None:
        self.header = header
        self.keys = dict(keys)
        self.errors = errors
        self.default_workspace = next(iter(self.keys.values()), None)

    def resolve(self, key: str | None) -> str:
        """The workspace of `key`; ApiError 401 when missing or unknown."""
        if not key:
            raise self.errors.object(
                401, "authentication_error", "needs_authorization",
                f"Missing API key: send it in the {self.header} header.")
        workspace = self.keys.get(key)
        if workspace is None:
            raise self.errors.object(401, "authentication_error", "invalid_api_key",
                                     "Invalid API key.")
        return workspace


# ---------------------------------------------------------------------------------------
# Request validation: jsonschema errors from the bundled spec -> FastAPI/pydantic errors
# ---------------------------------------------------------------------------------------
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


def _item(type_: str, loc: list, msg: str, input_: Any, ctx: dict | None = None) -> dict:
    item = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx is not None:
        item["ctx"] = ctx
    return item


def pydantic_errors(error, prefix: list) -> list[dict]:
    """One jsonschema ValidationError as FastAPI (pydantic v2) error items."""
    kind = error.validator
    loc = prefix + list(error.absolute_path)
    inst = error.instance
    value = error.validator_value
    if kind in ("anyOf", "oneOf"):
        branches: dict[int, list] = {}
        for sub in error.context or ():
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        useful = [subs for index, subs in sorted(branches.items())
                  if value[index] != {"type": "null"}]
        if len(useful) == 1:
            return [item for sub in useful[0] for item in pydantic_errors(sub, prefix)]
        # Several candidate types: report each branch, like pydantic's union errors.
        return [item for subs in useful for sub in subs for item in pydantic_errors(sub, prefix)]
    if kind == "required":
        return [_item("missing", loc + [name], "Field required", inst)
                for name in value if isinstance(inst, dict) and name not in inst]
    if kind == "type":
        expected = value if isinstance(value, list) else [value]
        expected = [t for t in expected if t != "null"] or expected
        first = expected[0]
        if first == "integer":
            if isinstance(inst, float) and not isinstance(inst, bool):
                return [_item("int_from_float", loc, "Input should be a valid integer, got a "
                              "number with a fractional part", inst)]
            if isinstance(inst, str):
                return [_item("int_parsing", loc, "Input should be a valid integer, unable to "
                              "parse string as an integer", inst)]
            return [_item("int_type", loc, "Input should be a valid integer", inst)]
        if first == "object":
            if "properties" in error.schema:
                return [_item("model_attributes_type", loc, "Input should be a valid "
                              "dictionary or object to extract fields from", inst)]
            return [_item("dict_type", loc, "Input should be a valid dictionary", inst)]
        type_, msg = _TYPE_ERRORS.get(first, ("value_error", error.message))
        return [_item(type_, loc, msg, inst)]
    if kind == "minimum":
        return [_item("greater_than_equal", loc, f"Input should be greater than or equal to "
                      f"{_num(value)}", inst, {"ge": _num(value)})]
    if kind == "maximum":
        return [_item("less_than_equal", loc, f"Input should be less than or equal to "
                      f"{_num(value)}", inst, {"le": _num(value)})]
    if kind == "exclusiveMinimum":
        return [_item("greater_than", loc, f"Input should be greater than {_num(value)}", inst,
                      {"gt": _num(value)})]
    if kind == "exclusiveMaximum":
        return [_item("less_than", loc, f"Input should be less than {_num(value)}", inst,
                      {"lt": _num(value)})]
    if kind == "maxItems":
        return [_item("too_long", loc, f"List should have at most {value} item"
                      f"{'s' if value != 1 else ''} after validation, not {len(inst)}", inst,
                      {"field_type": "List", "max_length": value, "actual_length": len(inst)})]
    if kind == "minItems":
        return [_item("too_short", loc, f"List should have at least {value} item"
                      f"{'s' if value != 1 else ''} after validation, not {len(inst)}", inst,
                      {"field_type": "List", "min_length": value, "actual_length": len(inst)})]
    if kind == "maxLength":
        return [_item("string_too_long", loc, f"String should have at most {value} "
                      f"character{'s' if value != 1 else ''}", inst, {"max_length": value})]
    if kind == "minLength":
        return [_item("string_too_short", loc, f"String should have at least {value} "
                      f"character{'s' if value != 1 else ''}", inst, {"min_length": value})]
    if kind == "pattern":
        return [_item("string_pattern_mismatch", loc, f"String should match pattern '{value}'",
                      inst, {"pattern": value})]
    if kind == "enum":
        expected = _expected(value)
        return [_item("enum", loc, f"Input should be {expected}", inst, {"expected": expected})]
    if kind == "const":
        expected = _expected([value])
        return [_item("literal_error", loc, f"Input should be {expected}", inst,
                      {"expected": expected})]
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(inst, dict):
        allowed = set(error.schema.get("properties", {}))
        return [_item("extra_forbidden", loc + [k], "Extra inputs are not permitted", v)
                for k, v in inst.items() if k not in allowed]
    return [_item("value_error", loc, f"Value error, {error.message}", inst,
                  {"error": error.message})]


def _dedupe(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for item in items:
        key = (item["type"], json.dumps(item["loc"]))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


_INT = re.compile(r"^\s*[+-]?\d+\s*$")


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


class RequestValidator:
    """Validates query strings and JSON bodies against the spec of one dialect."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.ops: dict[str, OperationInfo] = {}
        for op_id in OPERATIONS:
            method, template, op = find_operation_by_id(spec, op_id)
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
                    errors.append(_item("missing", ["query", name], "Field required", None))
                continue
            raw = params[name]
            types = _schema_types(schema)
            value: Any = raw
            if "integer" in types:
                if not _INT.match(raw):
                    errors.append(_item("int_parsing", ["query", name], "Input should be a "
                                        "valid integer, unable to parse string as an integer",
                                        raw))
                    continue
                value = int(raw)
            for err in info.query_validators[name].iter_errors(value):
                errors.extend(pydantic_errors(err, ["query", name]))
            values[name] = value
        return values, _dedupe(errors)

    def body(self, op_id: str, document: Any) -> list[dict]:
        """422 items for a parsed JSON body (the spec's schema, then the domain rules)."""
        info = self.ops[op_id]
        schema = info.body_schema
        if schema is None:
            return []
        errors = []
        for err in info.body_validator.iter_errors(document):
            errors.extend(pydantic_errors(err, ["body"]))
        if not errors:
            errors.extend(self.domain(op_id, document))
        return _dedupe(self._in_field_order(schema, errors))

    def _in_field_order(self, schema: dict, errors: list[dict]) -> list[dict]:
        """Pydantic reports fields in declaration order; jsonschema by keyword."""
        ref = schema.get("$ref", "")
        target = schema
        if ref.startswith("#/components/schemas/"):
            target = self.spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        order = {name: i for i, name in enumerate(target.get("properties", {}))}

        def key(item):
            loc = item["loc"]
            return order.get(loc[1], len(order)) if len(loc) > 1 else -1
        return sorted(errors, key=key)

    def domain(self, op_id: str, document: Any) -> list[dict]:
        """Rules the schema cannot say (written down in README.md)."""
        if op_id != "submitBatchCall":
            return []
        errors = []
        whatsapp = document.get("whatsapp_params") is not None
        needed = "whatsapp_user_id" if whatsapp else "phone_number"
        kind = "WhatsApp" if whatsapp else "phone"
        for index, recipient in enumerate(document.get("recipients") or []):
            if not recipient.get(needed):
                message = f"a recipient of a {kind} batch call needs a {needed}"
                errors.append(_item("value_error", ["body", "recipients", index],
                                    f"Value error, {message}", recipient, {"error": message}))
        return errors

    def query_domain(self, op_id: str, values: dict) -> list[dict]:
        """`limit` >= 1 for list, >= 0 for export (0 = header row only)."""
        minimum = {"listBatchCalls": 1, "exportBatchCall": 0}.get(op_id)
        limit = values.get("limit")
        if minimum is None or limit is None or limit >= minimum:
            return []
        return [_item("greater_than_equal", ["query", "limit"],
                      f"Input should be greater than or equal to {minimum}", str(limit),
                      {"ge": minimum})]


def _schema_types(schema: dict) -> set[str]:
    if "type" in schema:
        value = schema["type"]
        return set(value if isinstance(value, list) else [value])
    out: set[str] = set()
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        out |= _schema_types(sub)
    return out


# ---------------------------------------------------------------------------------------
# Response shaping: store objects -> the dialect's response documents
# ---------------------------------------------------------------------------------------
#: The order of `Shaper.full` and `Shaper.recipient`: the vendor's, property by property.
BATCH_KEYS = [
    "id", "phone_number_id", "phone_provider", "whatsapp_params", "name", "agent_id",
    "branch_id", "environment", "created_at_unix", "scheduled_time_unix", "timezone",
    "total_calls_dispatched", "total_calls_scheduled", "total_calls_finished",
    "last_updated_at_unix", "status", "retry_count", "telephony_call_config",
    "target_concurrency_limit", "agent_name", "branch_name"]
RECIPIENT_KEYS = [
    "id", "phone_number", "whatsapp_user_id", "status", "created_at_unix", "updated_at_unix",
    "conversation_id", "conversation_initiation_client_data"]


class Shaper:
    """Emits exactly the properties the dialect's response schemas list.

    `full` and `recipient` build every property the API knows, in the vendor's order; a
    dialect that lists fewer (voiceai) gets them filtered out. The filter is skipped when
    nothing would be dropped: shaping is half the cost of a get or a list (benchmarks/).
    """

    def __init__(self, spec: dict) -> None:
        schemas = spec["components"]["schemas"]
        self.batch_keys = list(schemas["BatchCallResponse"]["properties"])
        self.detailed_keys = list(schemas["BatchCallDetailedResponse"]["properties"])
        self.recipient_keys = list(schemas["OutboundCallRecipientResponseModel"]["properties"])
        self._batch_all = self.batch_keys == BATCH_KEYS
        self._detailed_all = [k for k in self.detailed_keys if k != "recipients"] \
            == self.batch_keys
        self._recipient_all = self.recipient_keys == RECIPIENT_KEYS

    def full(self, b: Batch) -> dict:
        return {
            "id": b.id, "phone_number_id": b.phone_number_id, "phone_provider": b.phone_provider,
            "whatsapp_params": b.whatsapp_params, "name": b.name, "agent_id": b.agent_id,
            "branch_id": b.branch_id, "environment": b.environment,
            "created_at_unix": b.created_at, "scheduled_time_unix": b.scheduled_time,
            "timezone": b.timezone, "total_calls_dispatched": b.dispatched,
            "total_calls_scheduled": b.scheduled, "total_calls_finished": b.finished,
            "last_updated_at_unix": b.last_updated, "status": b.status,
            "retry_count": b.retry_count, "telephony_call_config": dict(b.telephony_call_config),
            "target_concurrency_limit": b.target_concurrency_limit, "agent_name": b.agent_name,
            "branch_name": b.branch_name,
        }

    def batch(self, b: Batch) -> dict:
        full = self.full(b)
        if self._batch_all:
            return full
        return {k: full[k] for k in self.batch_keys if k in full}

    def detailed(self, b: Batch) -> dict:
        out = self.batch(b)
        if not self._detailed_all:
            out = {k: out[k] for k in self.detailed_keys if k in out}
        out["recipients"] = list(map(self.recipient, b.recipients))
        return out

    def recipient(self, r: Recipient) -> dict:
        full = {"id": r.id, "phone_number": r.phone_number, "whatsapp_user_id": r.whatsapp_user_id,
                "status": r.status, "created_at_unix": r.created_at,
                "updated_at_unix": r.updated_at, "conversation_id": r.conversation_id,
                "conversation_initiation_client_data": r.client_data}
        if self._recipient_all:
            return full
        return {k: full[k] for k in self.recipient_keys if k in full}

    def page(self, page: Page) -> dict:
        return {"batch_calls": [self.batch(b) for b in page.batches],
                "next_doc": page.next_cursor, "has_more": page.has_more}

    def csv_rows(self, b: Batch, limit: int | None) -> list[list]:
        recipients = b.recipients if limit is None else b.recipients[:limit]
        rows: list[list] = [list(EXPORT_COLUMNS)]
        for r in recipients:
            rows.append([r.id, r.phone_number, r.whatsapp_user_id, r.status, r.conversation_id,
                         r.created_at, r.updated_at])
        return rows

    def csv(self, b: Batch, limit: int | None) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in self.csv_rows(b, limit):
            writer.writerow(["" if v is None else v for v in row])
        return out.getvalue()


# ---------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------
@dataclass
class AppParts:
    """Everything a handler uses. Faults patch these (see faults.py)."""

    profile: Profile
    spec: dict
    clock: Clock
    store: Store
    auth: Auth
    validator: RequestValidator
    shaper: Shaper
    errors: ErrorBuilder
    status: dict[str, int]
    max_body_bytes: int = MAX_BODY_BYTES
    max_page_limit: int = MAX_PAGE_LIMIT
    faults: tuple[str, ...] = ()
    admin: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    encoder: Any = None   # Encoder or CachingEncoder, chosen once the faults are applied
    webhooks: Any = None  # conformance.mock.webhooks.MockWebhooks, when a URL is given


def _dumps(body: Any) -> bytes:
    """orjson encodes a 100-recipient batch ~10x faster than the standard library (the
    largest single cost of a get, benchmarks/README.md); integers beyond 64 bits, which
    orjson refuses and a request may carry, fall back to the standard library."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")


class Encoder:
    """Shaped documents to response bytes."""

    def __init__(self, shaper: Shaper) -> None:
        self.shaper = shaper

    def batch(self, b: Batch) -> bytes:
        return _dumps(self.shaper.batch(b))

    def detailed(self, b: Batch) -> bytes:
        return _dumps(self.shaper.detailed(b))

    def page(self, page: Page) -> bytes:
        return _dumps(self.shaper.page(page))


class CachingEncoder(Encoder):
    """The same bytes, kept on each batch under a stamp of its state and re-encoded only
    when the stamp moves: a list page is then a join of 100 cached fragments instead of
    100 shapings and encodings (benchmarks/README.md).

    Only on a mock with no fault: faults patch the store and the shaper in ways no stamp
    sees (a recipient's status written directly, a soft delete), and a faulted mock must
    answer exactly what its fault makes it answer. tests/self/test_fast_paths.py checks
    that both encoders give identical bytes through whole lifecycles.
    """

    @staticmethod
    def stamp(b: Batch) -> int:
        """`Batch.version`: the store bumps it in `_batch_to` and `_recipient_to`, the only
        places that write a shaped field after submit (status, counters, timestamps,
        `retry_count` and `conversation_id` all change together with a transition)."""
        return b.version

    def _cached(self, b: Batch, kind: str, make) -> bytes:
        stamp = self.stamp(b)
        hit = b.encoded.get(kind)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        data = _dumps(make(b))
        b.encoded[kind] = (stamp, data)
        return data

    def batch(self, b: Batch) -> bytes:
        return self._cached(b, "batch", self.shaper.batch)

    def detailed(self, b: Batch) -> bytes:
        return self._cached(b, "detailed", self.shaper.detailed)

    def page(self, page: Page) -> bytes:
        cached, shape = self._cached, self.shaper.batch
        items = [cached(b, "batch", shape) for b in page.batches]
        return b"".join((b'{"batch_calls":[', b",".join(items), b'],"next_doc":',
                         _dumps(page.next_cursor), b',"has_more":',
                         b"true" if page.has_more else b"false", b"}"))


def _encoded(status: int, content: bytes) -> Response:
    return Response(content, status_code=status, media_type="application/json")


def _json(status: int, body: Any) -> Response:
    return _encoded(status, _dumps(body))


class Handlers:
    def __init__(self, parts: AppParts) -> None:
        self.parts = parts

    # Plumbing --------------------------------------------------------------------------
    def _workspace(self, request: Request) -> str:
        p = self.parts
        return p.auth.resolve(request.headers.get(p.auth.header))

    def _query(self, op_id: str, request: Request) -> dict:
        p = self.parts
        values, errors = p.validator.query(op_id, request.query_params)
        if not errors:
            errors = p.validator.query_domain(op_id, values)
        if errors:
            raise p.errors.validation(errors)
        return values

    async def _body(self, op_id: str, request: Request) -> Any:
        p = self.parts
        limit = p.max_body_bytes

        def too_large() -> ApiError:
            return p.errors.object(413, "invalid_request", "payload_too_large",
                                   f"Request body is larger than {limit} bytes.")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise too_large()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large()
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            raise p.errors.validation([_item("missing", ["body"], "Field required", None)])
        content_type = request.headers.get("content-type")
        if content_type is not None:
            media = content_type.split(";")[0].strip().lower()
            if not (media == "application/json" or (media.startswith("application/")
                                                    and media.endswith("+json"))):
                raise p.errors.object(
                    415, "invalid_request", "unsupported_media_type",
                    f"Content-Type {content_type!r} is not supported; send application/json.")
        try:
            text = raw.decode("utf-8")
            document = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            item = _item("json_invalid", ["body", exc.pos], "JSON decode error", {},
                         {"error": exc.msg})
            raise p.errors.validation([item]) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise p.errors.validation([_item("json_invalid", ["body", 0], "JSON decode error",
                                             {}, {"error": str(exc)})]) from None
        errors = p.validator.body(op_id, document)
        if errors:
            raise p.errors.validation(errors)
        return document

    # Operations ------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        workspace = self._workspace(request)
        document = await self._body("submitBatchCall", request)
        p = self.parts
        with p.store.lock:
            batch = p.store.submit(workspace, document)
            body = p.encoder.batch(batch)
        return _encoded(p.status["submit"], body)

    async def list(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        values = self._query("listBatchCalls", request)
        limit = min(int(values.get("limit") or 100), p.max_page_limit)
        try:
            with p.store.lock:
                page = p.store.list(workspace, limit, values.get("last_doc"),
                                    values.get("agent_id"))
                body = p.encoder.page(page)
        except InvalidCursor as exc:
            item = _item("value_error", ["query", "last_doc"], f"Value error, {exc.message}",
                         values.get("last_doc"), {"error": exc.message})
            raise p.errors.validation([item]) from None
        return _encoded(p.status["list"], body)

    def _on_batch(self, request: Request, op: str, detailed: bool = False) -> Response:
        """get / cancel / retry: the store operation of that name on the path's batch,
        answered with the batch (with its recipients for get)."""
        workspace = self._workspace(request)
        p = self.parts
        with p.store.lock:
            batch = getattr(p.store, op)(workspace, request.path_params["batch_id"])
            body = p.encoder.detailed(batch) if detailed else p.encoder.batch(batch)
        return _encoded(p.status[op], body)

    async def get(self, request: Request) -> Response:
        return self._on_batch(request, "get", detailed=True)

    async def cancel(self, request: Request) -> Response:
        return self._on_batch(request, "cancel")

    async def retry(self, request: Request) -> Response:
        return self._on_batch(request, "retry")

    async def delete(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        p.store.delete(workspace, request.path_params["batch_id"])
        return Response(status_code=p.status["delete"])

    async def export(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        values = self._query("exportBatchCall", request)
        with p.store.lock:
            batch = p.store.get(workspace, request.path_params["batch_id"])
            text = p.shaper.csv(batch, values.get("limit"))
        return Response(text, status_code=p.status["export"], media_type="text/csv",
                        headers={"content-disposition":
                                 f'attachment; filename="{batch.id}.csv"'})

    # Admin -----------------------------------------------------------------------------
    def _clock_body(self) -> dict:
        clock = self.parts.clock
        return {"now": self.parts.store.sync(), "kind": getattr(clock, "kind", "custom")}

    async def admin_clock(self, request: Request) -> Response:
        return _json(200, self._clock_body())

    async def admin_advance(self, request: Request) -> Response:
        return await self._admin_move(request, "seconds", "advance")

    async def admin_set(self, request: Request) -> Response:
        return await self._admin_move(request, "now", "set")

    async def _admin_move(self, request: Request, key: str, method: str) -> Response:
        p = self.parts
        try:
            document = json.loads(await request.body() or b"{}")
            value = document[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _json(400, {"detail": f'send {{"{key}": <integer>}}'})
        move = getattr(p.clock, method, None)
        if move is None:
            return _json(409, {"detail": "the clock is not a manual clock (serve with "
                                         "--clock manual to drive it)"})
        try:
            with p.store.lock:
                move(value)
        except ValueError as exc:
            return _json(400, {"detail": str(exc)})
        return _json(200, self._clock_body())

    async def admin_reset(self, request: Request) -> Response:
        self.parts.store.reset()
        return _json(200, {"reset": True, **self._clock_body()})

    async def admin_faults(self, request: Request) -> Response:
        from conformance.mock.faults import FAULTS

        return _json(200, {
            "active": list(self.parts.faults),
            "available": [{"name": f.name, "category": f.category,
                           "description": f.description} for f in FAULTS.values()]})

    async def admin_state(self, request: Request) -> Response:
        """Every batch with its recipients, all workspaces (debugging aid)."""
        p = self.parts
        with p.store.lock:
            batches = [{"workspace": b.workspace, **p.shaper.full(b),
                        "recipients": [p.shaper.recipient(r) for r in b.recipients]}
                       for b in p.store.all_batches()]
        return _json(200, {"now": p.store.sync(), "batches": batches})


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _wrap(parts: AppParts, handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status, exc.body)
        except NotFound as exc:
            exc_ = parts.errors.not_found(exc.message)
            return _json(exc_.status, exc_.body)
        except InvalidState as exc:
            exc_ = parts.errors.conflict(exc.code, exc.message)
            return _json(exc_.status, exc_.body)

    endpoint.__name__ = handler.__name__
    return endpoint


class ClockDate:
    """Sends `Date` in the mock's own time, as a real server sends its own: a client that
    needs "now on the server" (live runs against a sped-up or manual clock) reads it there.
    Served with uvicorn's own Date header turned off."""

    def __init__(self, app, clock: Clock):
        self.app = app
        self.clock = clock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_date(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                stamp = formatdate(self.clock.now(), usegmt=True).encode()
                message = {**message, "headers": [*headers, (b"date", stamp)]}
            await send(message)

        await self.app(scope, receive, send_with_date)


def _by_method(**handlers):
    """One endpoint serving several methods (HEAD is served as GET)."""
    async def endpoint(request: Request) -> Response:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return await handlers[method](request)
    return endpoint


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _normalize_keys(keys: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    if keys is None:
        keys = DEFAULT_KEYS
    if isinstance(keys, str):
        keys = [keys]
    if isinstance(keys, Mapping):
        return {str(k): str(v) for k, v in keys.items()}
    return {str(k): workspace_of(str(k)) for k in keys}


DEFAULT_STATUS = {"submit": 200, "list": 200, "get": 200, "cancel": 200, "retry": 200,
                  "delete": 204, "export": 200}


def create_app(profile: str | Profile = "elevenlabs",
               keys: Iterable[str] | Mapping[str, str] | None = None,
               clock: Clock | None = None, faults: Iterable[str] = (), admin: bool = False,
               outcomes=DEFAULT_OUTCOMES, *, max_body_bytes: int = MAX_BODY_BYTES,
               default_concurrency: int = DEFAULT_CONCURRENCY, record_history: bool = False,
               seed: str = "mock", response_cache: bool = True,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               webhook_retries: bool = True, webhook_sender=None,
               webhook_background: bool = False) -> Starlette:
    """The mock as an ASGI app.

    profile: "elevenlabs" | "voiceai" | "mock" (= elevenlabs) or a Profile.
    keys: accepted API keys (each its own workspace), or {key: workspace} to let several
      keys share one workspace. Default DEFAULT_KEYS.
    clock: default a ManualClock (tests advance it; `app.state.store.advance(n)`).
    faults: names from conformance.mock.faults.FAULTS (unknown name -> ValueError).
    admin: serve the admin API under /_mock/.
    outcomes: object with `steps(phone_number, whatsapp_user_id, attempt,
      ringing_timeout_secs)`; default conformance.mock.outcomes.DEFAULT_OUTCOMES.
    response_cache: keep each batch's encoded responses until its state moves (always off
      when a fault is active; see CachingEncoder).
    webhook_url, webhook_secret: deliver a signed post-call event per finished call to this
      loopback URL (conformance/mock/webhooks.py); webhook_retries (default on),
      webhook_sender (inject the HTTP POST), webhook_background (a thread sends, served).
    """
    from conformance.mock.faults import apply_faults, resolve_faults

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    fault_list = resolve_faults(faults)
    spec = load_spec(prof.name)
    clock = clock if clock is not None else ManualClock()
    providers = tuple(spec["components"]["schemas"]["TelephonyProvider"]["enum"])
    store = Store(clock, outcomes, default_concurrency=default_concurrency, providers=providers,
                  seed=seed, record_history=record_history)
    errors = ErrorBuilder()
    key_map = _normalize_keys(keys)
    parts = AppParts(
        profile=prof, spec=spec, clock=clock, store=store,
        auth=Auth(prof.auth_header, key_map, errors), validator=RequestValidator(spec),
        shaper=Shaper(spec), errors=errors, status=dict(DEFAULT_STATUS),
        max_body_bytes=max_body_bytes, faults=tuple(f.name for f in fault_list), admin=admin,
        keys=key_map)
    from conformance.mock.webhooks import admin_endpoint, attach_webhooks

    parts.webhooks = attach_webhooks(parts, webhook_url, webhook_secret, retries=webhook_retries,
                                     sender=webhook_sender, background=webhook_background)
    apply_faults(parts, fault_list)
    parts.encoder = (CachingEncoder if response_cache and not parts.faults else Encoder)(
        parts.shaper)

    h = Handlers(parts)
    base = prof.base_path
    routes = [
        Route(f"{base}/submit", _wrap(parts, h.submit), methods=["POST"]),
        Route(f"{base}/workspace", _wrap(parts, h.list), methods=["GET"]),
        # One route for both methods, so a 405 there answers `Allow: DELETE, GET, HEAD`.
        Route(base + "/{batch_id}", _by_method(get=_wrap(parts, h.get),
                                               delete=_wrap(parts, h.delete)),
              methods=["GET", "DELETE"]),
        Route(base + "/{batch_id}/cancel", _wrap(parts, h.cancel), methods=["POST"]),
        Route(base + "/{batch_id}/retry", _wrap(parts, h.retry), methods=["POST"]),
        Route(base + "/{batch_id}/export", _wrap(parts, h.export), methods=["GET"]),
    ]
    if admin:
        routes += [
            Route(f"{ADMIN_PREFIX}/clock", h.admin_clock, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/clock/advance", h.admin_advance, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/clock/set", h.admin_set, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/reset", h.admin_reset, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/faults", h.admin_faults, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/state", h.admin_state, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/webhooks", admin_endpoint(parts), methods=["GET"]),
        ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception},
                    middleware=[Middleware(ClockDate, clock=clock)])
    app.state.parts = parts
    app.state.store = store
    app.state.clock = clock
    app.state.profile = prof
    app.state.spec = spec
    app.state.faults = parts.faults
    app.state.keys = tuple(key_map)
    return app
