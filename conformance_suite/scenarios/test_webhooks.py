"""Post-call webhooks of batch calls: every call that ends produces one signed event that
names its batch and recipient; failed deliveries are retried as the vendor documents.

Spec: openapi/webhooks/batch-call-webhooks.yaml (grades in docs/webhooks.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from importlib.util import find_spec

import pytest

from conformance.api import lifecycle
from conformance.exchanges import BrokenAnswer
from conformance.spec import load_spec
from conformance.webhooks.events import (
    INITIATION_FAILURE,
    TRANSCRIPTION,
    batch_link,
    delivery_rules,
    event_type_for,
    validate_event,
)
from conformance.webhooks.signing import parse, verify

# Deliveries reach a receiver, not the client: there is nothing a cassette could replay
# (webhook_setup skips on cassettes and on a remote server without a receiver).
pytestmark = pytest.mark.no_cassette

FINISHED_BATCH = ("completed", "failed", "cancelled")


@pytest.fixture
def mock_app(webhook_setup):
    """This module's mock delivers webhooks to the test's receiver (None when live)."""
    return webhook_setup.app


@pytest.fixture
def receiver(webhook_setup, now):
    """The test's receiver; it stamps each arrival with the target's clock (the mock's, or a
    live server's `Date`), the clock a delivery's `t` is judged against."""
    webhook_setup.receiver.clock = now
    return webhook_setup.receiver


def _finished(client, api, batch_id):
    batch = client.get(api.paths.get(batch_id)).json()
    return batch if batch["status"] in FINISHED_BATCH else None


def _arrivals(receiver, batch_id):
    """(received, payload) for every delivery naming `batch_id`, in arrival order."""
    out = []
    for received in list(receiver.requests):
        try:
            payload = json.loads(received.body)
        except ValueError:
            continue
        if batch_link(payload)[0] == batch_id:
            out.append((received, payload))
    return out


def _run_to_the_end(submit_batch, client, api, eventually, receiver, recipients, **fields):
    """Submit, wait for the batch to finish and for one event per finished recipient."""
    batch = submit_batch(recipients, dispatch=True, **fields)
    done = eventually(lambda: _finished(client, api, batch["id"]), within=7200,
                      what="the batch to finish")
    ended = [r for r in done["recipients"] if event_type_for(r["status"])]
    try:
        eventually(lambda: len(_arrivals(receiver, done["id"])) >= len(ended), within=600,
                   what="an event for every finished call")
    except AssertionError as exc:
        got = _arrivals(receiver, done["id"])
        # Events missing when the server reaches the receiver (in-process, or it delivered
        # something during this run) are the server's failure; when nothing at all ever
        # arrived at a remote receiver, its forwarding may be what is broken: could not run.
        if receiver.reached_directly or receiver.requests:
            raise BrokenAnswer(
                f"{len(got)} post-call event(s) for the {len(ended)} finished call(s) of "
                f"{done['id']} within 600 s after the batch finished",
                requirement="WEBHOOK-1",
                rule="every recipient whose call ended receives a post-call event") from exc
        raise
    return done, _arrivals(receiver, done["id"])


@pytest.fixture
def mixed_run(submit_batch, client, api, eventually, receiver, numbers):
    """A batch whose calls complete, fail, reach voicemail and go unanswered."""
    return _run_to_the_end(submit_batch, client, api, eventually, receiver,
                           [numbers.completes, numbers.fails, numbers.voicemail,
                            numbers.no_answer])


@pytest.mark.requirement("WEBHOOK-1")
def test_every_finished_recipient_gets_exactly_one_event(mixed_run):
    """Each recipient whose call ended receives one event; repeats are only retries of an
    attempt the receiver did not accept (same body, earlier answer not 200)."""
    batch, arrivals = mixed_run
    by_recipient = defaultdict(list)
    for received, payload in arrivals:
        by_recipient[batch_link(payload)[1]].append(received)
    ended = {r["id"] for r in batch["recipients"] if event_type_for(r["status"])}
    assert set(by_recipient) == ended
    for recipient_id, copies in by_recipient.items():
        assert len({c.body for c in copies}) == 1, f"{recipient_id}: different events"
        accepted = [i for i, c in enumerate(copies) if c.status == 200]
        assert accepted == [len(copies) - 1], (
            f"{recipient_id}: delivered again after it was accepted "
            f"(answers {[c.status for c in copies]})")


@pytest.mark.requirement("WEBHOOK-2")
def test_event_type_matches_how_the_call_ended(mixed_run):
    """A call that could not be placed sends call_initiation_failure; one that ended
    (completed, voicemail) sends post_call_transcription."""
    batch, arrivals = mixed_run
    status = {r["id"]: r["status"] for r in batch["recipients"]}
    for _, payload in arrivals:
        recipient_id = batch_link(payload)[1]
        assert payload["type"] == event_type_for(status[recipient_id]), (
            f"{recipient_id} ended {status[recipient_id]} but sent {payload['type']}")


@pytest.mark.requirement("WEBHOOK-3")
def test_every_signature_verifies(mixed_run, webhook_setup):
    """Every delivery's ElevenLabs-Signature verifies over the raw body with the webhook
    secret (our verifier, conformance/webhooks/signing.py)."""
    _, arrivals = mixed_run
    assert arrivals
    for received, _payload in arrivals:
        verify(received.signature, received.body, webhook_setup.secret,
               now=received.received_at)


@pytest.mark.requirement("WEBHOOK-3")
@pytest.mark.skipif(find_spec("elevenlabs") is None, reason="the official elevenlabs SDK is not "
                    "installed (optional: pip install 'conformance[sdk]')")
def test_the_official_sdk_accepts_every_delivery(mixed_run, webhook_setup):
    """The official SDK's construct_event accepts every delivery and decodes the body we
    received. The SDK is optional: without it this test skips and says why; our own verifier
    (the test above) still checks every signature."""
    from elevenlabs import errors  # lazy: optional dependency (the [sdk] extra)
    from elevenlabs.webhooks_custom import WebhooksClient  # lazy: optional dependency

    _, arrivals = mixed_run
    sdk = WebhooksClient(client_wrapper=None)
    for received, payload in arrivals:
        try:
            event = sdk.construct_event(rawBody=received.body.decode("utf-8"),
                                        sig_header=received.signature,
                                        secret=webhook_setup.secret)
        except errors.BadRequestError as exc:
            # No traceback: the SDK's frame would show the secret it was given.
            pytest.fail(f"the SDK rejects a delivery: {exc.body}", pytrace=False)
        assert event == payload


@pytest.mark.requirement("WEBHOOK-4")
def test_signature_timestamp_is_within_tolerance(mixed_run):
    """The signature's t is within 30 minutes of the moment the delivery arrives."""
    _, arrivals = mixed_run
    tolerance = delivery_rules().tolerance_secs
    for received, _ in arrivals:
        t, _ = parse(received.signature)
        assert abs(received.received_at - t) <= tolerance, (
            f"t={t} is {received.received_at - t:+.0f} s from arrival")


@pytest.mark.requirement("WEBHOOK-5")
def test_payload_validates_against_the_webhook_schema(mixed_run):
    """Each payload validates against its event type's schema in the spec's webhooks."""
    _, arrivals = mixed_run
    spec = load_spec("elevenlabs")
    problems = [e for _, payload in arrivals for e in validate_event(spec, payload)]
    assert problems == []


@pytest.mark.requirement("WEBHOOK-6")
def test_links_name_a_batch_and_recipient_of_this_run(mixed_run, client, api):
    """data.metadata.batch_call names this run's batch and one of its recipients, and the
    event's conversation is that recipient's."""
    batch, arrivals = mixed_run
    fetched = client.get(api.paths.get(batch["id"]))
    assert fetched.status_code == 200
    recipients = {r["id"]: r for r in fetched.json()["recipients"]}
    for _, payload in arrivals:
        batch_id, recipient_id = batch_link(payload)
        assert batch_id == batch["id"]
        assert recipient_id in recipients, f"no recipient {recipient_id!r} in the batch"
        conversation = payload["data"].get("conversation_id")
        assert conversation == recipients[recipient_id]["conversation_id"]


@pytest.mark.requirement("EXPORT-5")
def test_export_rows_agree_with_the_post_call_events(mixed_run, client, api):
    """Each finished recipient's export row carries its event's conversation_id, and a
    status whose event type is the one that was sent."""
    batch, arrivals = mixed_run
    response = client.get(api.paths.export(batch["id"]))
    assert response.status_code == 200
    field_of = dict(api.export_columns)
    rows = {}
    for row in csv.DictReader(io.StringIO(response.text)):
        values = {field_of[c]: (v or None) for c, v in row.items() if c in field_of}
        rows[values.get("id")] = values
    assert arrivals
    for _, payload in arrivals:
        recipient_id = batch_link(payload)[1]
        assert recipient_id in rows, f"no export row for {recipient_id!r}"
        row = rows[recipient_id]
        assert row.get("conversation_id") == payload["data"].get("conversation_id"), (
            f"{recipient_id}: row {row.get('conversation_id')!r}, event "
            f"{payload['data'].get('conversation_id')!r}")
        assert event_type_for(row.get("status") or "") == payload["type"], (
            f"{recipient_id}: row status {row.get('status')!r}, event {payload['type']}")


@pytest.mark.requirement("WEBHOOK-7")
def test_cancelled_recipients_get_no_event(submit_batch, client, api, eventually, receiver,
                                           webhook_setup, numbers, needs_outcomes):
    """Cancelling a batch with a call in flight sends no event for any cancelled recipient
    (the call that finished before the cancel still sends its own)."""
    batch = submit_batch([numbers.completes, numbers.completes_long, numbers.completes_long],
                         dispatch=True, target_concurrency_limit=1)
    life = lifecycle()
    second = eventually(
        lambda: (s := client.get(api.paths.get(batch["id"])).json()["recipients"][1]["status"])
        in life.recipient_in_flight | life.recipient_terminal and s,
        what="the second call to be placed")
    if second not in life.recipient_in_flight:
        pytest.skip(f"the second call was {second} before it could be cancelled mid-way")
    assert client.post(api.paths.cancel(batch["id"])).status_code == 200
    recipients = client.get(api.paths.get(batch["id"])).json()["recipients"]
    first = recipients[0]["id"]
    cancelled = {r["id"] for r in recipients if r["status"] == "cancelled"}
    assert recipients[0]["status"] == "completed" and len(cancelled) == 2
    # Absence cannot be waited for: a later call's event is the bound (events sent after
    # the cancel are assumed to arrive in order, inferred), and on the mock an hour passes.
    anchor = submit_batch([numbers.completes], dispatch=True)
    eventually(lambda: _arrivals(receiver, anchor["id"]), within=600,
               what="the event of a call placed after the cancel")
    if webhook_setup.controls_deliveries:
        webhook_setup.app.state.store.advance(3600)   # anything still due is sent by now
    named = {batch_link(p)[1] for _, p in _arrivals(receiver, batch["id"])}
    assert named == {first}, f"events for cancelled recipients {sorted(named & cancelled)}"


@pytest.fixture
def mock_deliveries(webhook_setup):
    if not webhook_setup.controls_deliveries:
        pytest.skip("the retry schedule is observed on the mock's clock; live checks only "
                    "what arrives")
    return webhook_setup


@pytest.mark.requirement("WEBHOOK-8")
def test_server_error_is_retried_on_the_documented_schedule(
        mock_deliveries, submit_batch, client, api, eventually, receiver, numbers):
    """A post_call_transcription answered 503 is sent again with the same body, after the
    documented delays (immediately, 30 s, 2 min, ...), until it is accepted."""
    receiver.answer(503, times=3)
    _, arrivals = _run_to_the_end(submit_batch, client, api, eventually, receiver,
                                  [numbers.completes])
    eventually(lambda: len(_arrivals(receiver, arrivals[0][1]["data"]["metadata"]
                                     ["batch_call"]["batch_call_id"])) >= 4,
               what="the third retry")
    copies = [r for r, _ in _arrivals(receiver, batch_link(arrivals[0][1])[0])]
    assert [c.status for c in copies] == [503, 503, 503, 200]
    assert len({c.body for c in copies}) == 1
    times = [parse(c.signature)[0] for c in copies]
    delays = delivery_rules().retry_delays_secs
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == list(delays[:3])
    (entry,) = [d for d in mock_deliveries.log() if d["event_type"] == TRANSCRIPTION]
    assert [a["outcome"] for a in entry["attempts"]] == ["retry", "retry", "retry",
                                                         "delivered"]


@pytest.mark.requirement("WEBHOOK-9")
def test_client_error_is_not_retried(mock_deliveries, submit_batch, client, api, eventually,
                                     receiver, numbers):
    """A delivery answered 400 is never sent again (4xx is not retryable)."""
    receiver.answer(400, times=1)
    batch, arrivals = _run_to_the_end(submit_batch, client, api, eventually, receiver,
                                      [numbers.completes])
    mock_deliveries.app.state.store.advance(3 * 3600)
    copies = _arrivals(receiver, batch["id"])
    assert [r.status for r, _ in copies] == [400]
    (entry,) = mock_deliveries.log()
    assert entry["state"] == "failed"
    assert [a["status"] for a in entry["attempts"]] == [400]


@pytest.mark.requirement("WEBHOOK-10")
def test_initiation_failure_is_not_retried(mock_deliveries, submit_batch, client, api,
                                           eventually, receiver, numbers):
    """Retries are only documented for post_call_transcription: a call_initiation_failure
    answered 503 is sent once."""
    receiver.answer(503)
    batch, _ = _run_to_the_end(submit_batch, client, api, eventually, receiver,
                               [numbers.fails])
    mock_deliveries.app.state.store.advance(3 * 3600)
    copies = _arrivals(receiver, batch["id"])
    assert [(p["type"], r.status) for r, p in copies] == [(INITIATION_FAILURE, 503)]


@pytest.mark.requirement("WEBHOOK-11")
def test_retries_stop_after_five(mock_deliveries, submit_batch, client, api, eventually,
                                 receiver, numbers):
    """A receiver that always answers 500 gets the first attempt and five retries, then
    nothing more."""
    receiver.answer(500)
    batch, _ = _run_to_the_end(submit_batch, client, api, eventually, receiver,
                               [numbers.completes])
    mock_deliveries.app.state.store.advance(6 * 3600)
    copies = _arrivals(receiver, batch["id"])
    assert len(copies) == 1 + len(delivery_rules().retry_delays_secs)
    (entry,) = mock_deliveries.log()
    assert entry["state"] == "failed"
