"""uvicorn's httptools protocol with the mock's connection bounds (README "Bounds").

* The request line and headers together are at most MAX_HEADER_BYTES: beyond, 431.
* A request must arrive whole within READ_TIMEOUT_S of its first byte (or of the
  connection opening): beyond, 408 and the connection closes (a client trickling bytes
  cannot hold a connection forever).
* Malformed HTTP gets uvicorn's 400, but as JSON `{"detail": "..."}` like every other error.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEADER_BYTES = 16 * 1024
READ_TIMEOUT_S = 30.0

_REASONS = {400: b"HTTP/1.1 400 Bad Request\r\n", 408: b"HTTP/1.1 408 Request Timeout\r\n",
            431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n"}


class HeaderTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = MAX_HEADER_BYTES
    read_timeout = READ_TIMEOUT_S

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._header_bytes = 0
        self._error_status = 400
        self._read_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.read_timeout, self._read_timed_out)

    def connection_lost(self, exc) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def _cancel_read_timer(self) -> None:
        timer = getattr(self, "_read_timer", None)
        if timer is not None:
            timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self._error_status = 408
            self.send_400_response("Request not received in time.")

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self._error_status = 431
            raise HeaderTooLarge(f"request line and headers exceed {self.max_header_bytes} "
                                 "bytes")

    def data_received(self, data: bytes) -> None:
        if getattr(self, "_read_timer", None) is None and self.cycle is None:
            self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_read_timer()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        status = self._error_status if self._error_status in _REASONS else 400
        if status == 431:
            msg = f"Request line and headers exceed {self.max_header_bytes} bytes."
        body = json.dumps({"detail": msg}).encode()
        content = [_REASONS.get(status, STATUS_LINE[400])]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: application/json\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()


__all__ = ["BoundedHttpToolsProtocol"]
