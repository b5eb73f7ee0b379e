"""Named webhook faults: deliveries broken on purpose, each caught by a named test of
conformance_suite/scenarios/test_webhooks.py (conformance/mock/fault_matrix.json).

Registered in the same table as every other fault (a definition module of this package), in
the category `webhooks`. Each patches one hook point: the app's `MockWebhooks.event_for`
(through `registry.hook`), or its `Dispatcher`'s `sign`, `timestamp` or `copies`; without
`--webhook-url` there is nothing to patch and the fault changes nothing.
"""

from __future__ import annotations

from conformance.api import lifecycle
from conformance.mock.faults.registry import fault, hook
from conformance.webhooks.events import INITIATION_FAILURE, TRANSCRIPTION, build_event
from conformance.webhooks.signing import sign

CATEGORY = "webhooks"


def _hooks(parts):
    return getattr(parts, "webhooks", None)


def _around_event_for(parts, change) -> None:
    """Route every event through `change(orig, batch, recipient, old, new, at)`, where
    `orig` is the app's own `MockWebhooks.event_for` (nothing to patch without webhooks)."""
    if _hooks(parts) is None:
        return

    def make(orig):
        def event_for(batch, recipient, old, new, at):
            return change(orig, batch, recipient, old, new, at)
        return event_for
    hook(parts, "webhooks", "event_for", make)


@fault("webhook-bad-signature", CATEGORY,
       "Deliveries are signed with a key other than the webhook secret.")
def _bad_signature(parts):
    hooks = _hooks(parts)
    if hooks is not None:
        hooks.dispatcher.sign = lambda secret, body, t: sign(secret + "-not-this-one", body, t)


@fault("webhook-stale-timestamp", CATEGORY,
       "The signature's timestamp is an hour old (outside the 30-minute tolerance).")
def _stale_timestamp(parts):
    hooks = _hooks(parts)
    if hooks is not None:
        hooks.dispatcher.timestamp = lambda at: at - 3600


@fault("webhook-missing-recipient-link", CATEGORY,
       "Events leave `batch_call_recipient_id` out of `data.metadata.batch_call`.")
def _missing_recipient_link(parts):
    def change(orig, batch, recipient, old, new, at):
        event = orig(batch, recipient, old, new, at)
        if event is not None:
            event["data"]["metadata"]["batch_call"].pop("batch_call_recipient_id", None)
        return event
    _around_event_for(parts, change)


@fault("webhook-duplicate-delivery", CATEGORY,
       "Every delivery attempt is sent twice.")
def _duplicate_delivery(parts):
    hooks = _hooks(parts)
    if hooks is not None:
        hooks.dispatcher.copies = 2


@fault("webhook-cancelled-recipient-event", CATEGORY,
       "Cancelling a call in flight sends a `call_initiation_failure` for its recipient.")
def _cancelled_recipient_event(parts):
    def change(orig, batch, recipient, old, new, at):
        if new == "cancelled" and old in lifecycle().recipient_in_flight:
            return build_event(_hooks(parts).call_end(batch, recipient, "failed", at),
                               INITIATION_FAILURE)
        return orig(batch, recipient, old, new, at)
    _around_event_for(parts, change)


@fault("webhook-failed-as-transcription", CATEGORY,
       "A call that could not be placed sends `post_call_transcription` instead of "
       "`call_initiation_failure`.")
def _failed_as_transcription(parts):
    def change(orig, batch, recipient, old, new, at):
        if new == "failed":
            return build_event(_hooks(parts).call_end(batch, recipient, new, at),
                               TRANSCRIPTION)
        return orig(batch, recipient, old, new, at)
    _around_event_for(parts, change)


@fault("webhook-failed-calls-unannounced", CATEGORY,
       "A call that could not be placed sends no event at all (the others still do).")
def _failed_calls_unannounced(parts):
    def change(orig, batch, recipient, old, new, at):
        return None if new == "failed" else orig(batch, recipient, old, new, at)
    _around_event_for(parts, change)
