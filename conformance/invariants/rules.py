"""The registry of invariant rules: `RULES` (rule id -> what it says), the error a check raises
(`InvariantViolation`), and the helpers every check module uses to read a decoded batch.
The checks themselves are conformance/invariants/batch.py and exchange.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from conformance.api import lifecycle

LIFE = lifecycle()
BATCH_STATUSES = LIFE.batch_statuses
BATCH_TERMINAL = LIFE.batch_terminal
RECIPIENT_STATUSES = LIFE.recipient_statuses
#: Recipient states in which a call is still to happen or happening.
RECIPIENT_ACTIVE = LIFE.recipient_active
#: A call was placed and has ended: these count towards total_calls_finished.
RECIPIENT_FINISHED = LIFE.recipient_finished
#: Recipient states that imply the call was handed to the dialler.
RECIPIENT_DIALLED = LIFE.recipient_dialled

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


def fail(rule: str, detail: str) -> NoReturn:
    raise InvariantViolation(rule, detail)


def as_object(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        fail("shape.object", f"{what} is {type(value).__name__}, not an object")
    return value


def as_int(obj: Mapping, key: str, what: str = "batch") -> int | None:
    """The integer at `key`, or None when the key is absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        fail("types.integer", f"{what}.{key} = {value!r} is not an integer")
    return value


def recipients_of(batch: Mapping) -> list[Mapping] | None:
    recipients = batch.get("recipients")
    if recipients is None:
        return None
    if not isinstance(recipients, list):
        fail("shape.object", f"recipients is {type(recipients).__name__}, not an array")
    return [as_object(r, f"recipients[{i}]") for i, r in enumerate(recipients)]


def statuses_of(recipients: list[Mapping]) -> list[Any]:
    return [r.get("status") for r in recipients]
