"""Which invariants fit one exchange: `check_response` routes a request and its answer to the
checks of conformance/invariants/batch.py (the Schemathesis check `batch_invariants` and the
scenarios' `check_exchange` use it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from conformance.api import api_for
from conformance.invariants.batch import check_batch, check_counters, check_echo, check_timestamps
from conformance.invariants.rules import as_int, as_object, fail


def _route(method: str, path: str, base_path: str) -> tuple[str | None, str | None]:
    """(operation, batch_id) for a request under `base_path` (a full URL or a path, query
    allowed, percent-decoded), by the operation table (conformance.api)."""
    found = api_for().rebased(base_path).match(method, unquote(urlsplit(path).path))
    if found is None:
        return None, None
    return found[0].name, found[1].get("batch_id")


def _id_matches(batch: Mapping, batch_id: str | None) -> None:
    if batch_id is not None and "id" in batch and batch["id"] != batch_id:
        fail("response.id_matches_path", f"asked for batch {batch_id!r}, got {batch['id']!r}")


def check_response(
    method: str,
    path: str,
    status: int,
    request_json: Any,
    response_json: Any,
    base_path: str,
    *,
    strict: bool = False,
) -> None:
    """Apply the invariants that fit one exchange. Non-2xx responses, delete and export are
    left to the schema checks (nothing semantic to say here).

    submit → echo + counters + timestamps + status sets; get → id matches the path, counters
    (with recipients), timestamps, status sets; list → each item: no recipients, counters,
    timestamps; cancel → id matches, status == cancelled, plus the single-batch checks;
    retry → id matches, single-batch checks, and with `strict` retry_count >= 1.
    """
    if not 200 <= int(status) < 300:
        return
    op, batch_id = _route(method, path, base_path)
    if op in (None, "delete", "export"):
        return
    if op == "list":
        body = as_object(response_json, "list response")
        items = body.get("batch_calls")
        if items is None:
            return  # missing key: the schema's job
        if not isinstance(items, list):
            fail("list.shape", f"batch_calls is {type(items).__name__}, not an array")
        for i, item in enumerate(items):
            item = as_object(item, f"batch_calls[{i}]")
            if "recipients" in item:
                fail("list.no_recipients", f"batch_calls[{i}] ({item.get('id')!r}) has "
                                            f"recipients")
            check_counters(item, strict=strict)
            check_timestamps(item)
        return
    batch = as_object(response_json, f"{op} response")
    if op == "submit":
        if isinstance(request_json, Mapping):
            check_echo(request_json, batch)
        check_batch(batch, strict=strict)
        return
    _id_matches(batch, batch_id)
    if op == "cancel" and "status" in batch and batch["status"] != "cancelled":
        fail("cancel.status_cancelled", f"cancel returned status {batch['status']!r}")
    if op == "retry" and strict:
        retry_count = as_int(batch, "retry_count")
        if retry_count is not None and retry_count < 1:
            fail("retry.retry_count_positive", f"retry returned retry_count {retry_count}")
    check_batch(batch, strict=strict)


def check_exchange(response: Any, base_path: str, *, strict: bool = False) -> None:
    """`check_response` for an `httpx.Response` (or anything with `.status_code`,
    `.request.method/.url/.content`, `.headers` and `.json()`): decodes the JSON bodies
    itself; a non-JSON response body is left to the schema checks."""
    request = response.request
    request_json = None
    content = getattr(request, "content", b"") or b""
    if content:
        try:
            request_json = json.loads(content)
        except ValueError:
            request_json = None
    if not 200 <= response.status_code < 300:
        return
    if "json" not in response.headers.get("content-type", ""):
        return
    try:
        response_json = response.json()
    except ValueError:
        return
    check_response(request.method, str(request.url), response.status_code, request_json,
                   response_json, base_path, strict=strict)
