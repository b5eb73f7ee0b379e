"""The mock behaving like a shared staging endpoint, on request (all off by default).

`Staging` is an ASGI middleware put around the served app (`conformance-mock` options):

* `rate_limit` N: at most N requests per second per API key (a sliding one-second window);
  over it, `429` with the vendor's body, status `system_busy`, and `Retry-After` (whole
  seconds until the window has room).
* `max_concurrent` N: at most N requests in flight per API key (the vendor's limit is on
  concurrent requests per workspace); over it, `429` with status
  `too_many_concurrent_requests` and the headers `current-concurrent-requests` /
  `maximum-concurrent-requests`. Every other such answer carries `Retry-After: 1`, the others
  none: the vendor's answer may come with or without it, and a client must cope with both.
* `latency` (A, B): every answer waits a uniform A..B ms (inside the concurrency slot, so a
  slow server is also a busy one).
* `flaky` P: a fraction P of the requests safe to repeat (GET, HEAD) lose their connection:
  the answer starts and the connection closes mid-body (the client sees the peer close).
* `date_lag`: the `Date` header is refreshed once a second, as stock uvicorn's is, so it
  shows a time up to a second older than the clock's (on top of its one-second resolution).

The admin API (`/_mock/`) is never limited. The 429 body is the vendor's object error
(`{"detail": {"status": ..., "message": ...}}`, openapi/README.md "Pressure").
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate

from conformance.fictional import fictional_number
from conformance.mock.clock import ManualClock


@dataclass(frozen=True)
class StagingOptions:
    rate_limit: int = 0                    # requests per second per key; 0 = none
    max_concurrent: int = 0                # in flight per key; 0 = none
    latency_ms: tuple[int, int] = (0, 0)   # uniform A..B ms per answer
    flaky: float = 0.0                     # fraction of GET/HEAD whose connection drops
    date_lag: bool = False                 # Date refreshed once a second (uvicorn's)
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.rate_limit or self.max_concurrent or self.latency_ms[1]
                    or self.flaky or self.date_lag)

    def describe(self) -> str:
        parts = []
        if self.rate_limit:
            parts.append(f"rate limit {self.rate_limit}/s per key")
        if self.max_concurrent:
            parts.append(f"{self.max_concurrent} concurrent per key")
        if self.latency_ms[1]:
            parts.append(f"latency {self.latency_ms[0]}-{self.latency_ms[1]} ms")
        if self.flaky:
            parts.append(f"drops {self.flaky:.0%} of GET/HEAD connections")
        if self.date_lag:
            parts.append("Date refreshed once a second")
        return ", ".join(parts)


def parse_latency(text: str) -> tuple[int, int]:
    """`50-250` (ms) or `100` -> (low, high)."""
    low, _, high = text.partition("-")
    try:
        a, b = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"--latency {text!r}: expected A-B in milliseconds, e.g. 50-250") \
            from None
    if not 0 <= a <= b:
        raise ValueError(f"--latency {text!r}: expected 0 <= A <= B")
    return a, b


class _Dropped(Exception):
    """The connection is dropped on purpose (--flaky)."""


def _body(status: str, message: str) -> bytes:
    return json.dumps({"detail": {"status": status, "message": message}}).encode()


class Staging:
    def __init__(self, app, options: StagingOptions, auth_header: str, clock) -> None:
        self.app = app
        self.options = options
        self.header = auth_header.lower().encode("latin-1")
        self.clock = clock
        self._windows: dict[bytes, deque] = {}
        self._in_flight: dict[bytes, int] = {}
        self._busy_answers = 0
        self._random = random.Random(options.seed)
        self._date = (float("-inf"), b"")
        self.counts = {"rate_limited": 0, "over_concurrency": 0, "dropped": 0}

    def _key(self, scope) -> bytes:
        for name, value in scope["headers"]:
            if name == self.header:
                return value
        return b""

    async def _reply(self, send, status: int, body: bytes, headers: list) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"date", formatdate(self.clock.now(), usegmt=True).encode()),
                                *headers]})
        await send({"type": "http.response.body", "body": body})

    def _over_rate(self, key: bytes) -> int:
        """0 if the request may go; else the seconds until the window has room."""
        limit = self.options.rate_limit
        if not limit:
            return 0
        now = time.monotonic()
        window = self._windows.setdefault(key, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            return max(1, int(window[0] + 1.0 - now + 0.999))
        window.append(now)
        return 0

    def _stale_date(self) -> bytes:
        now = time.monotonic()
        if now - self._date[0] >= 1.0:
            self._date = (now, formatdate(self.clock.now(), usegmt=True).encode())
        return self._date[1]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_mock"):
            return await self.app(scope, receive, send)
        o = self.options
        key = self._key(scope)
        wait = self._over_rate(key)
        if wait:
            self.counts["rate_limited"] += 1
            return await self._reply(send, 429, _body(
                "system_busy", f"More than {o.rate_limit} requests per second; retry later."),
                [(b"retry-after", str(wait).encode())])
        in_flight = self._in_flight.get(key, 0)
        if o.max_concurrent and in_flight >= o.max_concurrent:
            self.counts["over_concurrency"] += 1
            self._busy_answers += 1
            headers = [(b"current-concurrent-requests", str(in_flight).encode()),
                       (b"maximum-concurrent-requests", str(o.max_concurrent).encode())]
            if self._busy_answers % 2:
                headers.append((b"retry-after", b"1"))
            return await self._reply(send, 429, _body(
                "too_many_concurrent_requests",
                f"{in_flight} requests in flight, at most {o.max_concurrent}: queue and "
                "retry."), headers)
        self._in_flight[key] = in_flight + 1
        try:
            low, high = o.latency_ms
            if high:
                await asyncio.sleep(self._random.uniform(low, high) / 1000)
            if o.flaky and scope["method"] in ("GET", "HEAD") \
                    and self._random.random() < o.flaky:
                self.counts["dropped"] += 1
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", b"64")]})
                await send({"type": "http.response.body", "body": b"{", "more_body": True})
                raise _Dropped("connection dropped on purpose (--flaky)")
            if not o.date_lag:
                return await self.app(scope, receive, send)

            async def lagging(message):
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", [])
                               if k.lower() != b"date"]
                    message = {**message, "headers": [*headers, (b"date", self._stale_date())]}
                await send(message)

            return await self.app(scope, receive, lagging)
        finally:
            self._in_flight[key] -= 1


#: The agents the preloaded batches belong to (never the suite's own agents).
PRELOAD_AGENTS = tuple(f"agent_earlier_{i}" for i in range(1, 6))


def preload(store, workspaces, count: int, *, span_s: int = 30 * 86400) -> None:
    """`count` earlier, finished batches in each workspace, spread over the `span_s` before
    now, for five other agents (a lived-in staging workspace). Time is run on a manual clock
    from then to now, so every batch has finished by the time the server answers."""
    if count <= 0:
        return
    wall = store.clock
    now = wall.now()
    step = max(1, span_s // count)
    manual = ManualClock(now - step * count - 3600)
    with store.lock:
        store.clock = manual
        store._synced_to = manual.now()
        try:
            for i in range(count):
                for workspace in workspaces:
                    store.submit(workspace, {
                        "call_name": f"earlier-campaign-{i:05d}",
                        "agent_id": PRELOAD_AGENTS[i % len(PRELOAD_AGENTS)],
                        "recipients": [{"phone_number": fictional_number(i, i % 10)}]})
                store.advance(step)
            store.advance(max(0, now - manual.now()))
        finally:
            store.clock = wall
