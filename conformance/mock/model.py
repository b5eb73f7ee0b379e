"""The mock's records: batches, recipients, list pages, transitions, and the store's errors."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

from conformance.api import lifecycle

LIFE = lifecycle()


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


class QuotaExceeded(StoreError):
    code = "workspace_quota_exceeded"


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


class IndexQueue:
    """Indices of pending recipients, first in first out: 0..n-1 as a range (no int object
    and no deque slot per recipient until one is re-queued), then what `append` adds."""

    __slots__ = ("_next", "_stop", "_more")

    def __init__(self, n: int = 0) -> None:
        self._next, self._stop = 0, n
        self._more: deque[int] = deque()

    def __bool__(self) -> bool:
        return self._next < self._stop or bool(self._more)

    def __len__(self) -> int:
        return self._stop - self._next + len(self._more)

    def __iter__(self):
        yield from range(self._next, self._stop)
        yield from self._more

    def popleft(self) -> int:
        if self._next < self._stop:
            self._next += 1
            return self._next - 1
        return self._more.popleft()

    def append(self, index: int) -> None:
        self._more.append(index)

    def clear(self) -> None:
        self._next = self._stop
        self._more.clear()


class CompactRecipients:
    """A submitted batch's recipients as columns until something reads them: one list per
    field the request carried (a field no recipient has is not stored), the ids derived from
    the batch's prefix and the index. No object per recipient, so nothing per recipient for
    the garbage collector to walk; `materialize` builds the `Recipient` records, once, on
    the first read (a get, the batch's start, cancel, export). benchmarks/README.md gives
    the bytes per recipient either way."""

    __slots__ = ("n", "prefix", "now", "ids", "phones", "whatsapp", "client_data")

    def __init__(self, specs: list[dict], prefix: str, now: int) -> None:
        self.n, self.prefix, self.now = len(specs), prefix, now
        self.phones = [s.get("phone_number") for s in specs]
        self.ids = [s.get("id") for s in specs] if any("id" in s for s in specs) else None
        self.whatsapp = [s.get("whatsapp_user_id") for s in specs] \
            if any("whatsapp_user_id" in s for s in specs) else None
        self.client_data = [s.get("conversation_initiation_client_data") for s in specs] \
            if any("conversation_initiation_client_data" in s for s in specs) else None

    def materialize(self) -> list[Recipient]:
        n, prefix, now = self.n, self.prefix, self.now
        none = [None] * n
        ids, whatsapp = self.ids or none, self.whatsapp or none
        client_data = self.client_data or none
        return [Recipient(ids[i] or f"{prefix}{i:04x}", self.phones[i], whatsapp[i],
                          client_data[i], now, now) for i in range(n)]


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
    finished_statuses: frozenset = LIFE.recipient_finished
    status: str = "pending"
    retry_count: int = 0
    #: The recipients: `recipients` (the records) is built from `compact` on first read.
    records: list[Recipient] | None = None
    compact: CompactRecipients | None = field(default=None, repr=False)
    queue: IndexQueue = field(default_factory=IndexQueue)   # indices of pending recipients
    counts: Counter = field(default_factory=Counter)  # recipient status -> how many
    dispatched: int = 0
    token: int = 0
    #: Bumped by every change of the batch or one of its recipients: the stamp under which
    #: the app caches the batch's encoded responses (shaping.CachingEncoder).
    version: int = 0
    #: The app's encoded responses of this batch; lives and dies with the batch.
    encoded: dict = field(default_factory=dict, repr=False)

    @property
    def recipients(self) -> list[Recipient]:
        records = self.records
        if records is None:
            records = self.records = self.compact.materialize() if self.compact else []
            self.compact = None
        return records

    @recipients.setter
    def recipients(self, value: list[Recipient]) -> None:
        self.records, self.compact = value, None

    @property
    def scheduled(self) -> int:
        """`total_calls_scheduled`: how many recipients, without building their records."""
        if self.records is None and self.compact is not None:
            return self.compact.n
        return len(self.recipients)

    @property
    def finished(self) -> int:
        """`total_calls_finished`: recipients in the choice set's finished statuses."""
        c = self.counts
        return sum(c[s] for s in self.finished_statuses)

    @property
    def in_flight(self) -> int:
        c = self.counts
        return sum(c[s] for s in LIFE.recipient_in_flight)

    @property
    def terminal(self) -> int:
        c = self.counts
        return sum(c[s] for s in LIFE.recipient_terminal)


class Page(NamedTuple):
    batches: list[Batch]
    next_cursor: str | None
    has_more: bool
