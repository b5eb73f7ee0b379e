"""Cancel: "Cancel a running batch call and set all recipients to cancelled status."
Spec: vendor docs, POST /v1/convai/batch-calling/{batch_id}/cancel."""

import pytest

from conformance.api import lifecycle
from conformance.invariants import check_batch, check_monotonic

UNFINISHED = lifecycle().recipient_active


@pytest.mark.requirement("CANCEL-1")
def test_cancel_cancels_every_recipient(client, submit_batch, api):
    """Cancelling a scheduled batch cancels the batch and every recipient in it."""
    batch = submit_batch(recipients=3)  # held: nobody is dialled first
    response = client.post(api.paths.cancel(batch["id"]))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    fetched = client.get(api.paths.get(batch["id"])).json()
    assert fetched["status"] == "cancelled"
    assert {r["status"] for r in fetched["recipients"]} == {"cancelled"}
    check_batch(fetched)


@pytest.mark.requirement("CANCEL-2")
def test_cancel_running_batch_leaves_no_call_unfinished(client, submit_batch, api, eventually,
                                                       numbers, strict):
    """Cancelling a batch mid-run leaves no recipient pending, dispatched or in a call."""
    batch = submit_batch([numbers.completes_long] * 1 + numbers.completing(3),
                         dispatch=True, target_concurrency_limit=1)
    running = eventually(
        lambda: (b := client.get(api.paths.get(batch["id"])).json())["total_calls_dispatched"] >= 1
        and b, what="the first call being dispatched")
    assert client.post(api.paths.cancel(batch["id"])).status_code == 200
    fetched = client.get(api.paths.get(batch["id"])).json()
    assert fetched["status"] == "cancelled"
    assert not [r for r in fetched["recipients"] if r["status"] in UNFINISHED]
    check_batch(fetched)
    if strict:  # counters never going back is our inference (LIFE-5), not the vendor's word
        check_monotonic(running, fetched)


@pytest.mark.lasts(95, dispatch=True)   # a minute past its scheduled time
@pytest.mark.requirement("CANCEL-3")
def test_cancelled_batch_places_no_more_calls(client, submit_batch, api, eventually, now):
    """After cancel, time passing dispatches nothing and the batch stays cancelled."""
    batch = submit_batch(3, scheduled_in=30)  # would start during the test, but for cancel
    cancelled = client.post(api.paths.cancel(batch["id"])).json()
    # A minute past the time it would have started: a dispatcher that ignores the cancel has
    # had its chance (the half minute before it only needs to outlast the cancel request).
    due = batch["scheduled_time_unix"]
    later = eventually(
        lambda: now() >= due + 60 and client.get(api.paths.get(batch["id"])).json(),
        within=600, what="a minute past the scheduled time")
    assert later["status"] == "cancelled"
    assert later["total_calls_dispatched"] == cancelled["total_calls_dispatched"]
    assert {r["status"] for r in later["recipients"]} == {"cancelled"}


@pytest.mark.requirement("NOTFOUND-1")
def test_cancel_unknown_batch_is_404(client, api, foreign_id_allowed, unknown_id):
    """Cancelling a batch id that does not exist answers 404."""
    assert client.post(api.paths.cancel(unknown_id)).status_code == 404


@pytest.mark.requirement("CANCEL-4")
def test_cancel_keeps_the_outcome_of_finished_calls(client, submit_batch, api, eventually,
                                                    numbers, needs_outcomes):
    """Cancel mid-run cancels the calls still to come; a call that already completed stays
    completed."""
    # One at a time: a short call, then a long one (the outcome table says which is which),
    # so there is a moment when the first is done and the second is not.
    batch = submit_batch([numbers.completes, numbers.completes_long],
                         dispatch=True, target_concurrency_limit=1)
    by_number = {}

    def first_done():
        current = client.get(api.paths.get(batch["id"])).json()
        by_number.update({r["phone_number"]: r["status"] for r in current["recipients"]})
        return current if by_number[numbers.completes] == "completed" else None

    eventually(first_done, within=3600, what="the first call completing")
    if by_number[numbers.completes_long] in lifecycle().recipient_finished:
        pytest.skip("the target finished the second call before it could be cancelled")
    assert client.post(api.paths.cancel(batch["id"])).status_code == 200
    after = {r["phone_number"]: r["status"]
             for r in client.get(api.paths.get(batch["id"])).json()["recipients"]}
    if after[numbers.completes_long] in lifecycle().recipient_finished:
        pytest.skip("the second call finished before the cancel reached it: the cancel met "
                    "a finished batch, not a running one")
    assert after[numbers.completes_long] == "cancelled"
    assert after[numbers.completes] == "completed"


@pytest.mark.requirement("CANCEL-5")
def test_cancel_of_a_finished_batch_is_refused(client, submit_batch, api, eventually):
    """Cancelling a batch that already completed answers 409 and leaves it completed."""
    batch = submit_batch(1, dispatch=True)
    eventually(lambda: client.get(api.paths.get(batch["id"])).json()["status"] == "completed",
               within=3600, what="the batch completing")
    assert client.post(api.paths.cancel(batch["id"])).status_code == 409
    assert client.get(api.paths.get(batch["id"])).json()["status"] == "completed"
