"""The mock's domain: workspaces of batch calls whose recipients are called on a clock.

Pure domain (no HTTP). Time is driven by an injectable clock; the store catches up with
the clock lazily (`sync`, called by every public method) by running a discrete-event
simulation: a heap of (time, seq) events, each the next step of one call or the start of
a batch. Events at the same second run in the order they were scheduled, so the same
inputs always give the same history, whatever moment the state is observed at. Events name
their batch by its sequence number, so a deleted batch is freed at once (its queued events
find nothing and are dropped).

Statuses and their groups (active, terminal, in flight, finished) come from the spec
(`conformance.api.lifecycle()`); what the vendor leaves open comes from a choice set
(`conformance.mock.choices`). Lifecycle rules: conformance/mock/README.md.

Hook points (`HOOKS`): the named places where a fault (conformance/mock/faults/) may
change the store's behaviour. Each is a public method; the store calls it at one point and,
after every `on_*` hook, bumps the batch's `version`, so whatever a hook wrote is seen by
the response cache. Nothing else of the store is meant to be patched.
"""

from __future__ import annotations

import builtins
import threading
from bisect import bisect_left
from collections import Counter
from typing import cast

from conformance.api import lifecycle
from conformance.mock.choices import Choices
from conformance.mock.clock import Clock, ManualClock
from conformance.mock.ids import Cursors, InvalidCursorText, batch_id, digest
from conformance.mock.model import (  # noqa: F401  (re-exported: the store's vocabulary)
    Batch,
    CompactRecipients,
    IndexQueue,
    InvalidCursor,
    InvalidState,
    NotFound,
    Page,
    QuotaExceeded,
    Recipient,
    StoreError,
    Transition,
)
from conformance.mock.outcomes import DEFAULT_OUTCOMES
from conformance.mock.simulation import Simulation

DEFAULT_CONCURRENCY = Choices().default_concurrency
DEFAULT_PROVIDERS = ("twilio", "sip_trunk", "exotel")
DEFAULT_TELEPHONY = {"ringing_timeout_secs": 60, "twilio_call_recording_enabled": False}
#: Bounds (README "Bounds"): batches kept per workspace, recipients kept per workspace.
MAX_BATCHES_PER_WORKSPACE = 5_000
MAX_RECIPIENTS_PER_WORKSPACE = 1_000_000

LIFE = lifecycle()

#: The store's hook points, in the order a batch meets them (README "Faults").
HOOKS = (
    "start_at",        # (batch, now) -> int: when a submitted batch starts
    "on_submit",       # (batch) -> None: after a batch is created
    "owns",            # (workspace, batch) -> bool: may this workspace see the batch
    "index_keys",      # (workspace, agent_id) -> (all key, agent key): the list indexes
    "page_limit",      # (limit) -> int: how many batches a list page holds
    "cursor_for",      # (workspace, batch) -> str: the next_doc after `batch`
    "fill_slots",      # (batch) -> int: calls of the batch allowed in flight
    "is_done",         # (batch) -> bool: every recipient terminal, the batch may end
    "cancellable",     # (batch) -> bool: cancel acts on this batch
    "on_cancel",       # (batch, now) -> None: after a cancel
    "retryable",       # (recipient) -> bool: retry calls this recipient again
    "on_retry",        # (batch, now) -> None: after a retry
    "on_delete",       # (batch) -> bool: go on deleting (False: answer 204, keep it)
    "forget",          # (batch) -> None: drop the record (get/cancel/... find it no more)
)


class Store(Simulation):
    """All workspaces of one mock server.

    Public methods take the workspace (derived from the API key by the app) first; a batch
    of another workspace is reported as NotFound. Every public method first catches up
    with the clock. Hold `lock` while reading the returned live objects if other threads
    may advance the store at the same time (the app does).
    """

    def __init__(self, clock: Clock | None = None, outcomes=DEFAULT_OUTCOMES, *,
                 default_concurrency: int | None = None,
                 providers: tuple[str, ...] = DEFAULT_PROVIDERS, seed: str = "mock",
                 record_history: bool = False, choices: Choices | None = None) -> None:
        self.clock = clock if clock is not None else ManualClock()
        self.outcomes = outcomes
        self.choices = choices or Choices()
        self.default_concurrency = default_concurrency or self.choices.default_concurrency
        self.providers = tuple(providers)
        self.seed = seed
        self.record_history = record_history
        self.cursors = Cursors(seed, self.choices.cursor_format)
        self._finished = LIFE.recipient_finished if self.choices.voicemail_counts_as_finished \
            else LIFE.recipient_finished - {"voicemail"}
        #: listener(batch, recipient, old, new, at) on every recipient transition, and
        #: hook(now) once caught up with the clock (conformance/mock/webhooks.py uses both).
        self.listeners: list = []
        self.after_sync: list = []
        #: hook(batch) after every submit (conformance/mock/heap.py counts stored records).
        self.after_submit: list = []
        self.lock = threading.RLock()
        self.reset()

    # State ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every batch; ids start again from the beginning."""
        with self.lock:
            self._batches: dict[str, Batch] = {}
            self._by_seq: dict[int, Batch] = {}
            self._index: dict[tuple, list[int]] = {}   # see index_keys
            self._usage: Counter = Counter()            # workspace -> recipients kept
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
            recipients = request.get("recipients") or []
            self._check_quota(workspace, len(recipients))
            self._batch_seq += 1
            seq = self._batch_seq
            telephony = dict(DEFAULT_TELEPHONY)
            telephony.update(request.get("telephony_call_config") or {})
            limit = request.get("target_concurrency_limit")
            scheduled = request.get("scheduled_time_unix")
            branch_id = request.get("branch_id")
            phone_number_id = request.get("agent_phone_number_id")
            batch = Batch(
                id=batch_id(self.choices.id_format, self.seed, seq), workspace=workspace,
                # Validated before; a fault that lets one through keeps it None (a bug shown).
                seq=seq, name=cast(str, request.get("call_name")),
                agent_id=cast(str, request.get("agent_id")),
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
                created_at=now, scheduled_time=now if scheduled is None else int(scheduled),
                last_updated=now, finished_statuses=self._finished,
            )
            # Recipient ids: the batch's own digest and the recipient's index (unique, and
            # one hash per batch rather than one per recipient: submit of 10,000 is hot).
            prefix = "rcpt_" + digest(self.seed, "recipients", seq, size=10)
            batch.compact = CompactRecipients(recipients, prefix, now)
            batch.queue = IndexQueue(len(recipients))
            batch.counts["pending"] = len(recipients)
            self._batches[batch.id] = batch
            self._by_seq[seq] = batch
            self._usage[workspace] += len(recipients)
            for key in self.index_keys(workspace, batch.agent_id):
                self._index.setdefault(key, []).append(seq)
            self._log(now, batch, None, None, "pending")
            self._schedule(max(self.start_at(batch, now), now), "start", batch, -1,
                           batch.token)
            self.on_submit(batch)
            batch.version += 1
            for hook in self.after_submit:
                hook(batch)
            return batch

    def get(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            self.sync()
            return self._lookup(workspace, batch_id)

    def list(self, workspace: str, limit: int = 100, cursor: str | None = None,
             agent_id: str | None = None) -> Page:
        """A page in the choice set's order. `cursor` is a previous page's `next_cursor`;
        None or "" is the first page."""
        with self.lock:
            self.sync()
            key = self.index_keys(workspace, agent_id)[1 if agent_id is not None else 0]
            seqs = self._index.get(key, [])
            limit = max(1, self.page_limit(limit))
            after = None
            if cursor:
                try:
                    after = self.cursors.decode(workspace, cursor)
                except InvalidCursorText:
                    raise InvalidCursor(f"last_doc {cursor!r} is not a cursor this server "
                                        "issued") from None
            if self.choices.list_order == "oldest_first":
                start = 0 if after is None else bisect_left(seqs, after + 1)
                end = min(len(seqs), start + limit)
                batches = [self._by_seq[s] for s in seqs[start:end]]
                has_more = end < len(seqs) and bool(batches)
            else:
                end = len(seqs) if after is None else bisect_left(seqs, after)
                start = max(0, end - limit)
                batches = [self._by_seq[s] for s in reversed(seqs[start:end])]
                has_more = start > 0 and bool(batches)
            next_cursor = self.cursor_for(workspace, batches[-1]) if has_more else None
            return Page(batches, next_cursor, has_more)

    def cancel(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            now = self.sync()
            batch = self._lookup(workspace, batch_id)
            if not self.cancellable(batch):
                if self.choices.cancel_finished_batch == "accept":
                    return batch                  # 200, the batch unchanged
                raise InvalidState(f"Batch call {batch_id} is {batch.status}; only pending or "
                                   "in_progress batch calls can be cancelled.",
                                   "batch_call_not_cancellable")
            spare = LIFE.recipient_terminal
            if self.choices.cancel_finished_recipients == "cancel":
                spare = frozenset({"cancelled"})
            for recipient in batch.recipients:
                if recipient.status not in spare:
                    recipient.token += 1
                    self._recipient_to(batch, recipient, "cancelled", now)
            batch.queue.clear()
            batch.token += 1
            self._batch_to(batch, "cancelled", now)
            self.on_cancel(batch, now)
            batch.version += 1
            return batch

    def retry(self, workspace: str, batch_id: str) -> Batch:
        with self.lock:
            now = self.sync()
            batch = self._lookup(workspace, batch_id)
            accept = self.choices.retry_unfinished_batch == "accept"
            if batch.status not in LIFE.batch_finished and not accept:
                raise InvalidState(f"Batch call {batch_id} is {batch.status}; only completed or "
                                   "failed batch calls can be retried.",
                                   "batch_call_not_retryable")
            eligible = [i for i, r in enumerate(batch.recipients) if self.retryable(r)]
            if not eligible:
                if accept:
                    return batch                  # 200, nothing to call again
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
            if batch.status != "in_progress":
                self._batch_to(batch, "in_progress", now)
            self._schedule(now, "fill", batch, -1, batch.token)
            self.on_retry(batch, now)
            batch.version += 1
            return batch

    def delete(self, workspace: str, batch_id: str) -> None:
        with self.lock:
            self.sync()
            batch = self._lookup(workspace, batch_id)
            if not self.on_delete(batch):
                return
            for key in self.index_keys(batch.workspace, batch.agent_id):
                seqs = self._index.get(key, [])
                at = bisect_left(seqs, batch.seq)
                if at < len(seqs) and seqs[at] == batch.seq:
                    del seqs[at]
                if not seqs:
                    self._index.pop(key, None)
            self.forget(batch)

    # Introspection for tests and the admin API -----------------------------------------
    def all_batches(self) -> builtins.list[Batch]:
        with self.lock:
            self.sync()
            return list(self._batches.values())

    # Hook points (see HOOKS) -----------------------------------------------------------
    def start_at(self, batch: Batch, now: int) -> int:
        return batch.scheduled_time

    def on_submit(self, batch: Batch) -> None:
        pass

    def owns(self, workspace: str, batch: Batch) -> bool:
        return batch.workspace == workspace

    def index_keys(self, workspace: str, agent_id: str | None) -> tuple[tuple, tuple]:
        """Keys of the ordered per-workspace indexes: (all batches, batches of one agent)."""
        return (("all", workspace), ("agent", workspace, agent_id))

    def page_limit(self, limit: int) -> int:
        return limit

    def cursor_for(self, workspace: str, batch: Batch) -> str:
        return self.cursors.encode(workspace, batch.seq)

    def cancellable(self, batch: Batch) -> bool:
        return batch.status in LIFE.batch_active

    def on_cancel(self, batch: Batch, now: int) -> None:
        pass

    def retryable(self, recipient: Recipient) -> bool:
        return recipient.status in ("failed", "voicemail")

    def on_retry(self, batch: Batch, now: int) -> None:
        pass

    def on_delete(self, batch: Batch) -> bool:
        return True

    def forget(self, batch: Batch) -> None:
        self._batches.pop(batch.id, None)
        self._by_seq.pop(batch.seq, None)
        self._usage[batch.workspace] -= batch.scheduled
        if self._usage[batch.workspace] <= 0:
            del self._usage[batch.workspace]
        batch.encoded.clear()

    # Internals ----------------------------------------------------------------------
    def _check_quota(self, workspace: str, recipients: int) -> None:
        kept = len(self._index.get(("all", workspace), ()))
        if kept >= MAX_BATCHES_PER_WORKSPACE:
            raise QuotaExceeded(f"a workspace keeps at most {MAX_BATCHES_PER_WORKSPACE} batch "
                                "calls; delete some first")
        if self._usage[workspace] + recipients > MAX_RECIPIENTS_PER_WORKSPACE:
            raise QuotaExceeded(f"a workspace keeps at most {MAX_RECIPIENTS_PER_WORKSPACE} "
                                "recipients; delete some batch calls first")

    def _lookup(self, workspace: str, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None or not self.owns(workspace, batch):
            raise NotFound(f"Batch call {batch_id} not found.")
        return batch

    def _provider(self, phone_number_id: str | None) -> str | None:
        """Provider of the agent's phone number: an id prefixed `<provider>_` names it."""
        if phone_number_id is None:
            return None
        for provider in sorted(self.providers, key=len, reverse=True):
            if phone_number_id.startswith(provider + "_"):
                return provider
        return self.providers[0] if self.providers else None
