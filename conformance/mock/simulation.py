"""The clock-driven half of the store: a discrete-event simulation of the calls.

A heap of (time, seq, event, batch seq, recipient index, token) events: the start of a
batch, a refill of its free concurrency slots, or the next step of one call. Events at the
same second run in the order they were scheduled. An event names its batch by sequence
number, never by reference, so a deleted batch is freed at once: its queued events find
nothing and are dropped. Every change of a batch or a recipient goes through `_batch_to` /
`_recipient_to`, which bump `Batch.version` (the response cache's stamp) and log the
transition. `Store` (store.py) adds the operations and the hook points this calls
(`fill_slots`, `is_done`).
"""

from __future__ import annotations

import heapq
from typing import Any

from conformance.api import lifecycle
from conformance.mock.choices import Choices
from conformance.mock.ids import digest
from conformance.mock.model import Batch, Recipient, Transition
from conformance.mock.outcomes import FAILS, Outcome, Step, plan

LIFE = lifecycle()
_NO_CONTACT = plan(Outcome(FAILS))


class Simulation:
    """State the subclass (`Store`) sets up in its `__init__`, declared here."""

    _events: list[tuple[int, int, str, int, int, int]]
    _event_seq: int
    _by_seq: dict[int, Batch]
    _conversation_seq: int
    history: list[Transition]
    record_history: bool
    seed: str
    outcomes: Any
    choices: Choices
    listeners: list[Any]

    def fill_slots(self, batch: Batch) -> int:   # hook point, see store.HOOKS
        return batch.concurrency

    def is_done(self, batch: Batch) -> bool:     # hook point, see store.HOOKS
        return batch.terminal >= len(batch.recipients)

    def _schedule(self, at: int, event: str, batch: Batch, index: int, token: int) -> None:
        self._event_seq += 1
        heapq.heappush(self._events, (at, self._event_seq, event, batch.seq, index, token))

    def _log(self, at: int, batch: Batch, recipient: Recipient | None, old, new) -> None:
        if self.record_history:
            self.history.append(Transition(at, batch.id, recipient.id if recipient else None,
                                           old, new))

    def _batch_to(self, batch: Batch, status: str, at: int) -> None:
        self._log(at, batch, None, batch.status, status)
        batch.version += 1
        batch.status = status
        if at > batch.last_updated:
            batch.last_updated = at

    def _recipient_to(self, batch: Batch, recipient: Recipient, status: str, at: int) -> None:
        old = recipient.status
        self._log(at, batch, recipient, old, status)
        batch.version += 1
        batch.counts[old] -= 1
        batch.counts[status] += 1
        recipient.status = status
        if at > recipient.updated_at:
            recipient.updated_at = at
        if at > batch.last_updated:
            batch.last_updated = at
        for listener in self.listeners:
            listener(batch, recipient, old, status, at)

    def _run_until(self, now: int) -> None:
        events, by_seq = self._events, self._by_seq
        while events and events[0][0] <= now:
            at, _, event, seq, index, token = heapq.heappop(events)
            batch = by_seq.get(seq)
            if batch is None:
                continue                          # deleted: nothing keeps it alive
            if event == "start":
                if token != batch.token or batch.status != "pending":
                    continue
                self._batch_to(batch, "in_progress", at)
                self._fill(batch, at)
                self._check_done(batch, at)
            elif event == "fill":
                if token != batch.token or batch.status != "in_progress":
                    continue
                self._fill(batch, at)
                self._check_done(batch, at)
            else:
                recipient = batch.recipients[index]
                if token != recipient.token:
                    continue
                self._step(batch, recipient, index, at)

    def _step(self, batch: Batch, recipient: Recipient, index: int, at: int) -> None:
        step = recipient.steps[recipient.step_index]
        recipient.step_index += 1
        if step.status == "initiated":
            self._conversation_seq += 1
            recipient.conversation_id = "conv_" + digest(self.seed, "conversation",
                                                         self._conversation_seq)
        self._recipient_to(batch, recipient, step.status, at)
        if recipient.step_index < len(recipient.steps):
            nxt = recipient.steps[recipient.step_index]
            self._schedule(recipient.dispatched_at + nxt.at, "step", batch, index,
                           recipient.token)
        else:
            self._fill(batch, at)
            self._check_done(batch, at)

    def _fill(self, batch: Batch, at: int) -> None:
        """Dispatch pending recipients while the batch has free concurrency slots."""
        if batch.status != "in_progress":
            return
        slots = self.fill_slots(batch)
        while batch.queue and batch.in_flight < slots:
            index = batch.queue.popleft()
            recipient = batch.recipients[index]
            if recipient.status != "pending":
                continue
            self._dispatch(batch, recipient, index, at)

    def _steps(self, batch: Batch, recipient: Recipient) -> tuple[Step, ...]:
        """The outcome table's steps, scaled by `call_time_scale`. A recipient without the
        contact its batch dials (a phone batch's `phone_number`, a WhatsApp batch's
        `whatsapp_user_id`; the schema lets both be absent) fails to set up."""
        contact = recipient.whatsapp_user_id if batch.whatsapp_params is not None \
            else recipient.phone_number
        if not contact:
            steps = _NO_CONTACT
        else:
            steps = tuple(self.outcomes.steps(
                recipient.phone_number, recipient.whatsapp_user_id, recipient.attempt,
                int(batch.telephony_call_config.get("ringing_timeout_secs", 60))))
        scale = self.choices.call_time_scale
        if scale == 1.0:
            return steps
        out, last = [], 1
        for step in steps:
            last = max(last, round(step.at * scale))
            out.append(Step(last, step.status))
        return tuple(out)

    def _dispatch(self, batch: Batch, recipient: Recipient, index: int, at: int) -> None:
        recipient.attempt += 1
        recipient.dispatched = True
        recipient.dispatched_at = at
        recipient.steps = self._steps(batch, recipient)
        recipient.step_index = 0
        batch.dispatched += 1
        self._recipient_to(batch, recipient, "dispatched", at)
        if recipient.steps:
            self._schedule(at + recipient.steps[0].at, "step", batch, index, recipient.token)

    def _check_done(self, batch: Batch, at: int) -> None:
        if batch.status != "in_progress" or not self.is_done(batch):
            return
        all_failed = bool(batch.recipients) and batch.counts["failed"] == len(batch.recipients)
        ending = self.choices.all_failed_batch_status if all_failed else "completed"
        self._batch_to(batch, ending, at)
