"""A small closed-loop HTTP/1.1 load generator for loopback benchmarks.

N keep-alive connections each send a request, wait for the whole response, and send the
next: the load a pool of N clients puts on a server. Latency is measured per request from
the first byte written to the last byte read; requests completed during the warm-up
(connection set-up, first-request costs, JIT warm-up of Prism's Node.js) are not counted.
Percentiles are exact (every sample is kept), not estimated from buckets.

Run it in its own process, on its own core (`--cpu`), beside a server pinned to another:

    python -m benchmarks.loadgen --port 8080 --path /v1/... --header 'xi-api-key: k' \
        --connections 50 --warmup 1 --duration 5 --cpu 1

It prints one JSON object: requests/s, p50/p90/p99/max in ms, the status codes seen,
response bytes and errors. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Result:
    connections: int
    duration_s: float
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    response_bytes: int = 0          # body size of the last response
    errors: int = 0


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending `request` in a loop."""

    def __init__(self, request: bytes, loop: asyncio.AbstractEventLoop, state: dict) -> None:
        self.request = request
        self.loop = loop
        self.state = state
        self.buffer = bytearray()
        self.started = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = loop.create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        if self.state["stop"]:
            self.transport.close()
            return
        self.buffer.clear()
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.buffer[end + 4:]
        if "content-length" in headers:
            if len(body) < int(headers["content-length"]):
                return
            size = int(headers["content-length"])
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            if not body.endswith(b"0\r\n\r\n"):
                return
            size = _dechunked_size(bytes(body))
        else:
            size = len(body)
        now = time.perf_counter()
        status = head[0].split(" ", 2)[1] if " " in head[0] else "?"
        state = self.state
        if now >= state["measure_from"] and not state["stop"]:
            state["latencies"].append(now - self.started)
            state["statuses"][status] = state["statuses"].get(status, 0) + 1
        state["response_bytes"] = size
        self._send()

    def connection_lost(self, exc) -> None:
        if exc is not None or not self.state["stop"]:
            self.state["errors"] += 1
        if not self.closed.done():
            self.closed.set_result(None)


def _dechunked_size(body: bytes) -> int:
    size, at = 0, 0
    while True:
        line_end = body.find(b"\r\n", at)
        length = int(body[at:line_end].split(b";")[0], 16)
        if length == 0:
            return size
        size += length
        at = line_end + 2 + length + 2


def build_request(method: str, host: str, port: int, path: str, headers: dict[str, str],
                  body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


async def run(host: str, port: int, request: bytes | list[bytes], connections: int,
              warmup: float, duration: float) -> Result:
    """`request`: the bytes every connection sends, or one per connection (cycled)."""
    requests = [request] if isinstance(request, bytes) else list(request)
    if host not in LOOPBACK:
        raise ValueError(f"loadgen only sends to loopback, not {host!r}")
    loop = asyncio.get_running_loop()
    state = {"stop": False, "measure_from": time.perf_counter() + warmup, "latencies": [],
             "statuses": {}, "response_bytes": 0, "errors": 0}
    protocols = []
    for i in range(connections):
        mine = requests[i % len(requests)]
        _, protocol = await loop.create_connection(
            lambda mine=mine: _Connection(mine, loop, state), host, port)
        protocols.append(protocol)
    state["measure_from"] = time.perf_counter() + warmup
    await asyncio.sleep(warmup + duration)
    state["stop"] = True
    await asyncio.wait([p.closed for p in protocols], timeout=5)
    latencies = sorted(state["latencies"])
    result = Result(connections=connections, duration_s=duration, requests=len(latencies),
                    rps=len(latencies) / duration, statuses=state["statuses"],
                    response_bytes=state["response_bytes"], errors=state["errors"])
    if latencies:
        result.p50_ms = percentile(latencies, 50) * 1e3
        result.p90_ms = percentile(latencies, 90) * 1e3
        result.p99_ms = percentile(latencies, 99) * 1e3
        result.max_ms = latencies[-1] * 1e3
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", required=True)
    parser.add_argument("--header", action="append", default=[], metavar="NAME: VALUE",
                        help="a request header; {conn} in the value becomes the connection's "
                             "number (e.g. one API key, so one workspace, per connection)")
    parser.add_argument("--body-file", help="request body (sent with every request)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    body = None
    if args.body_file:
        with open(args.body_file, "rb") as fh:
            body = fh.read()
        headers.setdefault("Content-Type", "application/json")
    request = [build_request(args.method, args.host, args.port, args.path,
                             {k: v.replace("{conn}", str(i)) for k, v in headers.items()}, body)
               for i in range(args.connections)]
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:   # pragma: no cover - uvloop is a dependency on Linux and macOS
        runner = asyncio.run
    result = runner(run(args.host, args.port, request, args.connections, args.warmup,
                        args.duration))
    json.dump(asdict(result), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
