"""The mock's webhook delivery: set-up rules, the delivery log, the dispatcher's retry and
auto-disable rules, each webhook fault's observable effect, the served (threaded) path, and
the webhooks in the spec and its dialects."""

from __future__ import annotations

import json
import time

import pytest

from conformance.fictional import fingerprint
from conformance.mock import FAULTS, NUMBERS, create_app
from conformance.mock.__main__ import main as mock_main
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.spec import load_spec
from conformance.webhooks.delivery import Dispatcher, SendResult
from conformance.webhooks.events import (
    INITIATION_FAILURE,
    TRANSCRIPTION,
    batch_link,
    delivery_rules,
    validate_event,
)
from conformance.webhooks.receiver import Receiver
from conformance.webhooks.signing import SignatureError, parse, verify

SECRET = "whsec-mock-test-secret-0001"
URL = "http://127.0.0.1:9/webhook"
WEBHOOK_FAULTS = sorted(n for n, f in FAULTS.items() if f.category == "webhooks")


class Recorder:
    """An injected sender: records each POST and answers from a script (then 200)."""

    def __init__(self, *statuses):
        self.script = list(statuses)
        self.sent: list[tuple[bytes, dict]] = []

    def __call__(self, url, body, headers):
        self.sent.append((body, headers))
        return SendResult(self.script.pop(0) if self.script else 200)

    def events(self):
        return [json.loads(body) for body, _ in self.sent]


def _app(sender, **kw):
    return create_app(webhook_url=URL, webhook_secret=SECRET, webhook_sender=sender, **kw)


def _submit(app, *names, **fields):
    store = app.state.store
    workspace = app.state.parts.auth.keys["mock-key-local"]
    return store.submit(workspace, {"call_name": "t", "agent_id": "agent_1", **fields,
                                    "recipients": [{"phone_number": NUMBERS[n]} for n in names]})


# --- set-up ---------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://example.com/hook", "http://10.0.0.1/hook",
                                 "ftp://127.0.0.1/hook", "http://u:p@127.0.0.1/hook"])
def test_only_loopback_webhook_urls_are_accepted(url):
    with pytest.raises(ValueError, match="webhook URL"):
        create_app(webhook_url=url, webhook_secret=SECRET)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8/h", "http://[::1]:8/h",
                                 "https://localhost/h"])
def test_loopback_urls_are_accepted(url):
    assert create_app(webhook_url=url, webhook_secret=SECRET).state.parts.webhooks is not None


def test_cli_refuses_a_public_url_and_a_missing_secret(capsys, monkeypatch):
    monkeypatch.delenv("CONFORMANCE_MOCK_WEBHOOK_SECRET", raising=False)
    assert mock_main(["--webhook-url", "http://example.com/h", "--webhook-secret", "s"]) == 2
    assert "not loopback" in capsys.readouterr().err
    assert mock_main(["--webhook-url", URL]) == 2
    assert "needs --webhook-secret" in capsys.readouterr().err


def test_voiceai_dialect_has_no_webhooks():
    """voiceai.toml says webhooks = false: no `webhooks:` in its spec, and the mock refuses."""
    assert "webhooks" not in load_spec("voiceai")
    assert "x-conformance-webhook-delivery" not in load_spec("voiceai")
    assert "PostCallTranscriptionEvent" not in load_spec("voiceai")["components"]["schemas"]
    with pytest.raises(ValueError, match="no webhooks"):
        create_app("voiceai", webhook_url=URL, webhook_secret=SECRET)


def test_spec_webhooks_and_their_grades():
    """Three event types, the signature header required, every addition graded."""
    spec = load_spec()
    assert set(spec["webhooks"]) == {"postCallTranscription", "postCallAudio",
                                     "callInitiationFailure"}
    for hook in spec["webhooks"].values():
        post = hook["post"]
        assert post["x-conformance-source"] in ("documented", "observed", "inferred")
        (header,) = post["parameters"]
        assert header["name"] == "ElevenLabs-Signature" and header["required"]
    schemas = spec["components"]["schemas"]
    for name in ("PostCallTranscriptionEvent", "CallInitiationFailureEvent",
                 "PostCallAudioEvent", "WebhookBatchCallLink"):
        assert schemas[name]["x-conformance-source"] in ("documented", "inferred")
    rules = delivery_rules()
    assert rules.tolerance_secs == 1800 and rules.retry_delays_secs == (0, 30, 120, 480, 1800)
    assert rules.is_retryable(503) and rules.is_retryable(429) and not rules.is_retryable(404)


# --- what the mock sends --------------------------------------------------------------------
def test_one_valid_signed_event_per_finished_call():
    sender = Recorder()
    app = _app(sender)
    batch = _submit(app, "completes", "fails", "voicemail", "no_answer")
    app.state.store.advance(400)
    by_recipient = {batch_link(e)[1]: e for e in sender.events()}
    assert len(sender.sent) == 4 and set(by_recipient) == {r.id for r in batch.recipients}
    types = [by_recipient[r.id]["type"] for r in batch.recipients]
    assert types == [TRANSCRIPTION, INITIATION_FAILURE, TRANSCRIPTION, INITIATION_FAILURE]
    reasons = [by_recipient[r.id]["data"].get("failure_reason") for r in batch.recipients]
    assert reasons == [None, "unknown", None, "no-answer"]
    assert by_recipient[batch.recipients[2].id]["data"]["metadata"]["termination_reason"] == \
        "voicemail"
    for body, headers in sender.sent:
        t = verify(headers["ElevenLabs-Signature"], body, SECRET, now=app.state.store.now())
        assert validate_event(app.state.spec, json.loads(body)) == []
        assert t == json.loads(body)["event_timestamp"]


def test_deliveries_wait_for_the_clock():
    """An event is queued at the call's end and sent only when the clock passes it."""
    sender = Recorder()
    app = _app(sender)
    _submit(app, "completes")                 # ends 1 + 5 + 30 = 36 s after dispatch
    app.state.store.advance(35)
    assert sender.sent == []
    app.state.store.advance(1)
    assert len(sender.sent) == 1


def test_retries_can_be_switched_off():
    sender = Recorder(503)
    app = _app(sender, webhook_retries=False)
    _submit(app, "completes")
    app.state.store.advance(7200)
    assert len(sender.sent) == 1


def test_admin_log_shows_attempts_status_and_time_never_the_secret():
    from starlette.testclient import TestClient

    sender = Recorder(502)
    app = _app(sender, admin=True)
    _submit(app, "completes")
    app.state.store.advance(100)
    response = TestClient(app).get("/_mock/webhooks")
    assert response.status_code == 200
    assert SECRET not in response.text
    doc = response.json()
    assert doc["enabled"] and doc["secret"] == fingerprint(SECRET) and doc["retries"]
    (delivery,) = doc["deliveries"]
    assert delivery["state"] == "delivered"
    attempts = delivery["attempts"]
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 502, "retry"), (2, 200, "delivered")]
    assert attempts[0]["at"] == attempts[1]["at"] == delivery["queued_at"]


def test_admin_log_without_webhooks_and_without_admin():
    from starlette.testclient import TestClient

    assert TestClient(create_app(admin=True)).get("/_mock/webhooks").json() == {
        "enabled": False, "deliveries": []}
    assert TestClient(create_app()).get("/_mock/webhooks").status_code == 404


# --- the dispatcher's rules -----------------------------------------------------------------
def _event(n: int) -> dict:
    return {"type": TRANSCRIPTION, "event_timestamp": 0, "data": {"metadata": {
        "batch_call": {"batch_call_id": "b", "batch_call_recipient_id": f"r{n}"}}}}


def test_connection_errors_are_retried():
    calls = []

    def sender(url, body, headers):
        calls.append(1)
        return SendResult(None, "ConnectError") if len(calls) == 1 else SendResult(200)

    dispatcher = Dispatcher(URL, SECRET, delivery_rules(), sender=sender)
    dispatcher.queue(_event(1), 100)
    dispatcher.run_until(100)
    assert [d["state"] for d in dispatcher.log()] == ["delivered"] and len(calls) == 2


def test_auto_disabled_after_ten_consecutive_failures_without_success():
    dispatcher = Dispatcher(URL, SECRET, delivery_rules(), sender=Recorder(*[404] * 20),
                            retries=False)
    for n in range(12):
        dispatcher.queue(_event(n), 100 + n)
    dispatcher.run_until(200)
    states = [d["state"] for d in dispatcher.log()]
    assert states == ["failed"] * 10 + ["skipped"] * 2
    assert dispatcher.status()["auto_disabled"]


def test_at_most_one_hundred_retries_wait():
    dispatcher = Dispatcher(URL, SECRET, delivery_rules(), sender=Recorder(*[503] * 300))
    dispatcher.last_success = 10**12     # a recent success: no auto-disable in this test
    for n in range(101):
        dispatcher.queue(_event(n), 100)
    dispatcher.run_until(100 + 29)       # first attempts, and the immediate retries
    states = [d["state"] for d in dispatcher.log()]
    assert states.count("dropped") == 1 and dispatcher.pending() == 100


def test_dispatcher_repr_hides_the_secret():
    dispatcher = Dispatcher(URL, SECRET, delivery_rules(), sender=Recorder())
    assert SECRET not in repr(dispatcher) and fingerprint(SECRET) in repr(dispatcher)
    with pytest.raises(ValueError, match="secret"):
        Dispatcher(URL, "", delivery_rules(), sender=Recorder())


# --- each webhook fault changes what is sent ------------------------------------------------
def _probe_bad_signature(sender, app):
    body, headers = sender.sent[0]
    try:
        verify(headers["ElevenLabs-Signature"], body, SECRET, now=app.state.store.now())
    except SignatureError as exc:
        return exc.reason
    return "ok"


def _probe_stale(sender, app):
    body, headers = sender.sent[0]
    return app.state.store.now() - parse(headers["ElevenLabs-Signature"])[0] <= 1800


def _probe_cancelled(sender, app):
    return len(sender.sent)


PROBES = {
    "webhook-bad-signature": (_probe_bad_signature, "ok"),
    "webhook-stale-timestamp": (_probe_stale, True),
    "webhook-missing-recipient-link": (lambda s, a: batch_link(s.events()[0])[1] is not None,
                                       True),
    "webhook-duplicate-delivery": (lambda s, a: len(s.sent), 2),
    "webhook-cancelled-recipient-event": (_probe_cancelled, 0),
    "webhook-failed-as-transcription": (lambda s, a: sorted(e["type"] for e in s.events()),
                                        [INITIATION_FAILURE, TRANSCRIPTION]),
    "webhook-failed-calls-unannounced": (lambda s, a: sorted(e["type"] for e in s.events()),
                                         [INITIATION_FAILURE, TRANSCRIPTION]),
}


def _scenario(name, faults):
    sender = Recorder()
    app = _app(sender, faults=faults)
    if name == "webhook-cancelled-recipient-event":
        batch = _submit(app, "completes_long")
        app.state.store.advance(10)
        app.state.store.cancel(batch.workspace, batch.id)
        app.state.store.advance(3600)
    else:
        _submit(app, "completes", "fails")
        app.state.store.advance(400)
    return sender, app


def test_every_webhook_fault_has_a_probe():
    assert set(PROBES) == set(WEBHOOK_FAULTS) and len(WEBHOOK_FAULTS) == 7


@pytest.mark.parametrize("name", WEBHOOK_FAULTS)
def test_webhook_fault_changes_what_is_sent(name):
    probe, clean = PROBES[name]
    assert probe(*_scenario(name, [])) == clean
    assert probe(*_scenario(name, [name])) != clean, f"{name} had no observable effect"


@pytest.mark.parametrize("name", WEBHOOK_FAULTS)
def test_webhook_faults_do_nothing_without_webhooks(name):
    app = create_app(faults=[name])
    assert app.state.parts.webhooks is None


# --- served: a thread sends, over real HTTP to a loopback receiver --------------------------
def test_served_mock_delivers_in_the_background():
    """With a wall clock (60x) and no request polling it, the served mock still delivers
    each finished call's event over HTTP, signed, outside the API's request path."""
    with Receiver() as receiver:
        app = create_app(clock=WallClock(time_scale=60), webhook_url=receiver.url,
                         webhook_secret=SECRET, webhook_background=True)
        try:
            with served(app):
                _submit(app, "completes", "fails")
                deadline = time.monotonic() + 30
                while len(receiver.requests) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            app.state.parts.webhooks.stop()
    assert sorted(json.loads(r.body)["type"] for r in receiver.requests) == [
        INITIATION_FAILURE, TRANSCRIPTION]
    for r in receiver.requests:
        verify(r.signature, r.body, SECRET)   # wall clock: t is real time (scaled)
