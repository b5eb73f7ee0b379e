"""Semantic invariants of batch-calling responses, beyond what the JSON schema can say.

Pure functions over decoded JSON (dicts and lists). Each check returns None or raises
`InvariantViolation`, whose `rule` is a short id from `RULES`. No pytest import: the same
functions back the pytest scenarios and, wrapped by `check_response`, Schemathesis checks.

Ground rules
------------
* Only keys that are present are checked. Vendors omit keys (the voiceai dialect has no
  counters on some pages); a missing key or a ``null`` where the schema wants an integer is
  the schema validator's business, not ours. A present value of the wrong type is reported
  as ``types.integer`` rather than crashing the check.
* Non-strict checks are what any vendor must obey given the documented semantics (counters
  are counts, a timestamp pair is ordered, a cancelled batch has its recipients cancelled,
  echoed request fields come back). ``strict=True`` adds rules that follow from the *mock's*
  documented choices (API-NOTES "undocumented" grade) and must never be asserted against a
  real vendor.
* Recipient terminal states: ``completed``, ``failed``, ``voicemail`` are *finished* (a call
  was placed and ended). ``cancelled`` is terminal but **not finished**: cancel sets every
  recipient to ``cancelled`` (vendor docs), including ones that were never dialled, so the
  status alone cannot tell whether a call happened; the strict counter rule therefore does
  not count cancelled recipients towards ``total_calls_finished``.
* Retry (``retry_count`` went up) starts a new attempt: a vendor may then re-open a
  completed/failed batch and recompute ``total_calls_dispatched`` / ``total_calls_finished``
  (voiceai documents finished as "completed + failed", a current-state count). Monotonicity
  of counters and of terminal status is therefore only asserted between two observations
  with the same ``retry_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.api import lifecycle

__all__ = [
    "RULES",
    "BATCH_STATUSES",
    "BATCH_TERMINAL",
    "RECIPIENT_STATUSES",
    "RECIPIENT_ACTIVE",
    "RECIPIENT_FINISHED",
    "InvariantViolation",
    "check_counters",
    "check_timestamps",
    "check_monotonic",
    "check_status_sets",
    "check_list_item_agrees",
    "check_echo",
    "check_batch",
    "check_response",
    "check_exchange",
]

_LIFE = lifecycle()
BATCH_STATUSES = _LIFE.batch_statuses
BATCH_TERMINAL = _LIFE.batch_terminal
RECIPIENT_STATUSES = _LIFE.recipient_statuses
#: Recipient states in which a call is still to happen or happening.
RECIPIENT_ACTIVE = _LIFE.recipient_active
#: A call was placed and has ended: these count towards total_calls_finished.
RECIPIENT_FINISHED = _LIFE.recipient_finished
#: Recipient states that imply the call was handed to the dialler.
RECIPIENT_DIALLED = _LIFE.recipient_dialled

COUNTERS = ("total_calls_scheduled", "total_calls_dispatched", "total_calls_finished")
#: Keys whose value may legitimately differ between two requests for the same batch.
MOVING_KEYS = frozenset(
    {"status", "last_updated_at_unix", "retry_count", "total_calls_dispatched",
     "total_calls_finished", "recipients"}
)

RULES: dict[str, str] = {
    # shape / types
    "shape.object": "A batch (and each recipient) is a JSON object.",
    "types.integer": "Counters, retry_count and unix timestamps, when present and not null, "
                     "are integers.",
    # counters
    "counters.non_negative": "total_calls_scheduled, _dispatched, _finished and retry_count "
                             "are >= 0.",
    "counters.dispatched_le_scheduled": "total_calls_dispatched <= total_calls_scheduled.",
    "counters.finished_le_dispatched": "total_calls_finished <= total_calls_dispatched.",
    "counters.scheduled_eq_recipients": "Before any retry, total_calls_scheduled equals the "
                                        "number of recipients a get returns.",
    "counters.finished_eq_finished_recipients": "(strict, mock only) total_calls_finished "
                                                "equals the number of recipients in completed, "
                                                "failed or voicemail.",
    "counters.dispatched_ge_dialled_recipients": "(strict, mock only) total_calls_dispatched is "
                                                 "at least the number of recipients that left "
                                                 "pending (dispatched .. voicemail).",
    # timestamps
    "timestamps.created_le_updated": "A batch's created_at_unix <= last_updated_at_unix.",
    "timestamps.recipient_created_le_updated": "A recipient's created_at_unix <= "
                                               "updated_at_unix.",
    # status sets
    "status.cancelled_no_active_recipients": "A cancelled batch has no recipient pending, "
                                             "dispatched, initiated or in_progress.",
    "status.completed_no_active_recipients": "A completed batch has no recipient pending, "
                                             "dispatched, initiated or in_progress.",
    "status.pending_no_finished_recipients": "A pending batch that was never retried has no "
                                             "recipient in completed, failed or voicemail.",
    # two observations of one batch
    "monotonic.same_id": "Two observations compared as one batch have the same id.",
    "monotonic.created_at_unchanged": "created_at_unix never changes.",
    "monotonic.last_updated_not_backwards": "last_updated_at_unix never decreases.",
    "monotonic.retry_count_not_backwards": "retry_count never decreases.",
    "monotonic.counters_not_backwards": "Without a retry in between, total_calls_dispatched "
                                        "and total_calls_finished never decrease.",
    "monotonic.terminal_not_reopened": "A completed/failed batch only returns to pending or "
                                       "in_progress after a retry (retry_count increased); a "
                                       "cancelled batch never does.",
    # list vs get
    "list.no_recipients": "List items carry no recipients key.",
    "list.agrees_with_get": "Keys present in both a list item and a get of the same batch "
                            "agree (moving keys: only forwards in time).",
    # echo of the submit request
    "echo.name": "name echoes call_name.",
    "echo.agent_id": "agent_id echoes agent_id.",
    "echo.phone_number_id": "phone_number_id echoes agent_phone_number_id when one was sent.",
    "echo.scheduled_time_unix": "scheduled_time_unix echoes the value sent, when not null.",
    "echo.total_calls_scheduled": "total_calls_scheduled equals the number of recipients sent.",
    "echo.target_concurrency_limit": "target_concurrency_limit echoes the value sent, when not "
                                     "null.",
    "echo.timezone": "timezone echoes the value sent, when not null.",
    "echo.branch_id": "branch_id echoes the value sent, when not null.",
    "echo.environment": "environment echoes the value sent, when not null.",
    # per-operation
    "response.id_matches_path": "get, cancel and retry return the batch named in the path.",
    "list.shape": "A list response is an object whose batch_calls is an array.",
    "cancel.status_cancelled": "A successful cancel returns the batch with status cancelled.",
    "retry.retry_count_positive": "(strict, mock only) A successful retry returns the batch "
                                  "with retry_count >= 1.",
}


class InvariantViolation(AssertionError):
    """A response broke rule `rule` (a key of `RULES`)."""

    def __init__(self, rule: str, detail: str) -> None:
        if rule not in RULES:  # a typo here would silently mislabel reports
            raise KeyError(f"unknown invariant rule {rule!r}")
        self.rule = rule
        self.detail = detail
        super().__init__(f"[{rule}] {detail}")


def _fail(rule: str, detail: str) -> None:
    raise InvariantViolation(rule, detail)


def _obj(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        _fail("shape.object", f"{what} is {type(value).__name__}, not an object")
    return value


def _int(obj: Mapping, key: str, what: str = "batch") -> int | None:
    """The integer at `key`, or None when the key is absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        _fail("types.integer", f"{what}.{key} = {value!r} is not an integer")
    return value


def _recipients(batch: Mapping) -> list[Mapping] | None:
    recipients = batch.get("recipients")
    if recipients is None:
        return None
    if not isinstance(recipients, list):
        _fail("shape.object", f"recipients is {type(recipients).__name__}, not an array")
    return [_obj(r, f"recipients[{i}]") for i, r in enumerate(recipients)]


def _statuses(recipients: list[Mapping]) -> list[Any]:
    return [r.get("status") for r in recipients]


# ---------------------------------------------------------------------------------- checks


def check_counters(batch: Mapping, *, strict: bool = False) -> None:
    """Counters are ordered counts: 0 <= finished <= dispatched <= scheduled.

    With recipients (a get) and no retry yet, ``total_calls_scheduled == len(recipients)``.
    After a retry a vendor may count re-scheduled calls, so that equality is strict-only then.

    ``strict=True`` (the mock only; never a real vendor): ``total_calls_finished`` equals the
    number of recipients in completed/failed/voicemail (cancelled recipients are not finished,
    see the module docstring), and ``total_calls_dispatched`` is at least the number of
    recipients that have left ``pending`` for a dialled state.
    """
    batch = _obj(batch, "batch")
    scheduled = _int(batch, "total_calls_scheduled")
    dispatched = _int(batch, "total_calls_dispatched")
    finished = _int(batch, "total_calls_finished")
    retry_count = _int(batch, "retry_count")
    for key, value in (("total_calls_scheduled", scheduled),
                       ("total_calls_dispatched", dispatched),
                       ("total_calls_finished", finished), ("retry_count", retry_count)):
        if value is not None and value < 0:
            _fail("counters.non_negative", f"{key} = {value} < 0")
    if dispatched is not None and scheduled is not None and dispatched > scheduled:
        _fail("counters.dispatched_le_scheduled",
              f"total_calls_dispatched {dispatched} > total_calls_scheduled {scheduled}")
    if finished is not None and dispatched is not None and finished > dispatched:
        _fail("counters.finished_le_dispatched",
              f"total_calls_finished {finished} > total_calls_dispatched {dispatched}")
    recipients = _recipients(batch)
    if recipients is None:
        return
    if scheduled is not None and (strict or not retry_count) and scheduled != len(recipients):
        _fail("counters.scheduled_eq_recipients",
              f"total_calls_scheduled {scheduled} != {len(recipients)} recipients")
    if not strict:
        return
    statuses = _statuses(recipients)
    n_finished = sum(s in RECIPIENT_FINISHED for s in statuses)
    if finished is not None and finished != n_finished:
        _fail("counters.finished_eq_finished_recipients",
              f"total_calls_finished {finished} != {n_finished} recipients in "
              f"completed/failed/voicemail")
    n_dialled = sum(s in RECIPIENT_DIALLED for s in statuses)
    if dispatched is not None and dispatched < n_dialled:
        _fail("counters.dispatched_ge_dialled_recipients",
              f"total_calls_dispatched {dispatched} < {n_dialled} recipients past pending")


def check_timestamps(batch: Mapping) -> None:
    """Timestamps are integers; created <= last updated, for the batch and each recipient."""
    batch = _obj(batch, "batch")
    created = _int(batch, "created_at_unix")
    updated = _int(batch, "last_updated_at_unix")
    _int(batch, "scheduled_time_unix")  # documented: always an integer in responses
    if created is not None and updated is not None and created > updated:
        _fail("timestamps.created_le_updated",
              f"created_at_unix {created} > last_updated_at_unix {updated}")
    for i, recipient in enumerate(_recipients(batch) or ()):
        what = f"recipients[{i}]"
        r_created = _int(recipient, "created_at_unix", what)
        r_updated = _int(recipient, "updated_at_unix", what)
        if r_created is not None and r_updated is not None and r_created > r_updated:
            _fail("timestamps.recipient_created_le_updated",
                  f"{what} (id {recipient.get('id')!r}): created_at_unix {r_created} > "
                  f"updated_at_unix {r_updated}")


def check_status_sets(batch: Mapping) -> None:
    """Batch status and recipient statuses agree.

    cancelled or completed batch → no recipient still active (pending, dispatched, initiated,
    in_progress); pending batch never retried → no recipient finished. A failed batch and an
    in_progress batch constrain nothing (their recipient mix is not documented). Unknown
    status values (drift) are ignored here; the schema reports them.
    """
    batch = _obj(batch, "batch")
    recipients = _recipients(batch)
    if not recipients:
        return
    status = batch.get("status")
    if status in ("cancelled", "completed"):
        active = [(r.get("id"), r.get("status")) for r in recipients
                  if r.get("status") in RECIPIENT_ACTIVE]
        if active:
            _fail(f"status.{status}_no_active_recipients",
                  f"batch is {status} but {len(active)} recipient(s) are active: {active[:3]}")
    elif status == "pending" and not _int(batch, "retry_count"):
        done = [(r.get("id"), r.get("status")) for r in recipients
                if r.get("status") in RECIPIENT_FINISHED]
        if done:
            _fail("status.pending_no_finished_recipients",
                  f"batch is pending (never retried) but {len(done)} recipient(s) finished: "
                  f"{done[:3]}")


def check_monotonic(before: Mapping, after: Mapping) -> None:
    """`after` is a later observation of the same batch as `before`.

    id and created_at_unix are unchanged; last_updated_at_unix and retry_count never go back.
    Unless retry_count increased in between, total_calls_dispatched/_finished never go back
    and a completed/failed batch stays terminal. A cancelled batch never becomes pending or
    in_progress again (retry re-calls failed and unanswered recipients; cancelled ones are
    neither).
    """
    before = _obj(before, "before")
    after = _obj(after, "after")
    if "id" in before and "id" in after and before["id"] != after["id"]:
        _fail("monotonic.same_id", f"id changed {before['id']!r} -> {after['id']!r}")
    c0, c1 = _int(before, "created_at_unix"), _int(after, "created_at_unix")
    if c0 is not None and c1 is not None and c0 != c1:
        _fail("monotonic.created_at_unchanged", f"created_at_unix changed {c0} -> {c1}")
    u0, u1 = _int(before, "last_updated_at_unix"), _int(after, "last_updated_at_unix")
    if u0 is not None and u1 is not None and u1 < u0:
        _fail("monotonic.last_updated_not_backwards", f"last_updated_at_unix {u0} -> {u1}")
    r0, r1 = _int(before, "retry_count"), _int(after, "retry_count")
    if r0 is not None and r1 is not None and r1 < r0:
        _fail("monotonic.retry_count_not_backwards", f"retry_count {r0} -> {r1}")
    retried = r0 is not None and r1 is not None and r1 > r0
    if not retried:
        for key in ("total_calls_dispatched", "total_calls_finished"):
            v0, v1 = _int(before, key), _int(after, key)
            if v0 is not None and v1 is not None and v1 < v0:
                _fail("monotonic.counters_not_backwards",
                      f"{key} {v0} -> {v1} with no retry in between")
    s0, s1 = before.get("status"), after.get("status")
    if s0 in BATCH_TERMINAL and s1 in ("pending", "in_progress"):
        if s0 == "cancelled" or not retried:
            why = "a cancelled batch" if s0 == "cancelled" else "no retry in between"
            _fail("monotonic.terminal_not_reopened", f"status {s0} -> {s1} ({why})")


def check_list_item_agrees(
    list_item: Mapping, detailed: Mapping, *, detailed_is_later: bool | None = True
) -> None:
    """A list item and a get of the same batch agree on every key present in both.

    Keys that move with time (status, counters, last_updated_at_unix, retry_count) are
    compared with `check_monotonic` in the order of observation: `detailed_is_later=True`
    (get after list, the default), False (list after get), None (order unknown: moving keys
    are not compared).
    """
    list_item = _obj(list_item, "list item")
    detailed = _obj(detailed, "detailed batch")
    if "recipients" in list_item:
        _fail("list.no_recipients", f"list item {list_item.get('id')!r} has recipients")
    for key in sorted(set(list_item) & set(detailed) - MOVING_KEYS):
        if list_item[key] != detailed[key]:
            _fail("list.agrees_with_get",
                  f"batch {detailed.get('id')!r}: {key} is {list_item[key]!r} in the list, "
                  f"{detailed[key]!r} in the get")
    if detailed_is_later is None:
        return
    earlier, later = (list_item, detailed) if detailed_is_later else (detailed, list_item)
    try:
        check_monotonic(earlier, {k: v for k, v in later.items() if k != "recipients"})
    except InvariantViolation as exc:
        _fail("list.agrees_with_get", f"list vs get: {exc}")


_ECHO_OPTIONAL = (
    # (request key, response key, rule)
    ("agent_phone_number_id", "phone_number_id", "echo.phone_number_id"),
    ("scheduled_time_unix", "scheduled_time_unix", "echo.scheduled_time_unix"),
    ("target_concurrency_limit", "target_concurrency_limit", "echo.target_concurrency_limit"),
    ("timezone", "timezone", "echo.timezone"),
    ("branch_id", "branch_id", "echo.branch_id"),
    ("environment", "environment", "echo.environment"),
)


def check_echo(request_body: Mapping, batch: Mapping) -> None:
    """The batch returned by submit echoes what was sent.

    name == call_name and agent_id always (when present in the response);
    total_calls_scheduled == len(recipients sent); and, when the request carried a non-null
    value and the response has the key: agent_phone_number_id → phone_number_id,
    scheduled_time_unix, target_concurrency_limit, timezone, branch_id, environment.
    """
    request_body = _obj(request_body, "request body")
    batch = _obj(batch, "batch")
    if "call_name" in request_body and "name" in batch:
        if batch["name"] != request_body["call_name"]:
            _fail("echo.name", f"name {batch['name']!r} != call_name "
                               f"{request_body['call_name']!r}")
    if "agent_id" in request_body and "agent_id" in batch:
        if batch["agent_id"] != request_body["agent_id"]:
            _fail("echo.agent_id", f"agent_id {batch['agent_id']!r} != sent "
                                   f"{request_body['agent_id']!r}")
    for req_key, resp_key, rule in _ECHO_OPTIONAL:
        sent = request_body.get(req_key)
        if sent is None or resp_key not in batch:
            continue
        got = batch[resp_key]
        if got != sent or isinstance(got, bool) != isinstance(sent, bool):
            _fail(rule, f"{resp_key} {got!r} != sent {req_key} {sent!r}")
    recipients = request_body.get("recipients")
    if isinstance(recipients, list) and "total_calls_scheduled" in batch:
        if batch["total_calls_scheduled"] != len(recipients):
            _fail("echo.total_calls_scheduled",
                  f"total_calls_scheduled {batch['total_calls_scheduled']!r} != "
                  f"{len(recipients)} recipients sent")


def check_batch(
    batch: Mapping,
    previous: Mapping | None = None,
    request: Mapping | None = None,
    strict: bool = False,
) -> None:
    """All single-batch checks; plus `check_monotonic(previous, batch)` and
    `check_echo(request, batch)` when those are given."""
    check_counters(batch, strict=strict)
    check_timestamps(batch)
    check_status_sets(batch)
    if previous is not None:
        check_monotonic(previous, batch)
    if request is not None:
        check_echo(request, batch)


# Per-exchange dispatch lives beside this module; re-exported so callers keep one import.
from conformance.invariants_exchange import check_exchange, check_response  # noqa: E402
