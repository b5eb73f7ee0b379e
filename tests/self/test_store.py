"""The mock's domain: lifecycle, counters, concurrency, scheduling, workspaces, determinism."""

from __future__ import annotations

import time

import pytest

from conformance.api import lifecycle
from conformance.mock.clock import DEFAULT_START, ManualClock, WallClock
from conformance.mock.outcomes import NUMBERS, outcome_for
from conformance.mock.store import (
    DEFAULT_CONCURRENCY,
    InvalidCursor,
    InvalidState,
    NotFound,
    Store,
)

WS, OTHER = "ws-a", "ws-b"
FINISHED = lifecycle().recipient_finished
IN_FLIGHT = lifecycle().recipient_in_flight
TERMINAL = lifecycle().recipient_terminal


def body(numbers, **extra):
    return {"call_name": "Store test", "agent_id": extra.pop("agent_id", "agent_1"),
            "recipients": [{"phone_number": n} for n in numbers], **extra}


@pytest.fixture
def store():
    return Store(ManualClock(), record_history=True)


def check_invariants(batch, limit):
    c = batch.counts
    statuses = [r.status for r in batch.recipients]
    assert batch.scheduled == len(batch.recipients)
    assert 0 <= batch.finished <= batch.dispatched <= batch.scheduled
    assert batch.finished == sum(s in FINISHED for s in statuses)
    assert batch.dispatched == sum(r.dispatched for r in batch.recipients)
    assert sum(s in IN_FLIGHT for s in statuses) == batch.in_flight <= limit
    assert all(c[s] == statuses.count(s) for s in set(statuses))
    assert batch.created_at <= batch.last_updated
    for r in batch.recipients:
        assert r.created_at <= r.updated_at <= batch.last_updated
        if r.status in ("initiated", "in_progress", "completed", "voicemail"):
            assert r.conversation_id
        if r.status == "pending":
            assert r.conversation_id is None and not r.dispatched


def run_ticks(store, batch, limit, seconds):
    """Advance one second at a time, checking every invariant at every tick."""
    last = (batch.last_updated, {r.id: r.updated_at for r in batch.recipients})
    for _ in range(seconds):
        store.advance(1)
        check_invariants(batch, limit)
        assert batch.last_updated >= last[0]
        assert all(r.updated_at >= last[1][r.id] for r in batch.recipients)
        last = (batch.last_updated, {r.id: r.updated_at for r in batch.recipients})
        if batch.status in ("completed", "failed", "cancelled"):
            return


def recipient_path(store, batch, recipient):
    return [t.new for t in store.history if t.recipient_id == recipient.id]


# --- clocks ---------------------------------------------------------------------------
def test_manual_clock_moves_only_forward():
    clock = ManualClock()
    assert clock.now() == DEFAULT_START
    assert clock.advance(5) == DEFAULT_START + 5
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(DEFAULT_START)
    assert clock.set(DEFAULT_START + 100) == DEFAULT_START + 100


def test_wall_clock_scale():
    fake = [1000.0]
    clock = WallClock(time_scale=60, _time=lambda: fake[0])
    assert clock.now() == 1000
    fake[0] += 2
    assert clock.now() == 1120
    fake[0] -= 5   # system clock steps back: the mock clock does not
    assert clock.now() == 1120


# --- outcomes ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,first,retry", [
    ("completes", "completed", "completed"), ("fails", "failed", "failed"),
    ("voicemail", "voicemail", "voicemail"), ("no_answer", "failed", "failed"),
    ("fails_once", "failed", "completed"), ("voicemail_once", "voicemail", "completed"),
    ("no_answer_once", "failed", "completed"), ("default", "completed", "completed"),
])
def test_outcome_table_first_call_and_retry(store, name, first, retry):
    batch = store.submit(WS, body([NUMBERS[name]]))
    store.advance(3600)
    recipient = batch.recipients[0]
    assert recipient.status == first
    if first == "completed":
        with pytest.raises(InvalidState):
            store.retry(WS, batch.id)
        return
    store.retry(WS, batch.id)
    store.advance(3600)
    assert recipient.status == retry
    assert recipient.attempt == 2


def test_outcome_defaults_and_any_area_code():
    assert outcome_for("+12125550110").result == "fails"
    assert outcome_for("+141555501000").result == "completes"   # outside the pattern: default
    assert outcome_for(None).result == "completes"


@pytest.mark.parametrize("name,path", [
    ("completes", ["pending", "dispatched", "initiated", "in_progress", "completed"]),
    ("fails", ["pending", "dispatched", "initiated", "failed"]),
    ("voicemail", ["pending", "dispatched", "initiated", "in_progress", "voicemail"]),
    ("no_answer", ["pending", "dispatched", "initiated", "failed"]),
])
def test_recipient_transitions(store, name, path):
    batch = store.submit(WS, body([NUMBERS[name]]))
    store.advance(3600)
    recipient = batch.recipients[0]
    assert ["pending"] + recipient_path(store, batch, recipient) == path
    assert recipient.conversation_id.startswith("conv_")


def test_call_timeline(store):
    batch = store.submit(WS, body([NUMBERS["completes"], NUMBERS["no_answer"]],
                                  telephony_call_config={"ringing_timeout_secs": 20}))
    t0 = batch.created_at
    times = {(t.recipient_id, t.new): t.at - t0 for t in store.history}
    store.advance(1000)
    times = {(t.recipient_id, t.new): t.at - t0 for t in store.history}
    ok, unanswered = (r.id for r in batch.recipients)
    assert times[(ok, "dispatched")] == 0
    assert times[(ok, "initiated")] == 1
    assert times[(ok, "in_progress")] == 6
    assert times[(ok, "completed")] == 36          # 30 s talk for ...0100
    assert times[(unanswered, "failed")] == 21     # ringing_timeout_secs after initiation


# --- batch lifecycle ----------------------------------------------------------------------
def test_submit_is_pending_then_in_progress_then_completed(store):
    batch = store.submit(WS, body([NUMBERS["completes"], NUMBERS["fails"]]))
    assert batch.status == "pending"
    assert (batch.dispatched, batch.finished, batch.scheduled) == (0, 0, 2)
    assert batch.scheduled_time == batch.created_at
    store.sync()
    assert batch.status == "in_progress"
    assert batch.dispatched == 2
    store.advance(3600)
    assert batch.status == "completed"
    assert batch.finished == batch.dispatched == 2


def test_batch_fails_when_every_recipient_failed(store):
    batch = store.submit(WS, body([NUMBERS["fails"], NUMBERS["no_answer"]]))
    store.advance(3600)
    assert batch.status == "failed"
    batch = store.submit(WS, body([NUMBERS["fails"], NUMBERS["voicemail"]]))
    store.advance(3600)
    assert batch.status == "completed"


def test_empty_batch_completes_at_start(store):
    batch = store.submit(WS, body([]))
    store.sync()
    assert batch.status == "completed"


def test_counters_and_concurrency_at_every_tick(store):
    numbers = [NUMBERS[k] for k in NUMBERS] * 4
    batch = store.submit(WS, body(numbers, target_concurrency_limit=3))
    check_invariants(batch, 3)
    run_ticks(store, batch, 3, 5000)
    assert batch.status == "completed"
    assert batch.finished == batch.dispatched == batch.scheduled == len(numbers)


def test_default_concurrency_from_history(store):
    batch = store.submit(WS, body([NUMBERS["completes"]] * 35))
    store.advance(5000)
    assert batch.target_concurrency_limit is None
    in_flight, peak = 0, 0
    for t in store.history:
        if t.recipient_id is None:
            continue
        in_flight += (t.new in IN_FLIGHT) - (t.old in IN_FLIGHT)
        peak = max(peak, in_flight)
    assert peak == DEFAULT_CONCURRENCY


def test_scheduled_batch_waits(store):
    start = store.now() + 600
    batch = store.submit(WS, body([NUMBERS["completes"]], scheduled_time_unix=start))
    assert batch.scheduled_time == start
    store.advance(599)
    assert batch.status == "pending" and batch.dispatched == 0
    assert batch.recipients[0].status == "pending"
    store.advance(1)
    assert batch.status == "in_progress" and batch.dispatched == 1
    assert batch.last_updated == start


def test_schedule_in_the_past_starts_now(store):
    past = store.now() - 3600
    batch = store.submit(WS, body([NUMBERS["completes"]], scheduled_time_unix=past))
    assert batch.scheduled_time == past
    store.sync()
    assert batch.status == "in_progress"


def test_cancel_running_batch(store):
    batch = store.submit(WS, body([NUMBERS["completes_long"]] * 6 + [NUMBERS["fails"]],
                                  target_concurrency_limit=2))
    store.advance(200)
    before = {r.id: r.status for r in batch.recipients}
    finished_before = batch.finished
    store.cancel(WS, batch.id)
    assert batch.status == "cancelled"
    for r in batch.recipients:
        if before[r.id] in FINISHED:
            assert r.status == before[r.id]
        else:
            assert r.status == "cancelled"
    assert batch.finished == finished_before
    assert batch.in_flight == 0 and batch.finished <= batch.dispatched
    at = batch.last_updated
    store.advance(5000)
    assert batch.status == "cancelled" and batch.last_updated == at
    with pytest.raises(InvalidState):
        store.cancel(WS, batch.id)


def test_cancel_scheduled_batch_and_finished_batch(store):
    batch = store.submit(WS, body([NUMBERS["completes"]], scheduled_time_unix=store.now() + 60))
    store.cancel(WS, batch.id)
    store.advance(120)
    assert batch.status == "cancelled" and batch.dispatched == 0
    assert batch.recipients[0].status == "cancelled"
    done = store.submit(WS, body([NUMBERS["completes"]]))
    store.advance(600)
    with pytest.raises(InvalidState) as info:
        store.cancel(WS, done.id)
    assert info.value.code == "batch_call_not_cancellable"


def test_retry_requeues_failed_and_voicemail_only(store):
    names = ["completes", "fails", "voicemail", "fails_once", "no_answer_once"]
    batch = store.submit(WS, body([NUMBERS[n] for n in names]))
    with pytest.raises(InvalidState):
        store.retry(WS, batch.id)   # still pending
    store.advance(3600)
    assert batch.status == "completed"
    done = batch.recipients[0]
    conversation, updated = done.conversation_id, done.updated_at
    store.retry(WS, batch.id)
    assert batch.retry_count == 1
    assert batch.status == "in_progress"
    assert [r.status for r in batch.recipients] == ["completed"] + ["pending"] * 4
    assert all(r.conversation_id is None for r in batch.recipients[1:])
    assert batch.dispatched == 1 and batch.finished == 1
    store.advance(3600)
    assert [r.status for r in batch.recipients] == [
        "completed", "failed", "voicemail", "completed", "completed"]
    assert done.conversation_id == conversation and done.updated_at == updated
    assert done.attempt == 1
    assert batch.status == "completed"
    store.retry(WS, batch.id)
    assert batch.retry_count == 2


def test_retry_refusals(store):
    batch = store.submit(WS, body([NUMBERS["completes"]]))
    store.advance(600)
    with pytest.raises(InvalidState) as info:
        store.retry(WS, batch.id)
    assert info.value.code == "batch_call_nothing_to_retry"
    cancelled = store.submit(WS, body([NUMBERS["fails"]]))
    store.cancel(WS, cancelled.id)
    with pytest.raises(InvalidState):
        store.retry(WS, cancelled.id)


def test_delete_removes_everything(store):
    batch = store.submit(WS, body([NUMBERS["completes"]] * 3))
    store.advance(2)
    store.delete(WS, batch.id)
    for op in (store.get, store.cancel, store.retry, store.delete):
        with pytest.raises(NotFound):
            op(WS, batch.id)
    assert store.list(WS).batches == []
    store.advance(3600)   # queued events of the deleted batch are ignored
    assert store.all_batches() == []


# --- workspaces and listing ---------------------------------------------------------------
def test_workspace_isolation(store):
    mine = store.submit(WS, body([NUMBERS["fails"]]))
    store.advance(600)
    for op in (store.get, store.cancel, store.retry, store.delete):
        with pytest.raises(NotFound):
            op(OTHER, mine.id)
    assert store.list(OTHER).batches == []
    assert [b.id for b in store.list(WS).batches] == [mine.id]
    assert store.get(WS, mine.id).status == "failed"


def test_list_paging_newest_first_with_agent_filter(store):
    ids = []
    for i in range(7):
        ids.append(store.submit(WS, body([NUMBERS["completes"]],
                                         agent_id="agent_x" if i % 2 else "agent_y")).id)
        store.advance(1)
    seen, cursor = [], None
    while True:
        page = store.list(WS, 3, cursor)
        seen += [b.id for b in page.batches]
        assert page.has_more == (page.next_cursor is not None)
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert seen == ids[::-1]
    assert [b.id for b in store.list(WS, 100, agent_id="agent_x").batches] == ids[1::2][::-1]
    page = store.list(WS, 2)
    store.delete(WS, page.batches[-1].id)     # cursor of a deleted batch still works
    assert [b.id for b in store.list(WS, 2, page.next_cursor).batches] == ids[::-1][2:4]
    with pytest.raises(InvalidCursor):
        store.list(WS, 2, "not-a-cursor")
    last = store.list(WS, 100)
    assert last.next_cursor is None and last.has_more is False


def test_list_page_cost_does_not_grow_with_workspace(store):
    for _ in range(3000):
        store.submit(WS, body([]))
    started = time.perf_counter()
    page = store.list(WS, 10)
    for _ in range(200):
        page = store.list(WS, 10, page.next_cursor)
    assert time.perf_counter() - started < 1.0


# --- determinism and scale ----------------------------------------------------------------
def scenario(store, observe_every):
    numbers = [NUMBERS[k] for k in NUMBERS] * 3
    a = store.submit(WS, body(numbers, target_concurrency_limit=4))
    store.advance(1)
    b = store.submit(OTHER, body(numbers[::-1], scheduled_time_unix=store.now() + 30))
    for _ in range(0, 2000, observe_every):
        store.advance(observe_every)
    store.retry(WS, a.id)
    store.cancel(OTHER, b.id) if b.status in ("pending", "in_progress") else None
    store.advance(2000)
    return list(store.history)


def test_same_inputs_same_history():
    one = scenario(Store(ManualClock(), record_history=True), 1)
    two = scenario(Store(ManualClock(), record_history=True), 1)
    coarse = scenario(Store(ManualClock(), record_history=True), 500)
    assert one == two
    assert one == coarse   # observing less often does not change what happened


def test_ten_thousand_recipients_quickly():
    store = Store(ManualClock())
    numbers = [NUMBERS[k] for k in ("completes", "fails", "voicemail", "no_answer")] * 2500
    started = time.perf_counter()
    batch = store.submit(WS, body(numbers, target_concurrency_limit=100))
    store.advance(10**6)
    elapsed = time.perf_counter() - started
    assert batch.status == "completed"
    assert batch.finished == batch.dispatched == batch.scheduled == 10_000
    assert all(r.status in TERMINAL for r in batch.recipients)
    assert elapsed < 3.0
