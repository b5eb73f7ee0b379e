"""Cancel: "Cancel a running batch call and set all recipients to cancelled status."
Spec: vendor docs, POST /v1/convai/batch-calling/{batch_id}/cancel."""

from conformance.invariants import check_batch, check_monotonic

UNFINISHED = {"pending", "dispatched", "initiated", "in_progress"}


def test_cancel_cancels_every_recipient(client, submit_batch, api):
    """Cancelling a scheduled batch cancels the batch and every recipient in it."""
    batch = submit_batch(recipients=3, scheduled_in=3600)  # nobody is dialled first
    response = client.post(api.cancel(batch["id"]))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    fetched = client.get(api.get(batch["id"])).json()
    assert fetched["status"] == "cancelled"
    assert {r["status"] for r in fetched["recipients"]} == {"cancelled"}
    check_batch(fetched)


def test_cancel_running_batch_leaves_no_call_unfinished(client, submit_batch, api, eventually,
                                                       numbers):
    """Cancelling a batch mid-run leaves no recipient pending, dispatched or in a call."""
    batch = submit_batch([numbers.completes_long] * 1 + numbers.completing(3),
                         dispatch=True, target_concurrency_limit=1)
    running = eventually(
        lambda: (b := client.get(api.get(batch["id"])).json())["total_calls_dispatched"] >= 1
        and b, what="the first call being dispatched")
    assert client.post(api.cancel(batch["id"])).status_code == 200
    fetched = client.get(api.get(batch["id"])).json()
    assert fetched["status"] == "cancelled"
    assert not [r for r in fetched["recipients"] if r["status"] in UNFINISHED]
    check_batch(fetched)
    check_monotonic(running, fetched)


def test_cancelled_batch_places_no_more_calls(client, submit_batch, api, eventually, now):
    """After cancel, time passing dispatches nothing and the batch stays cancelled."""
    batch = submit_batch(3, scheduled_in=60)
    cancelled = client.post(api.cancel(batch["id"])).json()
    start = now()
    later = eventually(
        lambda: now() >= start + 120 and client.get(api.get(batch["id"])).json(),
        within=600, what="two minutes passing")
    assert later["status"] == "cancelled"
    assert later["total_calls_dispatched"] == cancelled["total_calls_dispatched"]
    assert {r["status"] for r in later["recipients"]} == {"cancelled"}


def test_cancel_unknown_batch_is_404(client, api, foreign_id_allowed):
    """Cancelling a batch id that does not exist answers 404."""
    assert client.post(api.cancel("btcal_conformance_does_not_exist")).status_code == 404


def test_cancel_keeps_the_outcome_of_finished_calls(client, submit_batch, api, eventually,
                                                    numbers):
    """Cancel mid-run cancels the calls still to come; a call that already completed stays
    completed. Spec: inferred (a finished call cannot be undone; openapi/README.md)."""
    batch = submit_batch([numbers.completes, numbers.completes_long],
                         dispatch=True, target_concurrency_limit=1)

    def first_done():
        current = client.get(api.get(batch["id"])).json()
        return current if current["recipients"][0]["status"] == "completed" else None

    eventually(first_done, within=3600, what="the first call completing")
    client.post(api.cancel(batch["id"]))
    after = client.get(api.get(batch["id"])).json()
    assert [r["status"] for r in after["recipients"]] == ["completed", "cancelled"]
    assert after["total_calls_finished"] >= 1


def test_cancel_of_a_finished_batch_is_refused(client, submit_batch, api, eventually):
    """Cancelling a batch that already completed answers 409 and leaves it completed.
    Spec: inferred (409 on cancel; openapi/README.md)."""
    batch = submit_batch(1, dispatch=True)
    eventually(lambda: client.get(api.get(batch["id"])).json()["status"] == "completed",
               within=3600, what="the batch completing")
    assert client.post(api.cancel(batch["id"])).status_code == 409
    assert client.get(api.get(batch["id"])).json()["status"] == "completed"
