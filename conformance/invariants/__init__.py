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

from conformance.invariants.batch import (
    check_batch,
    check_counters,
    check_echo,
    check_list_item_agrees,
    check_monotonic,
    check_status_sets,
    check_timestamps,
)
from conformance.invariants.exchange import check_exchange, check_response
from conformance.invariants.rules import (
    BATCH_STATUSES,
    BATCH_TERMINAL,
    RECIPIENT_ACTIVE,
    RECIPIENT_DIALLED,
    RECIPIENT_FINISHED,
    RECIPIENT_STATUSES,
    RULES,
    InvariantViolation,
)

__all__ = [
    "RULES",
    "BATCH_STATUSES",
    "BATCH_TERMINAL",
    "RECIPIENT_STATUSES",
    "RECIPIENT_ACTIVE",
    "RECIPIENT_DIALLED",
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
