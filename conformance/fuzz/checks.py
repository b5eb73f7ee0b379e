"""The suite's domain checks for Schemathesis, all from `conformance.invariants` (the module
the scenarios use too):

* `batch_invariants`: every 2xx body: counters (0 <= finished <= dispatched <= scheduled,
  scheduled == recipients), created <= updated, status sets, `name` echoes `call_name`, the
  id is the one in the path, cancel returns `cancelled`;
* `batch_settles`: after a 2xx submit/cancel/retry, a GET of the same batch passes the
  single-batch checks and is not behind the answer;
* `list_agrees_with_get`: after a 2xx list, each listed batch (the first few) agrees with a
  GET of it;
* `ObservationsMonotonic` (class: state across the run): within one scenario, no
  observation of a batch is behind the previous one;
* `EnsureReachability` (class: the canary): an operation that was called but never answered
  2xx fails the run (`after_run`), so `st run` gets the canary the pytest harness has.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import schemathesis

from conformance.api import api_for
from conformance.fuzz import _compat
from conformance.invariants import (
    InvariantViolation,
    check_batch,
    check_list_item_agrees,
    check_monotonic,
    check_response,
)

LIST_FOLLOW_UPS = 3


def operation_id(case) -> str | None:
    return case.operation.definition.raw.get("operationId")


def base_path_of(case) -> str:
    """The dialect's base path: the case's template less the operation's own suffix."""
    reference = api_for("elevenlabs")
    op = reference.by_id.get(operation_id(case) or "")
    if op is None:
        return case.operation.path.rsplit("/", 1)[0]
    suffix = op.template[len(reference.base_path):]
    return case.operation.path[: len(case.operation.path) - len(suffix)]


def _content_type(response) -> str:
    value = response.headers.get("content-type") or response.headers.get("Content-Type")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def body_of(response) -> Any:
    if "json" not in _content_type(response):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _sent_body(case) -> Any:
    body = case.body
    return body if isinstance(body, (dict, list)) else None


# -------------------------------------------------------------------- follow-up requests


def follow_up(ctx, case, op_id: str, batch_id: str | None, *, query: dict | None = None):
    """Send a GET-like request of operation `op_id` for `batch_id` (None: an operation
    without one, e.g. list with `query`) with the case's transport (same app / session /
    base URL, same credentials). Returns the Schemathesis Response."""
    schema = case.operation.schema
    operation = schema.find_operation_by_id(op_id)
    headers = {}
    for source in (_compat.auth_headers(ctx), case.headers or {}):
        for name, value in source.items():
            if name.lower() in ("xi-api-key", "x-api-key", "authorization"):
                headers[name] = value
    follow = operation.Case(path_parameters={} if batch_id is None else {"batch_id": batch_id},
                            headers=headers, **({"query": dict(query)} if query else {}))
    kwargs = _compat.transport_kwargs(ctx)
    if case.operation.app is not None:
        kwargs.setdefault("app", case.operation.app)

    def send():
        if "app" in kwargs:
            from schemathesis import transport  # lazy: schemathesis, only when fuzzing

            return transport.get(kwargs["app"]).send(follow, **kwargs)
        return schema.transport.send(follow, **kwargs)

    return _compat.record_follow_up(ctx, case, follow, send)


# -------------------------------------------------------------------------------- checks


@schemathesis.check
def batch_invariants(ctx, response, case) -> bool | None:
    """Counters, timestamps, status sets, echo of the submit body, id of the path."""
    if not 200 <= response.status_code < 300:
        return True
    body = body_of(response)
    if body is None:
        return True
    check_response(case.method, case.formatted_path, response.status_code, _sent_body(case),
                   body, base_path_of(case))
    return None


@schemathesis.check
def batch_settles(ctx, response, case) -> bool | None:
    """After a 2xx submit, cancel or retry, a GET of the batch agrees with the answer."""
    op = operation_id(case)
    if op not in ("submitBatchCall", "cancelBatchCall", "retryBatchCall"):
        return True
    if not 200 <= response.status_code < 300:
        return True
    answer = body_of(response)
    if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str):
        return True
    follow = follow_up(ctx, case, "getBatchCall", answer["id"])
    if follow.status_code != 200:
        raise InvariantViolation(
            "monotonic.same_id",
            f"{op} answered {response.status_code} for batch {answer['id']!r} but a GET of it "
            f"answered {follow.status_code}")
    detailed = body_of(follow)
    if not isinstance(detailed, Mapping):
        return None
    check_batch(detailed, previous={k: v for k, v in answer.items() if k != "recipients"})
    if op == "cancelBatchCall" and detailed.get("status") != "cancelled":
        raise InvariantViolation("cancel.status_cancelled",
                                 f"GET after cancel shows status {detailed.get('status')!r}")
    return None


@schemathesis.check
def list_agrees_with_get(ctx, response, case) -> bool | None:
    """Each listed batch (the first few) agrees with a GET of it."""
    if operation_id(case) != "listBatchCalls" or response.status_code != 200:
        return True
    page = body_of(response)
    items = page.get("batch_calls") if isinstance(page, Mapping) else None
    if not isinstance(items, list):
        return True
    for item in items[:LIST_FOLLOW_UPS]:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        follow = follow_up(ctx, case, "getBatchCall", item["id"])
        if follow.status_code == 404:
            listed = _listed_again(ctx, case, item["id"])
            if listed is False:
                continue   # deleted between the list and the get (by another test or client)
            raise InvariantViolation(
                "list.agrees_with_get",
                f"batch {item['id']!r} is listed but a GET of it answered 404 (listed again: "
                f"{listed})")
        if follow.status_code != 200:
            raise InvariantViolation(
                "list.agrees_with_get",
                f"batch {item['id']!r} is listed but a GET of it answered {follow.status_code}")
        detailed = body_of(follow)
        if isinstance(detailed, Mapping):
            check_list_item_agrees(item, detailed, detailed_is_later=True)
    return None


def _listed_again(ctx, case, batch_id: str) -> bool | str:
    """A batch listed, then 404 on get: was it deleted in between? Listed again with the same
    query, it is gone (a live workspace is shared: other tests and clients delete batches);
    a server that lists a batch it cannot find still lists it. True / False, or why the
    second list says nothing."""
    again = follow_up(ctx, case, "listBatchCalls", None, query=case.query or None)
    if again.status_code != 200:
        return f"status {again.status_code}"
    try:
        page = json.loads(again.content or b"null")
    except ValueError:
        page = None
    items = page.get("batch_calls") if isinstance(page, Mapping) else None
    if not isinstance(items, list):
        return f"no batch_calls in {again.content[:120]!r}"
    return any(isinstance(i, Mapping) and i.get("id") == batch_id for i in items)


def scope_of(ctx, case) -> Any:
    """A scenario's identity: the in-process app (a fresh one per case or scenario), else
    the base URL (live: ids are unique there)."""
    kwargs = _compat.transport_kwargs(ctx)
    app = kwargs.get("app") or case.operation.app
    app = getattr(app, "current", app)  # an AppSwitch forwards to its current app
    if app is not None:
        return app
    return str(kwargs.get("base_url") or case.operation.base_url or "")


@schemathesis.check
class ObservationsMonotonic:
    """Within a scenario, no observation of a batch is behind the previous one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_app: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._by_url: dict[tuple[str, str], dict] = {}

    def _see(self, scope: Any, batch: Mapping) -> Mapping | None:
        snapshot = {k: v for k, v in batch.items() if k != "recipients"}
        with self._lock:
            if isinstance(scope, str):
                table, key = self._by_url, (scope, batch["id"])
            else:
                table, key = self._by_app.setdefault(scope, {}), batch["id"]
            previous = table.get(key)
            table[key] = snapshot
        return previous

    def after_response(self, ctx, response, case) -> None:
        if not 200 <= response.status_code < 300:
            return
        body = body_of(response)
        if operation_id(case) == "listBatchCalls":
            batches = body.get("batch_calls") if isinstance(body, Mapping) else None
        else:
            batches = [body]
        if not isinstance(batches, list):
            return
        scope = scope_of(ctx, case)
        for batch in batches:
            if isinstance(batch, Mapping) and isinstance(batch.get("id"), str):
                previous = self._see(scope, batch)
                if previous is not None:
                    check_monotonic(previous,
                                    {k: v for k, v in batch.items() if k != "recipients"})


@schemathesis.check
class EnsureReachability:
    """The canary: an operation that was called but never answered 2xx fails the run (a
    wrong key makes every answer 401, a broken route every answer 404)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: dict[str, set[int]] = {}

    def after_response(self, ctx, response, case) -> None:
        with self._lock:  # sets: re-invoking during shrinking or replay changes nothing
            self.statuses.setdefault(case.operation.label, set()).add(response.status_code)

    def after_run(self, ctx) -> None:
        never = {label: sorted(seen) for label, seen in self.statuses.items()
                 if not any(200 <= s < 300 for s in seen)}
        if never:
            raise AssertionError(
                "canary: never answered 2xx: " + "; ".join(
                    f"{label} (saw {', '.join(map(str, seen))})"
                    for label, seen in sorted(never.items()))
                + " — a run that never reaches an operation's success path proves nothing "
                "about it (wrong key? wrong base URL? every request rejected?)")


DOMAIN_CHECKS = (batch_invariants, batch_settles, list_agrees_with_get)
