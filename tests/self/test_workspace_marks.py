"""WORKSPACE-1's "stays intact" charges another key with what its operation would leave on a
batch (a cancel, a retry, a changed identity), never with the batch's own progress in time:
a batch that starts early breaks its schedule (LIFE-3 / GET-1), not workspace isolation."""

from __future__ import annotations

import pytest

from conformance_suite.scenarios.test_auth import foreign_marks

HELD = {"id": "btcal_1", "name": "cst-run-a", "agent_id": "agent_1", "created_at_unix": 100,
        "scheduled_time_unix": 9_000_000, "phone_number_id": None, "status": "pending",
        "retry_count": 0}


def after(**over):
    doc = {**HELD, "recipients": [{"id": "r0", "phone_number": "+14155550100",
                                   "status": "pending"}]}
    doc.update(over)
    return doc


def test_progress_in_time_is_not_a_mark():
    started = after(status="in_progress",
                    recipients=[{"id": "r0", "phone_number": "+14155550100",
                                 "status": "dispatched"}])
    assert foreign_marks(HELD, started) == []
    assert foreign_marks(HELD, after(status="completed")) == []


@pytest.mark.parametrize(("over", "word"), [
    ({"status": "cancelled"}, "cancelled"),
    ({"recipients": [{"id": "r0", "phone_number": "+14155550100", "status": "cancelled"}]},
     "recipient(s) cancelled"),
    ({"retry_count": 1}, "retry_count 0 -> 1"),
    ({"name": "renamed"}, "name 'cst-run-a' -> 'renamed'"),
    ({"scheduled_time_unix": 200}, "scheduled_time_unix"),
])
def test_what_another_key_would_leave_is_a_mark(over, word):
    marks = foreign_marks(HELD, after(**over))
    assert len(marks) == 1 and word in marks[0], marks
