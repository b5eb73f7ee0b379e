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
    recipients: list[Recipient] = field(default_factory=list)
    queue: deque = field(default_factory=deque)   # indices of pending recipients
    counts: Counter = field(default_factory=Counter)  # recipient status -> how many
    dispatched: int = 0
    token: int = 0
    #: Bumped by every change of the batch or one of its recipients: the stamp under which
    #: the app caches the batch's encoded responses (shaping.CachingEncoder).
    version: int = 0
    #: The app's encoded responses of this batch; lives and dies with the batch.
    encoded: dict = field(default_factory=dict, repr=False)

    @property
    def scheduled(self) -> int:
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
