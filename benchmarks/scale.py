"""How cost grows with size, in process (`--only scale`)."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import tracemalloc

from benchmarks.common import BASE, HOST, KEY, submit_body, table


class InProcess:
    """Calls the mock's ASGI app directly (no sockets): the app's own cost."""

    def __init__(self, **kwargs) -> None:
        from conformance.mock import create_app

        self.app = create_app("elevenlabs", **kwargs)
        self.store = self.app.state.store
        self.loop = asyncio.new_event_loop()

    async def _call(self, method: str, path: str, query: bytes, payload: bytes):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": query, "root_path": "",
                 "headers": [(b"host", b"bench"), (b"xi-api-key", KEY.encode()),
                             (b"content-type", b"application/json"),
                             (b"content-length", str(len(payload)).encode())],
                 "client": (HOST, 1), "server": (HOST, 80)}
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        messages = []

        async def send(message):
            messages.append(message)
        await self.app(scope, receive, send)
        status = messages[0]["status"]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        return status, body

    def call(self, method: str, path: str, query: str = "", payload: bytes = b""):
        status, body = self.loop.run_until_complete(
            self._call(method, path, query.encode(), payload))
        if status >= 400:
            raise RuntimeError(f"{method} {path}?{query}: {status} {body[:200]!r}")
        return body


def timed(fn, repeat: int) -> float:
    """Median wall time of `fn()` in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_memory(fn) -> tuple[int, int]:
    """(peak, retained) bytes Python allocated while `fn()` ran (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fn()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - before, current - before


def scale(quick: bool) -> dict:
    sizes = [100, 1000] if quick else [100, 1000, 10000]
    out: dict = {"recipients": {}, "list": {}, "clock": {}}
    for n in sizes:
        print(f"  scale: {n} recipients ...", file=sys.stderr, flush=True)
        payload = json.dumps(submit_body(n, scheduled=None)).encode()
        app = InProcess()
        ids = []

        def submit(app=app, ids=ids, payload=payload):
            ids.append(json.loads(app.call("POST", f"{BASE}/submit", payload=payload))["id"])
        submit_s = timed(submit, 5)
        fresh = InProcess()
        peak, retained = peak_memory(lambda fresh=fresh, payload=payload: fresh.call(
            "POST", f"{BASE}/submit", payload=payload))
        # Bytes per stored recipient: as submitted (columns), then once read (the records).
        stored = next(iter(fresh.store._batches.values()))
        _, read_retained = peak_memory(lambda stored=stored: stored.recipients)
        batch_id = ids[0]
        get_body = app.call("GET", f"{BASE}/{batch_id}")
        # The first get encodes; later ones of an unchanged batch come from the cache.
        app.store.advance(1)
        first_get = timed(lambda app=app, b=batch_id: app.call("GET", f"{BASE}/{b}"), 1)
        get_s = timed(lambda app=app, b=batch_id: app.call("GET", f"{BASE}/{b}"), 5)
        fresh_get = InProcess(response_cache=False)
        fid = json.loads(fresh_get.call("POST", f"{BASE}/submit", payload=payload))["id"]
        uncached_get = timed(lambda a=fresh_get, b=fid: a.call("GET", f"{BASE}/{b}"), 5)
        get_peak, _ = peak_memory(lambda a=fresh_get, b=fid: a.call("GET", f"{BASE}/{b}"))
        out["recipients"][n] = {
            "submit_ms": submit_s * 1e3, "submit_peak_mib": peak / 2**20,
            "retained_mib": retained / 2**20, "bytes_per_recipient": retained / n,
            "bytes_per_recipient_read": (retained + read_retained) / n,
            "get_first_ms": first_get * 1e3,
            "get_cached_ms": get_s * 1e3, "get_uncached_ms": uncached_get * 1e3,
            "get_peak_mib": get_peak / 2**20, "get_bytes": len(get_body)}

    # A workspace keeps at most 5,000 batches (conformance/mock/README.md "Bounds").
    from conformance.mock.store import MAX_BATCHES_PER_WORKSPACE

    for n in [min(n, MAX_BATCHES_PER_WORKSPACE) for n in sizes]:
        print(f"  scale: list over {n} batches ...", file=sys.stderr, flush=True)
        app = InProcess()
        one = json.dumps(submit_body(1, scheduled=None)).encode()
        build = time.perf_counter()
        for _ in range(n):
            app.call("POST", f"{BASE}/submit", payload=one)
        build_s = time.perf_counter() - build
        cursors = [None]
        walk = time.perf_counter()
        pages = 0
        while True:
            query = "limit=100" + (f"&last_doc={cursors[-1]}" if cursors[-1] else "")
            page = json.loads(app.call("GET", f"{BASE}/workspace", query))
            pages += 1
            if not page["has_more"]:
                break
            cursors.append(page["next_doc"])
        walk_s = time.perf_counter() - walk

        def page_at(cursor, app=app):
            query = "limit=100" + (f"&last_doc={cursor}" if cursor else "")
            return lambda: app.call("GET", f"{BASE}/workspace", query)
        out["list"][n] = {
            "submit_all_s": build_s, "pages": pages, "walk_s": walk_s,
            "first_page_ms": timed(page_at(cursors[0]), 20) * 1e3,
            "middle_page_ms": timed(page_at(cursors[len(cursors) // 2]), 20) * 1e3,
            "last_page_ms": timed(page_at(cursors[-1]), 20) * 1e3}

    n = sizes[-1]
    print(f"  scale: clock through {n} recipients ...", file=sys.stderr, flush=True)
    for limit in (10, 100):
        app = InProcess()
        body = submit_body(n, scheduled=None)
        body["target_concurrency_limit"] = limit
        batch_id = json.loads(app.call("POST", f"{BASE}/submit",
                                       payload=json.dumps(body).encode()))["id"]
        steps, t = 0, time.perf_counter()
        while json.loads(app.call("GET", f"{BASE}/{batch_id}"))["status"] not in (
                "completed", "failed"):
            app.store.advance(3600)
            steps += 1
        out["clock"][f"{n} recipients, concurrency {limit}"] = {
            "seconds": time.perf_counter() - t, "advances_of_1h": steps}
    return out


def scale_tables(data: dict) -> str:
    r = data["recipients"]
    rows = [[f"{int(n):,}", f"{v['submit_ms']:.1f}", f"{v['submit_peak_mib']:.2f}",
             f"{v['retained_mib']:.2f}", f"{v.get('bytes_per_recipient', 0):.0f}",
             f"{v.get('bytes_per_recipient_read', 0):.0f}", f"{v['get_uncached_ms']:.1f}",
             f"{v['get_cached_ms']:.2f}", f"{v['get_peak_mib']:.1f}", f"{v['get_bytes']:,}"]
            for n, v in r.items()]
    first = table(["recipients", "submit ms", "submit peak MiB", "stored MiB", "B/recipient",
                   "B/recipient once read",
                   "get ms (encode)", "get ms (cached)", "get peak MiB", "get bytes"], rows)
    rows = [[f"{int(n):,}", f"{v['submit_all_s']:.2f}", v["pages"], f"{v['walk_s']:.3f}",
             f"{v['first_page_ms']:.2f}", f"{v['middle_page_ms']:.2f}",
             f"{v['last_page_ms']:.2f}"] for n, v in data["list"].items()]
    second = table(["batches", "submit all s", "pages", "walk all pages s", "first page ms",
                    "middle page ms", "last page ms"], rows)
    rows = [[k, f"{v['seconds']:.2f}", v["advances_of_1h"]] for k, v in data["clock"].items()]
    third = table(["clock to completion", "seconds", "advances of 1 h"], rows)
    return "\n\n".join([first, second, third])
