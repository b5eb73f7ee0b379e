"""What the suite saw: each exchange validated against the spec as it arrives, per-test
records for the report (the operations a test exercised, its last request and response), and
coverage of operations, status codes, enum values and transitions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from conformance.api import (
    BATCH_STATUS_SCHEMA,
    PROVIDER_SCHEMA,
    RECIPIENT_STATUS_SCHEMA,
    api_of,
)
from conformance.redact import Redactor
from conformance.spec import schema_validator


def validate_response(spec: dict, method: str, path: str, status: int,
                      content_type: str | None, body: bytes) -> list[str]:
    """Every way a response breaks the spec; an empty list when it conforms."""

    found = api_of(spec).match(method, path)
    if found is None:
        return [f"{method.upper()} {path}: no such operation in the spec"]
    template = found[0].template
    op = spec["paths"][template][found[0].method.lower()]
    where = f"{op['operationId']} {status}"
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get(
        "default")
    if response is None:
        return [f"{where}: status {status} is not documented (documented: "
                f"{', '.join(sorted(responses))})"]
    content = response.get("content") or {}
    if not content:
        return [] if not body else [f"{where}: body must be empty, got {len(body)} bytes"]
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in content:
        return [f"{where}: content type {content_type!r} is not documented "
                f"({', '.join(content)})"]
    schema = content[media].get("schema")
    if media != "application/json" or schema is None:
        return []
    try:
        document = json.loads(body)
    except ValueError as exc:
        return [f"{where}: body is not JSON ({exc})"]
    errors = sorted(schema_validator(spec, schema).iter_errors(document),
                    key=lambda e: list(e.absolute_path))
    return [f"{where}: at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in errors[:20]]


class ContractViolation(AssertionError):
    """A response broke the spec."""


@dataclass
class Exchange:
    """One request and its response (status None: the request was never sent)."""

    method: str
    url: str
    request_body: str
    status: int | None
    response_body: str
    operation: str | None

    def describe(self, limit: int = 2000) -> tuple[str, str]:
        request = f"{self.method} {self.url}\n{self.request_body}"[:limit]
        response = ("(not sent)" if self.status is None
                    else f"{self.status}\n{self.response_body}")[:limit]
        return request, response


@dataclass
class Coverage:
    """What the suite exercised: operations, status codes, enum values, transitions.

    Transitions are followed within one test (`begin_test`): the mock is fresh per test and
    reuses ids, so following an id across tests would invent moves nobody made."""

    operations: dict = field(default_factory=dict)
    status_codes: dict = field(default_factory=dict)
    enums: dict = field(default_factory=dict)
    transitions: dict = field(default_factory=lambda: {"batch": {}, "recipient": {}})
    _last_batch: dict = field(default_factory=dict)
    _last_recipient: dict = field(default_factory=dict)

    def begin_test(self) -> None:
        self._last_batch.clear()
        self._last_recipient.clear()

    @staticmethod
    def _bump(table: dict, key: str) -> None:
        table[key] = table.get(key, 0) + 1

    def _enum(self, schema: str, value) -> None:
        if isinstance(value, str):
            self._bump(self.enums.setdefault(schema, {}), value)

    def _moved(self, table: dict, kind: str, key, status) -> None:
        before = table.get(key)
        if before and before != status:
            self._bump(self.transitions[kind], f"{before}->{status}")
        table[key] = status

    def _batch(self, batch: dict) -> None:
        if not isinstance(batch, dict) or "id" not in batch:
            return
        self._enum(BATCH_STATUS_SCHEMA, batch.get("status"))
        self._enum(PROVIDER_SCHEMA, batch.get("phone_provider"))
        self._moved(self._last_batch, "batch", batch["id"], batch.get("status"))
        for recipient in batch.get("recipients") or []:
            if isinstance(recipient, dict):
                self._enum(RECIPIENT_STATUS_SCHEMA, recipient.get("status"))
                self._moved(self._last_recipient, "recipient",
                            (batch["id"], recipient.get("id")), recipient.get("status"))

    def observe(self, operation: str | None, status: int, body) -> None:
        if operation is None:
            return
        self._bump(self.operations, operation)
        self._bump(self.status_codes, f"{operation} {status}")
        if not 200 <= status < 300 or not isinstance(body, dict):
            return
        if operation == "listBatchCalls":
            for item in body.get("batch_calls") or []:
                if isinstance(item, dict):
                    self._enum(BATCH_STATUS_SCHEMA, item.get("status"))
        else:
            self._batch(body)

    def as_json(self) -> str:
        return json.dumps({"operations": self.operations, "status_codes": self.status_codes,
                           "enums": self.enums, "transitions": self.transitions},
                          sort_keys=True)


class ResponseValidator:
    """An httpx response hook: validates every response against the spec, and records
    exchanges and coverage. `begin_test()` starts a test's own record, so a report never
    shows another test's request."""

    def __init__(self, spec: dict, coverage: Coverage | None = None,
                 redactor: Redactor | None = None, drift=None):
        self.spec = spec
        self.api = api_of(spec)
        self.coverage = coverage if coverage is not None else Coverage()
        self.redactor = redactor or Redactor(())
        self.drift = drift
        self.exchanges: list[Exchange] = []
        self.test_operations: set[str] = set()
        self.test_name = ""

    def begin_test(self, name: str = "") -> None:
        self.exchanges.clear()
        self.test_operations.clear()
        self.test_name = name
        self.coverage.begin_test()

    def _exchange(self, request: httpx.Request, status, body_text: str, op) -> Exchange:
        content = request.content.decode("utf-8", "replace") if request.content else ""
        exchange = Exchange(request.method, self.redactor.text(str(request.url)),
                            self.redactor.text(content), status,
                            self.redactor.text(body_text), op)
        self.exchanges.append(exchange)
        del self.exchanges[:-20]
        if op:
            self.test_operations.add(op)
        return exchange

    def operation_of(self, request: httpx.Request) -> str | None:
        found = self.api.match(request.method, request.url.path)
        return found[0].id if found else None

    def refused(self, request: httpx.Request) -> None:
        """Record a request the live guard refused (nothing was sent)."""
        self._exchange(request, None, "", self.operation_of(request))

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = request.url.path
        operation = self.operation_of(request)
        body_text = response.content.decode("utf-8", "replace")
        self._exchange(request, response.status_code, body_text, operation)
        errors = validate_response(self.spec, request.method, path, response.status_code,
                                   response.headers.get("content-type"), response.content)
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        self.coverage.observe(operation, response.status_code, parsed)
        if self.drift is not None and operation:
            self.drift.observe_response(self.spec, operation, response.status_code,
                                        response.headers, parsed, self.test_name)
        if errors:
            raise ContractViolation(
                "response breaks the spec:\n  " + "\n  ".join(errors)
                + f"\nrequest: {request.method} {self.redactor.text(str(request.url))}"
                f"\nresponse: {response.status_code} {self.redactor.text(body_text[:500])}")

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None
