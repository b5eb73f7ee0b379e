"""The mock's post-call webhooks: one signed event per finished call, on the mock's clock.

Wiring (kept here so the rest of the mock changes by a few lines): the store calls its
`listeners` on every recipient transition and its `after_sync` hooks once it has caught up
with the clock. `MockWebhooks` listens for calls that end (`completed`, `voicemail`,
`failed`; never `cancelled`), builds the event (conformance.webhooks.events) and queues it
at the end time; the deliveries due are sent when the store's clock passes them
(`store.advance(n)` in tests), by a `Dispatcher` (conformance.webhooks.delivery) that
signs, retries and logs. Served (`conformance-mock --webhook-url`), a background thread
sends them instead, outside the store's lock, so a slow receiver never blocks the API.

Faults (conformance/mock/faults/webhooks.py) patch `event_for` or the dispatcher's parts.
"""

from __future__ import annotations

import threading

from starlette.requests import Request
from starlette.responses import JSONResponse

from conformance.api import lifecycle
from conformance.mock.outcomes import DIAL_SECS
from conformance.webhooks.delivery import Dispatcher, check_loopback_url
from conformance.webhooks.events import CallEnd, build_event, delivery_rules


class MockWebhooks:
    def __init__(self, store, dispatcher: Dispatcher, *, background: bool = False,
                 interval: float = 0.2) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.background = background
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        store.listeners.append(self.on_transition)
        store.after_sync.append(self.on_sync)

    # The store's hooks ------------------------------------------------------------------
    def on_transition(self, batch, recipient, old: str, new: str, at: int) -> None:
        event = self.event_for(batch, recipient, old, new, at)
        if event is not None:
            self.dispatcher.queue(event, at)

    def on_sync(self, now: int) -> None:
        if not self.background:
            self.dispatcher.run_until(now)

    # What a transition produces -------------------------------------------------------------
    def event_for(self, batch, recipient, old: str, new: str, at: int) -> dict | None:
        """The event of a call that just ended, or None (cancel, re-queue, in-flight steps)."""
        if new not in lifecycle().recipient_finished:
            return None
        return build_event(self.call_end(batch, recipient, new, at))

    def call_end(self, batch, recipient, status: str, at: int) -> CallEnd:
        started = recipient.dispatched_at + DIAL_SECS
        ringing = int(batch.telephony_call_config.get("ringing_timeout_secs", 60))
        # A failed call that rang for the whole ringing timeout was not answered.
        reason = "no-answer" if status == "failed" and at - started >= ringing else "unknown"
        return CallEnd(batch_id=batch.id, recipient_id=recipient.id, agent_id=batch.agent_id,
                       conversation_id=recipient.conversation_id, status=status,
                       started_at=started, ended_at=at, failure_reason=reason,
                       client_data=recipient.client_data)

    # Served: a thread sends what is due -------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mock-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = self.store.sync()
            self.dispatcher.run_until(now)


def attach_webhooks(parts, url: str | None, secret: str | None, *, retries: bool = True,
                    sender=None, background: bool = False) -> MockWebhooks | None:
    """Webhooks for the app's store (None without a URL); ValueError on a bad set-up."""
    if url is None:
        return None
    if not parts.profile.webhooks:
        raise ValueError(f"the {parts.profile.name} dialect has no webhooks (its profile says "
                         "webhooks = false)")
    check_loopback_url(url)
    dispatcher = Dispatcher(url, secret or "", delivery_rules(parts.profile.name),
                            sender=sender, retries=retries)
    hooks = MockWebhooks(parts.store, dispatcher, background=background)
    if background:
        hooks.start()
    return hooks


def admin_endpoint(parts):
    """GET /_mock/webhooks: the set-up (secret as a fingerprint) and every delivery's log."""
    async def admin_webhooks(request: Request) -> JSONResponse:
        hooks = parts.webhooks
        if hooks is None:
            return JSONResponse({"enabled": False, "deliveries": []})
        now = parts.store.sync()
        return JSONResponse({"enabled": True, "now": now, **hooks.dispatcher.status(),
                             "deliveries": hooks.dispatcher.log()})
    return admin_webhooks
