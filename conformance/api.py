"""The API's one vocabulary, built from the spec: operations, lifecycle sets, fictional data.

Every router, guard, report and test asks this module instead of writing its own table:

* `Api`: the operation table of one dialect: one `Operation` per operationId (method, path
  template, mutating or not, documented statuses) with `match(method, path)` and `url()`,
  plus the path builders tests use, under `paths` (`api.paths.get(batch_id)`,
  `api.paths.submit()`, ...): each returns a path, so a call site reads what it sends.
* `Lifecycle`: batch and recipient statuses read from the spec's enums, and the sets the
  suite reasons with (terminal, in flight, finished), checked to cover every enum value so
  that a value the vendor adds cannot go unclassified.
* Fictional data shared by the mock, the guard and the tests: the phone-number range and
  its one generator, and how far ahead a batch that must not start is scheduled.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

from conformance.spec import load_spec

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# ------------------------------------------------------------------------------ operations


def short_name(operation_id: str) -> str:
    """`submitBatchCall` -> `submit`, `listBatchCalls` -> `list`: the verb tests speak."""
    return re.sub(r"BatchCalls?$", "", operation_id)


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, in one dialect."""

    id: str              # operationId
    name: str            # short verb: submit, list, get, cancel, retry, delete, export
    method: str          # upper case
    template: str        # path template, e.g. /v1/convai/batch-calling/{batch_id}/cancel
    statuses: tuple[str, ...]  # documented response status codes, as the spec spells them

    @property
    def mutating(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{([^}]+)\}", self.template))

    @property
    def literal_segments(self) -> int:
        return sum(1 for s in self.template.split("/") if s and not s.startswith("{"))

    def _regex(self) -> re.Pattern[str]:
        return _template_regex(self.template)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when `method path` is this operation, else None."""
        if method.upper() != self.method:
            return None
        found = self._regex().match(path)
        return found.groupdict() if found else None

    def url(self, **params: str) -> str:
        """The concrete path; parameter values are percent-encoded as one segment."""
        missing = set(self.params) - set(params)
        if missing:
            raise TypeError(f"{self.id} needs {', '.join(sorted(missing))}")
        path = self.template
        for name in self.params:
            path = path.replace("{" + name + "}", quote(str(params[name]), safe=""))
        return path


def _export_columns(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Export's CSV columns as the spec states them (x-conformance-csv-columns, inferred):
    (column, the get recipient field it carries)."""
    for item in spec.get("paths", {}).values():
        op = item.get("get") if isinstance(item, dict) else None
        if isinstance(op, dict) and op.get("operationId") == "exportBatchCall":
            media = op.get("responses", {}).get("200", {}).get("content", {}).get("text/csv", {})
            return tuple((c["name"], c["recipient_field"])
                         for c in media.get("x-conformance-csv-columns", ()))
    return ()


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(
        f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


class Paths:
    """The concrete paths of one operation table, named by the operation they reach:
    `client.post(api.paths.cancel(batch["id"]))`. Each returns a path, never a response."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def submit(self) -> str:
        return self._api.url("submit")

    def list(self) -> str:
        return self._api.url("list")

    def get(self, batch_id: str) -> str:
        return self._api.url("get", batch_id=batch_id)

    def delete(self, batch_id: str) -> str:
        return self._api.url("delete", batch_id=batch_id)

    def cancel(self, batch_id: str) -> str:
        return self._api.url("cancel", batch_id=batch_id)

    def retry(self, batch_id: str) -> str:
        return self._api.url("retry", batch_id=batch_id)

    def export(self, batch_id: str) -> str:
        return self._api.url("export", batch_id=batch_id)


class Api:
    """The operation table of one dialect of the spec, and the paths tests use."""

    def __init__(self, spec: dict[str, Any], auth_header: str | None = None) -> None:
        ops = []
        for template, item in spec["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict) and "operationId" in op:
                    ops.append(Operation(op["operationId"], short_name(op["operationId"]),
                                         method.upper(), template,
                                         tuple(str(s) for s in op.get("responses", {}))))
        # Literal segments win over templated ones (`/workspace` before `/{batch_id}`).
        self.operations: tuple[Operation, ...] = tuple(
            sorted(ops, key=lambda o: (o.template.count("{"), -o.literal_segments)))
        self.by_id = {o.id: o for o in self.operations}
        self.by_name = {o.name: o for o in self.operations}
        self.ids = tuple(o.id for o in ops)  # in the spec's order
        self.base_path = _common_prefix([o.template for o in self.operations])
        scheme = spec.get("components", {}).get("securitySchemes", {}).get("ApiKeyAuth", {})
        self.auth_header = auth_header or scheme.get("name", "xi-api-key")
        self.lifecycle = Lifecycle.from_spec(spec)
        self.export_columns = _export_columns(spec)
        self._rebased: dict[str, Api] = {}
        #: The path builders tests use: `api.paths.get(batch_id)` (a path, not a request).
        self.paths = Paths(self)

    def __repr__(self) -> str:
        return f"Api({self.base_path!r}, {len(self.operations)} operations)"

    def rebased(self, base_path: str) -> Api:
        """The same table with its paths under `base_path` (cached)."""
        base_path = "/" + base_path.strip("/")
        if base_path == self.base_path:
            return self
        found = self._rebased.get(base_path)
        if found is None:
            found = copy.copy(self)
            found.operations = tuple(
                dataclasses.replace(o, template=base_path + o.template[len(self.base_path):])
                for o in self.operations)
            found.by_id = {o.id: o for o in found.operations}
            found.by_name = {o.name: o for o in found.operations}
            found.base_path = base_path
            found._rebased = {}
            found.paths = Paths(found)
            self._rebased[base_path] = found
        return found

    def operation(self, key: str) -> Operation:
        """By operationId or short name."""
        found = self.by_id.get(key) or self.by_name.get(key)
        if found is None:
            raise KeyError(f"no operation {key!r} (known: {', '.join(self.by_name)})")
        return found

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """(operation, path params) for a concrete request, or None. The path picks the
        template first, as a router does: `GET .../submit` is no operation (a 405), not a
        get of a batch named "submit"."""
        method = method.upper()
        return next(((op, params) for op, params in self.route(path) if op.method == method),
                    None)

    def route(self, path: str) -> list[tuple[Operation, dict[str, str]]]:
        """Every operation whose template matches `path`, whatever the method, most specific
        template first (for a 405, or a guard deciding what a path would do)."""
        found = []
        for op in self.operations:
            hit = op._regex().match(path)
            if hit:
                found.append((op, hit.groupdict()))
        if found:
            best = found[0][0].template
            found = [f for f in found if f[0].template == best]
        return found

    def url(self, key: str, **params: str) -> str:
        return self.operation(key).url(**params)

    @property
    def mutating_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.operations if o.mutating)

    def request_args(self, name: str, batch_id: str | None = None) -> tuple[str, str]:
        """(method, path) of the operation `name` for `batch_id`."""
        op = self.operation(name)
        if not op.params:
            return op.method, op.url()
        if batch_id is None:
            raise ValueError(f"{name} needs a batch id")
        return op.method, op.url(batch_id=batch_id)


def _common_prefix(templates: list[str]) -> str:
    if not templates:
        return ""
    split = [t.strip("/").split("/") for t in templates]
    prefix = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1 or parts[0].startswith("{"):
            break
        prefix.append(parts[0])
    return "/" + "/".join(prefix)


_apis: dict[int, Api] = {}


def api_of(spec: dict[str, Any]) -> Api:
    """The operation table of `spec` (built once per spec object): the one way to get one."""
    found = _apis.get(id(spec))
    if found is None:
        found = _apis[id(spec)] = Api(spec)
    return found


def api_for(dialect: str = "elevenlabs") -> Api:
    """The operation table of a dialect of the bundled spec: `api_of(load_spec(dialect))`."""
    return api_of(load_spec(dialect))


def find_operation_by_id(spec: dict[str, Any], operation_id: str
                         ) -> tuple[str, str, dict[str, Any]]:
    """(method, path template, operation object) of `operation_id` in `spec`."""
    op = api_of(spec).operation(operation_id)
    return op.method.lower(), op.template, spec["paths"][op.template][op.method.lower()]


# ------------------------------------------------------------------------------- lifecycle

BATCH_STATUS_SCHEMA = "BatchCallStatus"
RECIPIENT_STATUS_SCHEMA = "BatchCallRecipientStatus"
PROVIDER_SCHEMA = "TelephonyProvider"

#: How the suite reads each status (the vendor documents the values, not their meaning;
#: openapi/README.md grades these readings). Every enum value must fall in exactly one
#: group, so a value the vendor adds fails loudly here instead of passing unclassified.
_BATCH_GROUPS = {"active": ("pending", "in_progress"),
                 "terminal": ("completed", "failed", "cancelled")}
_RECIPIENT_GROUPS = {"waiting": ("pending",),
                     "in_flight": ("dispatched", "initiated", "in_progress"),
                     "finished": ("completed", "failed", "voicemail"),
                     "cancelled": ("cancelled",)}


class LifecycleError(ValueError):
    """The spec's status enums and the suite's reading of them disagree."""


@dataclass(frozen=True)
class Lifecycle:
    batch_statuses: tuple[str, ...]
    recipient_statuses: tuple[str, ...]
    providers: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Lifecycle:
        schemas = spec["components"]["schemas"]
        out = cls(tuple(schemas[BATCH_STATUS_SCHEMA]["enum"]),
                  tuple(schemas[RECIPIENT_STATUS_SCHEMA]["enum"]),
                  tuple(schemas.get(PROVIDER_SCHEMA, {}).get("enum", ())))
        for values, groups, what in ((out.batch_statuses, _BATCH_GROUPS, "batch"),
                                     (out.recipient_statuses, _RECIPIENT_GROUPS, "recipient")):
            known = [v for g in groups.values() for v in g]
            unread = set(values) - set(known)
            if unread:
                raise LifecycleError(f"{what} status(es) {sorted(unread)} in the spec have no "
                                     "meaning in conformance/api.py")
        return out

    def _group(self, groups: dict[str, Any], name: str, values: tuple[str, ...]) -> frozenset[str]:
        return frozenset(v for v in groups[name] if v in values)

    @property
    def batch_active(self) -> frozenset[str]:
        return self._group(_BATCH_GROUPS, "active", self.batch_statuses)

    @property
    def batch_terminal(self) -> frozenset[str]:
        return self._group(_BATCH_GROUPS, "terminal", self.batch_statuses)

    @property
    def batch_finished(self) -> frozenset[str]:
        """Ended by running out of calls (not by cancel): what retry starts from."""
        return self.batch_terminal - {"cancelled"}

    @property
    def recipient_in_flight(self) -> frozenset[str]:
        return self._group(_RECIPIENT_GROUPS, "in_flight", self.recipient_statuses)

    @property
    def recipient_active(self) -> frozenset[str]:
        return self.recipient_in_flight | self._group(_RECIPIENT_GROUPS, "waiting",
                                                      self.recipient_statuses)

    @property
    def recipient_finished(self) -> frozenset[str]:
        return self._group(_RECIPIENT_GROUPS, "finished", self.recipient_statuses)

    @property
    def recipient_terminal(self) -> frozenset[str]:
        return self.recipient_finished | self._group(_RECIPIENT_GROUPS, "cancelled",
                                                     self.recipient_statuses)

    @property
    def recipient_dialled(self) -> frozenset[str]:
        return self.recipient_in_flight | self.recipient_finished


@cache
def lifecycle() -> Lifecycle:
    """The bundled spec's lifecycle (every dialect shares its enums)."""
    return api_for("elevenlabs").lifecycle


# --------------------------------------------------------------------------- fictional data

#: A batch that must not start is scheduled this far ahead (the live guard wants 30 days).
MIN_SCHEDULE_AHEAD_S = 30 * 24 * 3600
FAR_FUTURE_S = 40 * 24 * 3600
