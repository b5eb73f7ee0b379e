"""A webhook receiver on loopback, in a thread: records what arrives, answers as told.

    with Receiver() as receiver:             # http://127.0.0.1:<free port>/webhook
        ...                                  # point the sender at receiver.url
        receiver.requests                    # [Received(headers, body, received_at, status)]
        receiver.answer(503, times=2)        # the next two deliveries get 503, then 200

`respond=` replaces the answering rule entirely (`respond(received) -> status`): the
self-tests build a careful receiver (`careful_handler`, which also shows what a correct
receiver does) and a careless one from it. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conformance.webhooks.signing import HEADER, SignatureError, verify


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]   # lower-case names
    body: bytes
    received_at: float        # the receiver's clock when it arrived
    status: int = 0           # what the receiver answered (0: no answer reached the sender)

    @property
    def signature(self) -> str | None:
        return self.headers.get(HEADER.lower())


class Receiver:
    def __init__(self, *, clock: Callable[[], float] = time.time,
                 respond: Callable[[Received], int] | None = None,
                 max_body_bytes: int | None = None, path: str = "/webhook",
                 port: int = 0) -> None:
        self.clock = clock
        self.port = port
        self.respond = respond
        self.max_body_bytes = max_body_bytes
        self.path = path
        self.requests: list[Received] = []
        self.default_status = 200
        #: The server is known to reach this receiver (it runs in-process and delivers to it
        #: directly): an event that never arrives is then the server's, not the path's.
        self.reached_directly = False
        self._queued: deque[int] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Control ------------------------------------------------------------------------------
    def answer(self, status: int, times: int | None = None) -> None:
        """Answer `status` to the next `times` deliveries (None: from now on)."""
        with self._lock:
            if times is None:
                self._queued.clear()
                self.default_status = status
            else:
                self._queued.extend([status] * times)

    def _status_for(self, received: Received) -> int:
        if self.respond is not None:
            return self.respond(received)
        with self._lock:
            return self._queued.popleft() if self._queued else self.default_status

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    # Serving ------------------------------------------------------------------------------
    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:   # quiet: tests read `requests`
                return

            def do_POST(self) -> None:   # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                limit = receiver.max_body_bytes
                if limit is not None and length > limit:
                    record = Received("POST", self.path, headers, b"", receiver.clock(), 413)
                    receiver.requests.append(record)
                    self.close_connection = True
                    self._answer(413)
                    return
                body = self.rfile.read(length) if length else b""
                record = Received("POST", self.path, headers, body, receiver.clock())
                record.status = receiver._status_for(record)
                receiver.requests.append(record)
                try:
                    self._answer(record.status)
                except (BrokenPipeError, ConnectionResetError):
                    # The sender hung up before the answer reached it (its time-out): it was
                    # never told 200, so a redelivery is a retry, not a repeat of an accepted one.
                    record.status = 0

            def _answer(self, status: int) -> None:
                # One request per connection: a sender's pooled connection must never
                # outlive this receiver and reach a stopped one's thread.
                self.close_connection = True
                payload = b'{"received": true}' if 200 <= status < 300 else b'{"error": "no"}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="webhook-receiver")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def careful_handler(secret: str, *, tolerance: int = 1800,
                    clock: Callable[[], float] = time.time) -> Callable[[Received], int]:
    """What a correct receiver does: verify the signature over the raw body (our verifier:
    constant-time, stale and future timestamps rejected), refuse a signature seen before,
    answer 200 to a valid delivery and 400/401 to anything else, never 5xx.
    (Bodies over a size limit are refused with 413 by `Receiver(max_body_bytes=...)`.)"""
    seen: set[str] = set()
    lock = threading.Lock()

    def respond(received: Received) -> int:
        header = received.signature
        try:
            verify(header, received.body, secret, tolerance=tolerance, now=clock())
        except SignatureError as exc:
            return 400 if exc.reason in ("missing", "malformed", "scheme") else 401
        with lock:
            if header in seen:
                return 409
            seen.add(header or "")
        return 200

    return respond
