"""The mock's domain: workspaces of batch calls whose recipients are called on a clock.

Pure domain (no HTTP). Time is driven by an injectable clock; the store catches up with
the clock lazily (`sync`, called by every public method) by running a discrete-event
simulation: a heap of (time, seq) events, each the next step of one call or the start of
a batch. Events at the same second run in the order they were scheduled, so the same
inputs always give the same history, whatever moment the state is observed at.

Lifecycle rules (repeated in README.md):

Batch: ``pending`` at submit -> ``in_progress`` at its start time (``scheduled_time_unix``,
or the submit time when it is null or in the past) -> ``completed`` when every recipient
is terminal, or ``failed`` when every recipient ended ``failed`` (and there is at least
one). ``cancel`` moves a pending or in-progress batch to ``cancelled``. ``retry`` moves a
completed or failed batch back to ``in_progress``.

Recipient: ``pending`` -> ``dispatched`` (takes a concurrency slot) -> ``initiated``
(``conversation_id`` assigned) -> ``in_progress`` (answered) -> ``completed`` |
``voicemail``; or ``initiated`` -> ``failed`` (set-up error or no answer). Cancel turns
every non-terminal recipient ``cancelled``; retry turns ``failed`` and ``voicemail`` ones
back to ``pending`` (new attempt, ``conversation_id`` cleared).

Counters, true at every instant: ``total_calls_scheduled`` = number of recipients;
``total_calls_dispatched`` = recipients dispatched in the current round (not pending;
cancelled ones count only if they had been dispatched); ``total_calls_finished`` =
recipients ``completed`` + ``failed`` + ``voicemail``. So finished <= dispatched <=
scheduled. In flight (``dispatched`` + ``initiated`` + ``in_progress``) never exceeds the
batch's ``target_concurrency_limit`` (DEFAULT_CONCURRENCY when null).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import threading
from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from conformance.mock.clock import Clock, ManualClock
from conformance.mock.outcomes import DEFAULT_OUTCOMES

DEFAULT_CONCURRENCY = 10
DEFAULT_PROVIDERS = ("twilio", "sip_trunk", "exotel")
DEFAULT_TELEPHONY = {"ringing_timeout_secs": 60, "twilio_call_recording_enabled": False}

IN_FLIGHT = frozenset({"dispatched", "initiated", "in_progress"})
FINISHED = frozenset({"completed", "failed", "voicemail"})
TERMINAL = FINISHED | {"cancelled"}
RETRYABLE = frozenset({"failed", "voicemail"})
CANCELLABLE_BATCH = frozenset({"pending", "in_progress"})
RETRYABLE_BATCH = frozenset({"completed", "failed"})


class StoreError(Exception):
    """A request the store refuses; `code` is machine-readable."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(StoreError):
    code = "batch_call_not_found"


class InvalidState(StoreError):
    code = "invalid_batch_state"


class InvalidCursor(StoreError):
    code = "invalid_cursor"


class Transition(NamedTuple):
    at: int
    batch_id: str
    recipient_id: str | None   # None: the batch itself changed status
    old: str | None
    new: str


@dataclass(eq=False, slots=True)
class Recipient:
    id: str
    phone_number: str | None
    whatsapp_user_id: str | None
    client_data: dict | None
    created_at: int
    updated_at: int
    status: str = "pending"
    conversation_id: str | None = None
    attempt: int = 0            # call attempts started (1 after the first dispatch)
    dispatched: bool = False    # dispatched in the current round
    dispatched_at: int = 0
    token: int = 0              # bumps invalidate this recipient's queued events
    steps: tuple = ()
    step_index: int = 0


@dataclass(eq=False, slots=True)
class Batch:
    id: str
    workspace: str
    seq: int
    name: str
    agent_id: str
    agent_name: str
    phone_number_id: str | None
    phone_provider: str | None
    whatsapp_params: dict | None
    branch_id: str | None
    branch_name: str | None
    environment: str | None
    timezone: str | None
    telephony_call_config: dict
    target_concurrency_limit: int | None
    concurrency: int
    created_at: int
    scheduled_time: int
    last_updated: int
    status: str = "pending"
    retry_count: int = 0
    recipients: list[Recipient] = field(default_factory=list)
    queue: deque = field(default_factory=deque)   # indices of pending recipients
    counts: Counter = field(default_factory=Counter)  # recipient status -> how many
    dispatched: int = 0
    token: int = 0
    deleted: bool = False
    #: Bumped by every transition of the batch or one of its recipients: with the shaped
    #: counters, the stamp under which the app caches the batch's encoded responses.
    version: int = 0
    #: The app's encoded responses of this batch (see app.CachingEncoder); lives and dies
    #: with the batch, so a reset or a delete can never serve a stale document.
    encoded: dict = field(default_factory=dict, repr=False)

    # Derived counters -------------------------------------------------------------
    @property
    def scheduled(self) -> int:
        return len(self.recipients)

    @property
    def finished(self) -> int:
        c = self.counts
        return c["completed"] + c["failed"] + c["voicemail"]

    @property
    def in_flight(self) -> int:
        c = self.counts
        return c["dispatched"] + c["initiated"] + c["in_progress"]

    @property
    def terminal(self) -> int:
        return self.finished + self.counts["cancelled"]


def _digest(*parts: Any, size: int = 12) -> str:
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"bc:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "bc" or not number.isdigit():
            raise ValueError(raw)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(f"last_doc {cursor!r} is not a cursor this server issued") from None


class Page(NamedTuple):
    batches: list[Batch]
    next_cursor: str | None
    has_more: bool


class Store:
    """All workspaces of one mock server.

    Public methods take the workspace (derived from the API key by the app) first; a batch
    of another workspace is reported as NotFound. Every public method first catches up
    with the clock. Hold `lock` while reading the returned live objects if other threads
    may advance the store at the same time (the app does).
    """

    def __init__(self, clock: Clock | None = None, outcomes=DEFAULT_OUTCOMES, *,
                 default_concurrency: int = DEFAULT_CONCURRENCY,
                 providers: tuple[str, ...] = DEFAULT_PROVIDERS, seed: str = "mock",
                 record_history: bool = False) -> None:
        self.clock = clock if clock is not None else ManualClock()
        self.outcomes = outcomes
        self.default_concurrency = default_concurrency
        self.providers = tuple(providers)
        self.seed = seed
        self.record_history = record_history
        #: Which statuses cancel / retry accept (instance attributes so faults can patch).
        self.cancellable = CANCELLABLE_BATCH
        self.retryable_batch = RETRYABLE_BATCH
        self.retryable = RETRYABLE
        #: listener(batch, recipient, old, new, at) on every recipient transition, and
        #: hook(now) once caught up with the clock (conformance/mock/webhooks.py uses both).
        self.listeners: list = []
        self.after_sync: list = []
        self.lock = threading.RLock()
        self.reset()

    # State ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every batch; ids start again from the beginning."""
        with getattr(self, "lock", threading.RLock()):
            self._batches: dict[str, Batch] = {}
            self._by_seq: dict[int, Batch] = {}
            self._index: dict[tuple[str, str | None], list[int]] = {}   # see _index_keys
            self._events: list = []
            self._event_seq = 0
            self._batch_seq = 0
            self._conversation_seq = 0
            self._synced_to = self.clock.now()
            self.history: list[Transition] = []

    def now(self) -> int:
        return self.clock.now()

    def sync(self) -> int:
        """Run every event due at or before the clock's now; return now."""
        with self.lock:
            now = self.clock.now()
            if now < self._synced_to:
                now = self._synced_to   # the clock must not go back; ignore if it does
            self._run_until(now)
            self._synced_to = now
            for hook in self.after_sync:
                hook(now)
            return now

    def advance(self, seconds: int) -> int:
        """Advance a ManualClock by `seconds` and catch up. Returns the new now."""
        with self.lock:
            advance = getattr(self.clock, "advance", None)
            if advance is None:
                raise TypeError("advance() needs a ManualClock")
            advance(seconds)
            return self.sync()

    # Operations -----------------------------------------------------------------------
    def submit(self, workspace: str, request: dict) -> Batch:
        """Create a batch from a validated submit body. The batch is returned `pending`."""
        with self.lock:
            now = self.sync()
            self._batch_seq += 1
            seq = self._batch_seq
            batch_id = "btcal_" + _digest(self.seed, "batch", seq)
            telephony = dict(DEFAULT_TELEPHONY)
            telephony.update(request.get("telephony_call_config") or {})
            limit = request.get("target_concurrency_limit")
            scheduled = request.get("scheduled_time_unix")
            scheduled = now if scheduled is None else int(scheduled)
            branch_id = request.get("branch_id")
            phone_number_id = request.get("agent_phone_number_id")
            batch = Batch(
                id=batch_id, workspace=workspace, seq=seq, name=request.get("call_name"),
                agent_id=request.get("agent_id"),
                agent_name=f"Mock agent {request.get('agent_id')}",
                phone_number_id=phone_number_id,
                phone_provider=self._provider(phone_number_id),
                whatsapp_params=request.get("whatsapp_params"),
                branch_id=branch_id,
                branch_name=None if branch_id is None else f"Branch {branch_id}",
                environment=request.get("environment"), timezone=request.get("timezone"),
                telephony_call_config=telephony,
                target_concurrency_limit=None if limit is None else int(limit),
                concurrency=int(limit) if limit is not None else self.default_concurrency,
                created_at=now, scheduled_time=scheduled, last_updated=now,
            )
            # Recipient ids: the batch's own digest and the recipient's index (unique, and
            # one hash per batch rather than one per recipient: submit of 10,000 is hot).
            prefix = "rcpt_" + _digest(self.seed, "recipients", seq, size=10)
            batch.recipients = [
                Recipient(spec.get("id") or f"{prefix}{index:04x}", spec.get("phone_number"),
                          spec.get("whatsapp_user_id"),
                          spec.get("conversation_initiation_client_data"), now, now)
                for index, spec in enumerate(request.get("recipients") or [])]
            batch.queue.extend(range(len(batch.recipients)))
            batch.counts["pending"] = len(batch.recipients)
            self._batches[batch_id] = batch
            self._by_seq[seq] = batch
            for key in self._index_keys(workspace, batch.agent_id):
                self._index.setdefault(key, []).append(seq)
            self._log(now, batch, None, None, "pending")
            self._schedule(max(scheduled, now), "start", batch, -1, batch.token)
            return batch

    def get(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            self.sync()
            return self._lookup(workspace, batch_id)

    def list(self, workspace: str, limit: int = 100, cursor: str | None = None,
             agent_id: str | None = None) -> Page:
        """Newest first. `cursor` is a previous page's `next_cursor`."""
        with self.lock:
            self.sync()
            key = self._index_keys(workspace, agent_id)[1 if agent_id is not None else 0]
            seqs = self._index.get(key, [])
            end = len(seqs) if cursor is None else bisect_left(seqs, decode_cursor(cursor))
            start = max(0, end - max(0, limit))
            batches = [self._by_seq[s] for s in reversed(seqs[start:end])]
            has_more = start > 0 and bool(batches)
            next_cursor = encode_cursor(batches[-1].seq) if has_more else None
            return Page(batches, next_cursor, has_more)

    def cancel(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            now = self.sync()
            batch = self._lookup(workspace, batch_id)
            if batch.status not in self.cancellable:
                raise InvalidState(f"Batch call {batch_id} is {batch.status}; only pending or "
                                   "in_progress batch calls can be cancelled.",
                                   "batch_call_not_cancellable")
            for recipient in batch.recipients:
                if recipient.status not in TERMINAL:
                    recipient.token += 1
                    self._recipient_to(batch, recipient, "cancelled", now)
            batch.queue.clear()
            batch.token += 1
            self._batch_to(batch, "cancelled", now)
            return batch

    def retry(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            now = self.sync()
            batch = self._lookup(workspace, batch_id)
            if batch.status not in self.retryable_batch:
                raise InvalidState(f"Batch call {batch_id} is {batch.status}; only completed or "
                                   "failed batch calls can be retried.",
                                   "batch_call_not_retryable")
            eligible = [i for i, r in enumerate(batch.recipients) if r.status in self.retryable]
            if not eligible:
                raise InvalidState(f"Batch call {batch_id} has no failed or voicemail "
                                   "recipients to retry.", "batch_call_nothing_to_retry")
            for i in eligible:
                recipient = batch.recipients[i]
                recipient.token += 1
                recipient.conversation_id = None
                if recipient.dispatched:
                    recipient.dispatched = False
                    batch.dispatched -= 1
                self._recipient_to(batch, recipient, "pending", now)
                batch.queue.append(i)
            batch.retry_count += 1
            self._batch_to(batch, "in_progress", now)
            self._schedule(now, "fill", batch, -1, batch.token)
            return batch

    def delete(self, workspace: str, batch_id: str) -> None:
        with self.lock:
            self.sync()
            batch = self._lookup(workspace, batch_id)
            self._remove(batch)

    def _remove(self, batch: Batch) -> None:
        batch.deleted = True
        del self._batches[batch.id]
        del self._by_seq[batch.seq]
        for key in self._index_keys(batch.workspace, batch.agent_id):
            seqs = self._index.get(key, [])
            at = bisect_left(seqs, batch.seq)
            if at < len(seqs) and seqs[at] == batch.seq:
                del seqs[at]

    # Introspection for tests and the admin API -----------------------------------------
    def all_batches(self) -> list[Batch]:
        with self.lock:
            self.sync()
            return list(self._batches.values())

    def pending_events(self) -> int:
        return len(self._events)

    # Internals ----------------------------------------------------------------------
    def _lookup(self, workspace: str, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None or batch.workspace != workspace:
            raise NotFound(f"Batch call {batch_id} not found.")
        return batch

    def _index_keys(self, workspace: str, agent_id: str | None) -> tuple[tuple, tuple]:
        """Keys of the ordered per-workspace indexes: (all batches, batches of one agent)."""
        return (("all", workspace), ("agent", workspace, agent_id))

    def _provider(self, phone_number_id: str | None) -> str | None:
        """Provider of the agent's phone number: an id prefixed `<provider>_` names it."""
        if phone_number_id is None:
            return None
        for provider in sorted(self.providers, key=len, reverse=True):
            if phone_number_id.startswith(provider + "_"):
                return provider
        return self.providers[0] if self.providers else None

    def _schedule(self, at: int, kind: str, batch: Batch, index: int, token: int) -> None:
        self._event_seq += 1
        heapq.heappush(self._events, (at, self._event_seq, kind, batch, index, token))

    def _log(self, at: int, batch: Batch, recipient: Recipient | None, old, new) -> None:
        if self.record_history:
            self.history.append(Transition(at, batch.id, recipient and recipient.id, old, new))

    def _touch(self, batch: Batch, at: int) -> None:
        if at > batch.last_updated:
            batch.last_updated = at

    def _batch_to(self, batch: Batch, status: str, at: int) -> None:
        self._log(at, batch, None, batch.status, status)
        batch.version += 1
        batch.status = status
        self._touch(batch, at)

    def _recipient_to(self, batch: Batch, recipient: Recipient, status: str, at: int) -> None:
        old = recipient.status
        self._log(at, batch, recipient, old, status)
        batch.version += 1
        batch.counts[old] -= 1
        batch.counts[status] += 1
        recipient.status = status
        if at > recipient.updated_at:
            recipient.updated_at = at
        self._touch(batch, at)
        for listener in self.listeners:
            listener(batch, recipient, old, status, at)

    def _run_until(self, now: int) -> None:
        events = self._events
        while events and events[0][0] <= now:
            at, _, kind, batch, index, token = heapq.heappop(events)
            if batch.deleted:
                continue
            if kind == "start":
                if token != batch.token or batch.status != "pending":
                    continue
                self._batch_to(batch, "in_progress", at)
                self._fill(batch, at)
                self._check_done(batch, at)
            elif kind == "fill":
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
            recipient.conversation_id = "conv_" + _digest(self.seed, "conversation",
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
        while batch.queue and batch.in_flight < batch.concurrency:
            index = batch.queue.popleft()
            recipient = batch.recipients[index]
            if recipient.status != "pending":
                continue
            self._dispatch(batch, recipient, index, at)

    def _dispatch(self, batch: Batch, recipient: Recipient, index: int, at: int) -> None:
        recipient.attempt += 1
        recipient.dispatched = True
        recipient.dispatched_at = at
        recipient.steps = tuple(self.outcomes.steps(
            recipient.phone_number, recipient.whatsapp_user_id, recipient.attempt,
            int(batch.telephony_call_config.get("ringing_timeout_secs", 60))))
        recipient.step_index = 0
        batch.dispatched += 1
        self._recipient_to(batch, recipient, "dispatched", at)
        if recipient.steps:
            self._schedule(at + recipient.steps[0].at, "step", batch, index, recipient.token)

    def _check_done(self, batch: Batch, at: int) -> None:
        if batch.status != "in_progress" or batch.terminal < len(batch.recipients):
            return
        all_failed = bool(batch.recipients) and batch.counts["failed"] == len(batch.recipients)
        self._batch_to(batch, "failed" if all_failed else "completed", at)
