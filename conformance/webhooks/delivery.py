"""Delivering webhook events: a queue on a clock, signed attempts, retries, a log.

Deliveries run on the caller's clock: `queue(event, at)` makes one due at `at`, and
`run_until(now)` sends every attempt due by `now` (retries scheduled by failed attempts
included), in time order. Each attempt is signed with its own scheduled time as `t`, so the
same inputs give the same bytes however the clock is observed.

Rules (`DeliveryRules`, read from the spec; docs/webhooks.md grades them): a delivery
succeeds on exactly 200; 408, 429, 5xx and connection errors are retried for the event
types that retry (post_call_transcription) with delays 0, 30, 120, 480, 1800 s after each
failure (five retries, no jitter: the vendor adds up to 10 %); any other status fails the
delivery at once; at most 100 retries wait at a time (more are dropped); after 10
consecutive failures with no success in the last 7 days the webhook is auto-disabled and
nothing more is sent.

The sender is injectable: `HttpSender` POSTs to a loopback URL with httpx; tests may pass
any `sender(url, body, headers) -> SendResult`.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from conformance.fictional import fingerprint
from conformance.webhooks.events import DeliveryRules, batch_link
from conformance.webhooks.signing import sign

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def check_loopback_url(url: str) -> str:
    """`url` if it is http(s) on 127.0.0.1, ::1 or localhost; else ValueError saying why."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"webhook URL {url!r} is not an http(s) URL")
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"webhook URL host {host!r} is not loopback: the mock only delivers "
                         f"to {', '.join(LOOPBACK_HOSTS)}")
    if parts.username or parts.password:
        raise ValueError("webhook URL must not carry credentials")
    return url


def is_loopback_host(host: str) -> bool:
    host = (host or "").lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SendResult(NamedTuple):
    status: int | None      # None: no HTTP answer (connection error, timeout)
    error: str | None = None


Sender = Callable[[str, bytes, dict], SendResult]


class HttpSender:
    """POSTs a delivery with httpx, to loopback URLs only."""

    def __init__(self, timeout: float = 10.0) -> None:

        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def __call__(self, url: str, body: bytes, headers: dict) -> SendResult:

        check_loopback_url(url)
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(None, f"{type(exc).__name__}: {exc}")
        return SendResult(response.status_code)

    def close(self) -> None:
        self._client.close()


@dataclass
class Attempt:
    number: int             # 1 = first attempt, 2 = first retry, ...
    at: int                 # clock time the attempt was made (its signature's t)
    status: int | None
    error: str | None
    outcome: str            # delivered | retry | failed | dropped


@dataclass
class Delivery:
    id: int
    event_type: str
    batch_id: str | None
    recipient_id: str | None
    body: bytes
    queued_at: int
    state: str = "pending"  # pending | delivered | failed | dropped | skipped
    attempts: list[Attempt] = field(default_factory=list)

    def as_log(self) -> dict:
        return {"id": self.id, "event_type": self.event_type, "batch_call_id": self.batch_id,
                "batch_call_recipient_id": self.recipient_id, "queued_at": self.queued_at,
                "state": self.state, "bytes": len(self.body),
                "attempts": [{"attempt": a.number, "at": a.at, "status": a.status,
                              "error": a.error, "outcome": a.outcome} for a in self.attempts]}


class Dispatcher:
    """Signed deliveries of events to one URL, on a clock, with the vendor's retry rules.

    Replaceable per instance (faults patch them): `sign(secret, body, t)`,
    `timestamp(at)` (the `t` an attempt at `at` carries) and `copies` (how many times each
    attempt is sent).
    """

    def __init__(self, url: str, secret: str, rules: DeliveryRules, *,
                 sender: Sender | None = None, retries: bool = True) -> None:
        if not secret:
            raise ValueError("a webhook secret is required (deliveries are always signed)")
        self.url = url
        self._secret = secret
        self.rules = rules
        self.retries = retries
        self.sender = sender if sender is not None else HttpSender()
        self.sign = sign
        self.timestamp = lambda at: at
        self.copies = 1
        self.lock = threading.RLock()
        self.deliveries: list[Delivery] = []
        self._due: list = []          # heap of (at, seq, delivery, attempt number)
        self._seq = 0
        self.consecutive_failures = 0
        self.last_success: int | None = None
        self.auto_disabled = False

    def __repr__(self) -> str:
        return (f"Dispatcher(url={self.url!r}, secret={fingerprint(self._secret)}, "
                f"retries={self.retries})")

    @property
    def secret_fingerprint(self) -> str:
        return fingerprint(self._secret)

    def queue(self, event: dict, at: int, body: bytes | None = None) -> Delivery:
        """Queue `event` (encoded once: retries resend the same bytes) to be sent at `at`."""

        with self.lock:
            if body is None:
                body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
            batch_id, recipient_id = batch_link(event)
            delivery = Delivery(len(self.deliveries) + 1, str(event.get("type")), batch_id,
                                recipient_id, body, at)
            self.deliveries.append(delivery)
            self._push(at, delivery, 1)
            return delivery

    def _push(self, at: int, delivery: Delivery, number: int) -> None:
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, delivery, number))

    def pending(self) -> int:
        return len(self._due)

    def run_until(self, now: int) -> int:
        """Make every attempt due at or before `now`; return how many were made."""
        made = 0
        with self.lock:
            while self._due and self._due[0][0] <= now:
                at, _, delivery, number = heapq.heappop(self._due)
                self._attempt(delivery, number, at)
                made += 1
        return made

    def _attempt(self, delivery: Delivery, number: int, at: int) -> None:
        if self.auto_disabled:
            delivery.state = "skipped"
            delivery.attempts.append(Attempt(number, at, None, "webhook auto-disabled",
                                             "dropped"))
            return
        t = self.timestamp(at)
        headers = {"content-type": "application/json",
                   self.rules.header: self.sign(self._secret, delivery.body, t)}
        result = SendResult(None, "not sent")
        for _ in range(max(1, self.copies)):
            result = self.sender(self.url, delivery.body, headers)
        if result.status == self.rules.success_status:
            delivery.state = "delivered"
            delivery.attempts.append(Attempt(number, at, result.status, None, "delivered"))
            self.consecutive_failures = 0
            self.last_success = at
            return
        self._failed(at)
        delays = self.rules.retry_delays_secs
        retry = (self.retries and delivery.event_type in self.rules.retried_event_types
                 and self.rules.is_retryable(result.status) and number <= len(delays))
        if retry and self._waiting_retries() >= self.rules.max_pending_retries:
            delivery.state = "dropped"
            delivery.attempts.append(Attempt(number, at, result.status, result.error,
                                             "dropped"))
            return
        if retry:
            delivery.attempts.append(Attempt(number, at, result.status, result.error, "retry"))
            self._push(at + delays[number - 1], delivery, number + 1)
            return
        delivery.state = "failed"
        delivery.attempts.append(Attempt(number, at, result.status, result.error, "failed"))

    def _waiting_retries(self) -> int:
        return sum(1 for _, _, _, number in self._due if number > 1)

    def _failed(self, at: int) -> None:
        self.consecutive_failures += 1
        quiet = self.last_success is None or at - self.last_success > \
            self.rules.auto_disable_quiet_secs
        if self.consecutive_failures >= self.rules.auto_disable_after_failures and quiet:
            self.auto_disabled = True

    def log(self) -> list[dict]:
        with self.lock:
            return [d.as_log() for d in self.deliveries]

    def status(self) -> dict:
        with self.lock:
            return {"url": self.url, "secret": self.secret_fingerprint,
                    "retries": self.retries, "auto_disabled": self.auto_disabled,
                    "consecutive_failures": self.consecutive_failures,
                    "pending_attempts": len(self._due)}
