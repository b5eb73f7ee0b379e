"""The one place a live run adapts to pressure: 429s, a busy server, a flaky network.

`PressureTransport` sits under the run's guard (`SafetyTransport(PressureTransport(...))`),
so every client of a live run goes through it: scenarios, fuzzing (Schemathesis' own calls
ride the same httpx client), clean-up and sweep. Tests never see a 429; they see the answer
the server gave once it had room, or the run ends "could not run".

* `429`: wait as `Retry-After` says (delta-seconds or an HTTP date, read against the
  answer's own `Date`), otherwise back off exponentially with full jitter (0.5 s doubling,
  at most 8 s); then send the same request again (a 429 means it was not processed, so this
  is safe for every method). After a `system_busy`, sends are paced to the rate that got
  through in the second before it (rising by one per 100 calm answers), so the server is not
  hit again at once. `too_many_concurrent_requests` also lowers the run's own
  concurrency (to `maximum-concurrent-requests` when the server says it, else one less);
  after 100 answers in a row without a 429 it rises again by one, up to where it started.
* Transport errors (connection refused or reset, read time-out, the peer closing mid-answer):
  a request safe to repeat (GET, HEAD, OPTIONS), or one that never left (connect error), is
  sent again up to `TRANSPORT_RETRIES` times; anything else raises. A submit whose answer was
  lost is never sent again: `AnswerLost` carries the reason and `on_lost` (set by the live
  target) finds the batch by its unique name so the run cleans it up.
* A bounded total wait (`budget_s`, `conformance run --pressure-budget`, default
  DEFAULT_BUDGET_S): past it `PressureExhausted` ends the run "could not run" with the
  numbers in one line. Clean-up after that gets `CLEANUP_GRACE_S` more.

The concurrency limit is shared by every process of a run (pytest-xdist workers) through
lock files in one folder (`slots_dir`), or by threads in one process without it.
`Pressure.stats()` is what the report and JUnit properties show.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import threading
import time
from collections import deque
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from conformance.fictional import fingerprint

#: Longest a run waits on pushback (429 waits and transport-error backoff) before it gives up.
DEFAULT_BUDGET_S = float(os.environ.get("API_LIVE_PRESSURE_BUDGET", "300"))
#: What clean-up may still wait once the budget is spent (it must remove what the run made).
CLEANUP_GRACE_S = 120.0
TRANSPORT_RETRIES = 3
BACKOFF_BASE_S, BACKOFF_MAX_S = 0.5, 8.0
#: The most one Retry-After is believed (a broken header must not stall a run for a day).
RETRY_AFTER_MAX_S = 120.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RAISE_AFTER = 100


class PressureExhausted(httpx.TransportError):
    """The server was still pushing back when the run's budget ran out."""


class AnswerLost(httpx.TransportError):
    """A request that is not safe to repeat was sent and its answer never came."""


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds `Retry-After` asks for (None when absent or unreadable)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    try:   # an HTTP date is read against the same server's clock, never the client's
        now = parsedate_to_datetime(response.headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        now = time.time()
    return max(0.0, when - now)


def busy_status(response: httpx.Response) -> str:
    try:
        detail = json.loads(response.content or b"null").get("detail")
        return str(detail.get("status", "")) if isinstance(detail, dict) else ""
    except (ValueError, AttributeError):
        return ""


class _Slots:
    """An adjustable limit on requests in flight, across threads and (with a folder)
    processes."""

    def __init__(self, limit: int, folder: Path | None) -> None:
        self.initial = max(1, limit)
        self.folder = folder
        self._cond = threading.Condition()
        self._in_flight = 0
        self._limit = self.initial
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "limit").touch()

    @property
    def limit(self) -> int:
        if self.folder is None:
            return self._limit
        try:
            text = (self.folder / "limit").read_text().strip()
            return max(1, min(self.initial, int(text))) if text else self.initial
        except (OSError, ValueError):
            return self.initial

    def set_limit(self, value: int) -> None:
        value = max(1, min(self.initial, value))
        if self.folder is None:
            with self._cond:
                self._limit = value
                self._cond.notify_all()
        else:
            tmp = self.folder / f"limit.{os.getpid()}"
            tmp.write_text(str(value))
            os.replace(tmp, self.folder / "limit")

    @contextmanager
    def held(self):
        if self.folder is None:
            with self._cond:
                while self._in_flight >= self._limit:
                    self._cond.wait()
                self._in_flight += 1
            try:
                yield
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()
            return
        handle = None
        while handle is None:
            for i in range(self.limit):
                fd = os.open(self.folder / f"slot-{i}", os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    handle = fd
                    break
                except BlockingIOError:
                    os.close(fd)
            if handle is None:
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)


class Pressure:
    """The run's pushback accounting and limits (one per process, shared by its clients)."""

    def __init__(self, *, budget_s: float = DEFAULT_BUDGET_S, concurrency: int = 64,
                 slots_dir: str | Path | None = None, sleep=time.sleep,
                 rng: random.Random | None = None) -> None:
        self.budget_s = float(budget_s)
        self.slots = _Slots(concurrency, Path(slots_dir) if slots_dir else None)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.sent = 0                    # requests sent, each attempt counted
        self.rate_limited = 0            # 429 answers seen
        self.by_status: dict[str, int] = {}
        self.retried = 0                 # requests sent again (429 or transport error)
        self.transport_errors = 0
        self.waited_s = 0.0
        self.lowered = 0                 # times the concurrency limit went down
        self.answers_lost = 0
        self.gave_up: str | None = None  # the one line, once the budget ran out
        self._calm = 0
        self._grace = False
        #: Learned from `system_busy` answers: requests per second the server takes (None:
        #: not pushed back yet); sends are paced to it, and it creeps up while all is calm.
        self.rates: dict[str, int] = {}          # per key (workspace): the vendor's limit is
        self._sent: dict[str, deque] = {}        # per workspace
        self._pace_lock = threading.Lock()

    # -- accounting ------------------------------------------------------------------------

    def summary(self, operation: str = "") -> str:
        line = f"rate limited {self.rate_limited} times, waited {self.waited_s:.0f} s"
        if self.transport_errors:
            line += f", {self.transport_errors} transport errors"
        return line + (f", gave up on {operation}" if operation else "")

    def stats(self) -> dict:
        return {"sent": self.sent, "rate_limited": self.rate_limited,
                "by_status": dict(self.by_status),
                "retried": self.retried, "transport_errors": self.transport_errors,
                "waited_s": round(self.waited_s, 1), "budget_s": self.budget_s,
                "concurrency_lowered": self.lowered, "concurrency_limit": self.slots.limit,
                "answers_lost": self.answers_lost,
                "paced_to_per_s": max(self.rates.values(), default=None),
                "gave_up": self.gave_up}

    def cleanup_grace(self) -> None:
        """Clean-up after the budget ran out may still wait CLEANUP_GRACE_S."""
        with self._lock:
            if self.gave_up and not self._grace:
                self._grace = True
                self.budget_s = self.waited_s + CLEANUP_GRACE_S

    # -- decisions -------------------------------------------------------------------------

    def backoff_s(self, attempt: int) -> float:
        return self._rng.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** attempt))

    def wait(self, seconds: float, operation: str) -> None:
        with self._lock:
            if self.gave_up and not self._grace:
                raise PressureExhausted(self.gave_up)
            if self.waited_s + seconds > self.budget_s:
                self.gave_up = self.summary(operation)
                raise PressureExhausted(self.gave_up)
            self.waited_s += seconds
        self._sleep(seconds)

    def pace(self, key: str, operation: str) -> None:
        """Before a send with `key`: once the server said it is busy, keep to the rate that
        key got through then (the wait counts as waited: it is pushback)."""
        while True:
            with self._pace_lock:
                now = time.monotonic()
                sent = self._sent.setdefault(key, deque())
                while sent and now - sent[0] >= 1.0:
                    sent.popleft()
                rate = self.rates.get(key)
                if rate is None or len(sent) < rate:
                    sent.append(now)
                    return
                delay = sent[0] + 1.0 - now
            self.wait(delay, operation)

    def pushed_back(self, response: httpx.Response, key: str = "") -> str:
        status = busy_status(response) or "unknown"
        with self._lock:
            self.rate_limited += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self._calm = 0
        if status == "system_busy":
            with self._pace_lock:   # what got through in the last second, less this one
                now = time.monotonic()
                sent = self._sent.setdefault(key, deque())
                recent = sum(1 for t in sent if now - t < 1.0)
                self.rates[key] = max(1, min(self.rates.get(key, recent), recent - 1))
                sent.clear()
        if status == "too_many_concurrent_requests":
            limit = self.slots.limit
            stated = response.headers.get("maximum-concurrent-requests", "")
            lower = min(limit - 1, int(stated)) if stated.isdigit() else limit - 1
            if lower >= 1 and lower < limit:
                self.slots.set_limit(lower)
                with self._lock:
                    self.lowered += 1
        return status

    def answered(self) -> None:
        with self._lock:
            self._calm += 1
            calm = self._calm >= _RAISE_AFTER
            if calm:
                self._calm = 0
                for key in self.rates:
                    self.rates[key] += 1
        if calm and self.slots.limit < self.slots.initial:
            self.slots.set_limit(self.slots.limit + 1)


def _operation(request: httpx.Request) -> str:
    return f"{request.method} {request.url.path}"


class PressureTransport(httpx.BaseTransport):
    """Sends through `inner`, adapting to pushback as the module docstring says."""

    def __init__(self, inner: httpx.BaseTransport, pressure: Pressure, *,
                 name_operation=_operation, on_lost=None, key_header: str = "") -> None:
        self.inner = inner
        self.key_header = key_header           # requests are paced per API key
        self.pressure = pressure
        self.name_operation = name_operation   # request -> "submit", "get", ...
        self.on_lost = on_lost                 # (request, reason) -> str: what was done

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        p = self.pressure
        request.read()
        key = request.headers.get(self.key_header, "") if self.key_header else ""
        key = fingerprint(key)   # paced per key, never holding the key itself
        busy = errors = 0
        while True:
            try:
                with p.slots.held():
                    p.pace(key, self.name_operation(request))
                    p.sent += 1
                    answer = self.inner.handle_request(request)
                    try:   # a connection lost mid-answer is a transport error here too
                        raw = (answer.content if answer.is_stream_consumed   # MockTransport
                               else b"".join(answer.iter_raw()))
                    finally:
                        answer.close()
                    response = httpx.Response(answer.status_code, headers=answer.headers,
                                              stream=httpx.ByteStream(raw),
                                              extensions=answer.extensions, request=request)
                    if response.status_code == 429:
                        response.read()
            except httpx.TransportError as exc:
                if isinstance(exc, PressureExhausted):
                    raise
                p.transport_errors += 1
                repeatable = (request.method in SAFE_METHODS
                              or isinstance(exc, httpx.ConnectError))
                operation = self.name_operation(request)
                if not repeatable:
                    p.answers_lost += 1
                    reason = (f"the answer to {operation} was lost "
                              f"({type(exc).__name__}: {exc}); not sent again")
                    if self.on_lost is not None:
                        reason += "; " + self.on_lost(request)
                    raise AnswerLost(reason, request=request) from exc
                if errors >= TRANSPORT_RETRIES:
                    raise
                p.wait(p.backoff_s(errors), operation)
                errors += 1
                p.retried += 1
                continue
            if response.status_code != 429:
                p.answered()
                return response
            p.pushed_back(response, key)
            wait = retry_after_s(response)
            if wait is None:
                wait = p.backoff_s(busy)
            p.wait(min(wait, RETRY_AFTER_MAX_S), self.name_operation(request))
            busy += 1
            p.retried += 1

    def close(self) -> None:
        self.inner.close()
