"""Checks of one batch (and of two observations of one batch): counters, timestamps, status
sets, monotonicity, a list item against a get, the echo of a submit."""

from __future__ import annotations

from collections.abc import Mapping

from conformance.invariants.rules import (
    BATCH_TERMINAL,
    MOVING_KEYS,
    RECIPIENT_ACTIVE,
    RECIPIENT_DIALLED,
    RECIPIENT_FINISHED,
    InvariantViolation,
    as_int,
    as_object,
    fail,
    recipients_of,
    statuses_of,
)


def check_counters(batch: Mapping, *, strict: bool = False) -> None:
    """Counters are ordered counts: 0 <= finished <= dispatched <= scheduled.

    With recipients (a get) and no retry yet, ``total_calls_scheduled == len(recipients)``.
    After a retry a vendor may count re-scheduled calls, so that equality is strict-only then.

    ``strict=True`` (the mock only; never a real vendor): ``total_calls_finished`` equals the
    number of recipients in completed/failed/voicemail (cancelled recipients are not finished,
    see the package docstring), and ``total_calls_dispatched`` is at least the number of
    recipients that have left ``pending`` for a dialled state.
    """
    batch = as_object(batch, "batch")
    scheduled = as_int(batch, "total_calls_scheduled")
    dispatched = as_int(batch, "total_calls_dispatched")
    finished = as_int(batch, "total_calls_finished")
    retry_count = as_int(batch, "retry_count")
    for key, value in (("total_calls_scheduled", scheduled),
                       ("total_calls_dispatched", dispatched),
                       ("total_calls_finished", finished), ("retry_count", retry_count)):
        if value is not None and value < 0:
            fail("counters.non_negative", f"{key} = {value} < 0")
    if dispatched is not None and scheduled is not None and dispatched > scheduled:
        fail("counters.dispatched_le_scheduled",
              f"total_calls_dispatched {dispatched} > total_calls_scheduled {scheduled}")
    if finished is not None and dispatched is not None and finished > dispatched:
        fail("counters.finished_le_dispatched",
              f"total_calls_finished {finished} > total_calls_dispatched {dispatched}")
    recipients = recipients_of(batch)
    if recipients is None:
        return
    if scheduled is not None and (strict or not retry_count) and scheduled != len(recipients):
        fail("counters.scheduled_eq_recipients",
              f"total_calls_scheduled {scheduled} != {len(recipients)} recipients")
    if not strict:
        return
    statuses = statuses_of(recipients)
    n_finished = sum(s in RECIPIENT_FINISHED for s in statuses)
    if finished is not None and finished != n_finished:
        fail("counters.finished_eq_finished_recipients",
              f"total_calls_finished {finished} != {n_finished} recipients in "
              f"completed/failed/voicemail")
    n_dialled = sum(s in RECIPIENT_DIALLED for s in statuses)
    if dispatched is not None and dispatched < n_dialled:
        fail("counters.dispatched_ge_dialled_recipients",
              f"total_calls_dispatched {dispatched} < {n_dialled} recipients past pending")


def check_timestamps(batch: Mapping) -> None:
    """Timestamps are integers; created <= last updated, for the batch and each recipient."""
    batch = as_object(batch, "batch")
    created = as_int(batch, "created_at_unix")
    updated = as_int(batch, "last_updated_at_unix")
    as_int(batch, "scheduled_time_unix")  # documented: always an integer in responses
    if created is not None and updated is not None and created > updated:
        fail("timestamps.created_le_updated",
              f"created_at_unix {created} > last_updated_at_unix {updated}")
    for i, recipient in enumerate(recipients_of(batch) or ()):
        what = f"recipients[{i}]"
        r_created = as_int(recipient, "created_at_unix", what)
        r_updated = as_int(recipient, "updated_at_unix", what)
        if r_created is not None and r_updated is not None and r_created > r_updated:
            fail("timestamps.recipient_created_le_updated",
                  f"{what} (id {recipient.get('id')!r}): created_at_unix {r_created} > "
                  f"updated_at_unix {r_updated}")


def check_status_sets(batch: Mapping) -> None:
    """Batch status and recipient statuses agree.

    cancelled or completed batch → no recipient still active (pending, dispatched, initiated,
    in_progress); pending batch never retried → no recipient finished. A failed batch and an
    in_progress batch constrain nothing (their recipient mix is not documented). Unknown
    status values (drift) are ignored here; the schema reports them.
    """
    batch = as_object(batch, "batch")
    recipients = recipients_of(batch)
    if not recipients:
        return
    status = batch.get("status")
    if status in ("cancelled", "completed"):
        active = [(r.get("id"), r.get("status")) for r in recipients
                  if r.get("status") in RECIPIENT_ACTIVE]
        if active:
            fail(f"status.{status}_no_active_recipients",
                  f"batch is {status} but {len(active)} recipient(s) are active: {active[:3]}")
    elif status == "pending" and not as_int(batch, "retry_count"):
        done = [(r.get("id"), r.get("status")) for r in recipients
                if r.get("status") in RECIPIENT_FINISHED]
        if done:
            fail("status.pending_no_finished_recipients",
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
    before = as_object(before, "before")
    after = as_object(after, "after")
    if "id" in before and "id" in after and before["id"] != after["id"]:
        fail("monotonic.same_id", f"id changed {before['id']!r} -> {after['id']!r}")
    c0, c1 = as_int(before, "created_at_unix"), as_int(after, "created_at_unix")
    if c0 is not None and c1 is not None and c0 != c1:
        fail("monotonic.created_at_unchanged", f"created_at_unix changed {c0} -> {c1}")
    u0, u1 = as_int(before, "last_updated_at_unix"), as_int(after, "last_updated_at_unix")
    if u0 is not None and u1 is not None and u1 < u0:
        fail("monotonic.last_updated_not_backwards", f"last_updated_at_unix {u0} -> {u1}")
    r0, r1 = as_int(before, "retry_count"), as_int(after, "retry_count")
    if r0 is not None and r1 is not None and r1 < r0:
        fail("monotonic.retry_count_not_backwards", f"retry_count {r0} -> {r1}")
    retried = r0 is not None and r1 is not None and r1 > r0
    if not retried:
        for key in ("total_calls_dispatched", "total_calls_finished"):
            v0, v1 = as_int(before, key), as_int(after, key)
            if v0 is not None and v1 is not None and v1 < v0:
                fail("monotonic.counters_not_backwards",
                      f"{key} {v0} -> {v1} with no retry in between")
    s0, s1 = before.get("status"), after.get("status")
    if s0 in BATCH_TERMINAL and s1 in ("pending", "in_progress"):
        if s0 == "cancelled" or not retried:
            why = "a cancelled batch" if s0 == "cancelled" else "no retry in between"
            fail("monotonic.terminal_not_reopened", f"status {s0} -> {s1} ({why})")


def check_list_item_agrees(
    list_item: Mapping, detailed: Mapping, *, detailed_is_later: bool | None = True
) -> None:
    """A list item and a get of the same batch agree on every key present in both.

    Keys that move with time (status, counters, last_updated_at_unix, retry_count) are
    compared with `check_monotonic` in the order of observation: `detailed_is_later=True`
    (get after list, the default), False (list after get), None (order unknown: moving keys
    are not compared).
    """
    list_item = as_object(list_item, "list item")
    detailed = as_object(detailed, "detailed batch")
    if "recipients" in list_item:
        fail("list.no_recipients", f"list item {list_item.get('id')!r} has recipients")
    for key in sorted(set(list_item) & set(detailed) - MOVING_KEYS):
        if list_item[key] != detailed[key]:
            fail("list.agrees_with_get",
                  f"batch {detailed.get('id')!r}: {key} is {list_item[key]!r} in the list, "
                  f"{detailed[key]!r} in the get")
    if detailed_is_later is None:
        return
    earlier, later = (list_item, detailed) if detailed_is_later else (detailed, list_item)
    try:
        check_monotonic(earlier, {k: v for k, v in later.items() if k != "recipients"})
    except InvariantViolation as exc:
        fail("list.agrees_with_get", f"list vs get: {exc}")


ECHO_OPTIONAL = (
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
    request_body = as_object(request_body, "request body")
    batch = as_object(batch, "batch")
    if "call_name" in request_body and "name" in batch:
        if batch["name"] != request_body["call_name"]:
            fail("echo.name", f"name {batch['name']!r} != call_name "
                               f"{request_body['call_name']!r}")
    if "agent_id" in request_body and "agent_id" in batch:
        if batch["agent_id"] != request_body["agent_id"]:
            fail("echo.agent_id", f"agent_id {batch['agent_id']!r} != sent "
                                   f"{request_body['agent_id']!r}")
    for req_key, resp_key, rule in ECHO_OPTIONAL:
        sent = request_body.get(req_key)
        if sent is None or resp_key not in batch:
            continue
        got = batch[resp_key]
        if got != sent or isinstance(got, bool) != isinstance(sent, bool):
            fail(rule, f"{resp_key} {got!r} != sent {req_key} {sent!r}")
    recipients = request_body.get("recipients")
    if isinstance(recipients, list) and "total_calls_scheduled" in batch:
        if batch["total_calls_scheduled"] != len(recipients):
            fail("echo.total_calls_scheduled",
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
