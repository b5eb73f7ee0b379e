"""`make bench`: the mock beside Prism, how cost grows with size, and the suite's own speed.

    python -m benchmarks.run [--only throughput,scale,profile,suite] [--quick]

Prints one table per section and writes `benchmarks/results/latest.json` and
`benchmarks/results/latest.md` (the figures benchmarks/README.md records). Every server and
every request stays on loopback. Nothing here asserts a time: these are measurements.

Sections:
  throughput  the mock (uvicorn, one process) and Prism 5.16 (`prism mock`, static
              examples) on the same core, loaded by benchmarks/loadgen.py on the other core:
              get (a batch of 100 recipients), list (limit 100, 150 batches stored), submit
              (100 recipients); requests/s, p50/p99, the mock/Prism ratio, and the mock/floor
              ratio (benchmarks/floor.py: a bare ASGI app answering prebuilt bytes of the
              sizes the mock answered, same uvicorn + httptools + uvloop, same run).
  scale       in process: submit and get of 100 / 1,000 / 10,000 recipients (time, peak
              memory), list paging over 100 / 1,000 / 5,000 batches (time per page: first,
              middle, last), and advancing the clock through a 10,000-recipient batch.
  profile     pyinstrument over the hot path (get, list, submit), text profiles written
              to benchmarks/results/profile-<op>.txt.
  suite       wall time of `make test`, of the cassette replay, and generated cases per
              second for Schemathesis fuzzing against the in-process mock vs over loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from conformance.api import api_for
from conformance.fictional import MOCK_KEYS, fictional_number
from conformance.mock.server import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RAW = RESULTS / "raw"   # scratch files (git-ignored)
PRISM_DIR = ROOT / "benchmarks" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "openapi" / "batch-calling.yaml"
KEY = MOCK_KEYS[0]
BASE = api_for("elevenlabs").base_path
HOST = "127.0.0.1"
SERVER_CPU, LOAD_CPU = 0, 1


# ----------------------------------------------------------------------------- helpers

def fictional(i: int) -> str:
    """Fictional numbers only, cycling through the outcome endings 00..99."""
    return fictional_number(0, i % 100)


def submit_body(n: int, name: str = "bench", scheduled: int | None = 4102444800) -> dict:
    body = {"call_name": name, "agent_id": "agent_bench",
            "recipients": [{"phone_number": fictional(i)} for i in range(n)]}
    if scheduled is not None:
        body["scheduled_time_unix"] = scheduled
    return body


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")


def pin(cpu: int):
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cpus) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True,
                                  text=True).stdout.strip() if node else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "node": node_version}


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -------------------------------------------------------------------------- throughput

class Server:
    """A server process pinned to SERVER_CPU, stopped on exit."""

    def __init__(self, name: str, argv: list[str], port: int) -> None:
        self.name, self.argv, self.port = name, argv, port
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=pin(SERVER_CPU))
        wait_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


#: Submits go one workspace per connection (key bench-<n>): a workspace keeps at most 5,000
#: batches (conformance/mock/README.md "Bounds"), which one workspace passes in 2 s.
SUBMIT_KEY = "bench-{conn}"


def mock_server(port: int, connections: int = 50, extra: tuple[str, ...] = ()) -> Server:
    # Manual clock: the state does not move under the load, so every request of a run
    # sees the same document. Access log off, as for any server under load.
    keys = [KEY] + [SUBMIT_KEY.replace("{conn}", str(i)) for i in range(connections)]
    return Server("mock", [sys.executable, "-m", "conformance.mock", "--port", str(port),
                           "--clock", "manual", "--no-access-log", "--log-level", "warning",
                           *[f"--key={k}" for k in keys], *extra], port)


def prism_server(port: int) -> Server:
    return Server("prism", [str(PRISM_BIN), "mock", str(SPEC), "-p", str(port), "-h", HOST,
                            "-v", "silent"], port)


def floor_server(port: int, sizes: dict[str, int]) -> Server:
    """The bare-app floor (benchmarks/floor.py) answering bytes of the mock's sizes."""
    return Server("floor", [sys.executable, "-m", "benchmarks.floor", "--port", str(port),
                            *[f"--size={k}={v}" for k, v in sizes.items()]], port)


def ensure_prism() -> str | None:
    """Install Prism from benchmarks/prism/package-lock.json; None, or why it cannot run."""
    if PRISM_BIN.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: install Node.js to compare with Prism"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PRISM_DIR,
                          capture_output=True, text=True)
    if done.returncode != 0 or not PRISM_BIN.exists():
        return f"npm ci failed: {done.stderr.strip().splitlines()[-1:]}"
    return None


def seed_mock(port: int) -> str:
    """One batch of 100 recipients (returned) and 150 more batches for the list."""
    import httpx

    with httpx.Client(base_url=f"http://{HOST}:{port}", headers={"xi-api-key": KEY}) as http:
        batch_id = http.post(f"{BASE}/submit", json=submit_body(100)).raise_for_status().json()
        for i in range(150):
            http.post(f"{BASE}/submit", json=submit_body(1, f"list-{i}")).raise_for_status()
    return batch_id["id"]


def load(port: int, method: str, path: str, body_file: Path | None, connections: int,
         warmup: float, duration: float) -> dict:
    key = KEY if body_file is None else SUBMIT_KEY
    argv = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), "--method",
            method, "--path", path, "--header", f"xi-api-key: {key}",
            "--connections", str(connections), "--warmup", str(warmup),
            "--duration", str(duration)]
    if pin(LOAD_CPU):
        argv += ["--cpu", str(LOAD_CPU)]
    if body_file is not None:
        argv += ["--body-file", str(body_file)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def throughput(quick: bool) -> dict:
    connections, warmup, duration = 50, 1.0, (2.0 if quick else 5.0)
    RAW.mkdir(parents=True, exist_ok=True)
    body_file = RAW / "submit-100.json"
    body_file.write_text(json.dumps(submit_body(100)))
    why_not_prism = ensure_prism()
    servers = [("mock", mock_server)] + ([] if why_not_prism else [("prism", prism_server)])
    servers.append(("floor", None))
    out: dict = {"connections": connections, "warmup_s": warmup, "duration_s": duration,
                 "prism_skipped": why_not_prism, "runs": {}}
    cases = {"get (100 recipients)": "get", "list (limit 100)": "list",
             "submit (100 recipients)": "submit"}
    for name, make in servers:
        port = free_port()
        if name == "floor":
            # The same sizes the mock answered in this run: its bodies, prebuilt.
            sizes = {short: out["runs"][case]["mock"]["response_bytes"]
                     for case, short in cases.items()}
            server = floor_server(port, sizes)
        else:
            server = make(port)
        with server:
            batch_id = seed_mock(port) if name == "mock" else "btcal_example"
            paths = {
                "get (100 recipients)": ("GET", f"{BASE}/{batch_id}", None),
                "list (limit 100)": ("GET", f"{BASE}/workspace?limit=100", None),
                "submit (100 recipients)": ("POST", f"{BASE}/submit", body_file),
            }
            for case, (method, path, body) in paths.items():
                print(f"  throughput: {name} {case} ...", file=sys.stderr, flush=True)
                out["runs"].setdefault(case, {})[name] = load(
                    port, method, path, body, connections, warmup, duration)
    return out


def throughput_table(data: dict) -> str:
    rows = []
    for case, by_server in data["runs"].items():
        m, p, f = by_server.get("mock"), by_server.get("prism"), by_server.get("floor")
        ratio = f"{m['rps'] / p['rps']:.1f}x" if m and p and p["rps"] else "-"
        floor = f"{m['rps'] / f['rps']:.0%}" if m and f and f["rps"] else "-"
        for name, r in by_server.items():
            rows.append([case if name == "mock" else "", name, f"{r['rps']:,.0f}",
                         f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}",
                         f"{r['response_bytes']:,}",
                         ",".join(f"{k}x{v}" for k, v in sorted(r["statuses"].items())),
                         ratio if name == "mock" else "", floor if name == "mock" else ""])
    return table(["request", "server", "req/s", "p50 ms", "p99 ms", "max ms",
                  "body bytes", "statuses", "mock/Prism", "mock/floor"], rows)


# ------------------------------------------------------------------------------- scale

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


# ----------------------------------------------------------------------------- profile

def profile(quick: bool) -> dict:
    from pyinstrument import Profiler

    app = InProcess()
    big = json.dumps(submit_body(100)).encode()
    batch_id = json.loads(app.call("POST", f"{BASE}/submit", payload=big))["id"]
    one = json.dumps(submit_body(1)).encode()
    for _ in range(150):
        app.call("POST", f"{BASE}/submit", payload=one)
    ops = {"get": ("GET", f"{BASE}/{batch_id}", "", b""),
           "list": ("GET", f"{BASE}/workspace", "limit=100", b""),
           "submit": ("POST", f"{BASE}/submit", "", big)}
    n = 300 if quick else 1000
    out = {}
    for name, args in ops.items():
        for _ in range(50):
            app.call(*args)
        per = timed(lambda args=args: [app.call(*args) for _ in range(n)], 1) / n
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(n):
            app.call(*args)
        profiler.stop()
        path = RESULTS / f"profile-{name}.txt"
        text = profiler.output_text(unicode=False, color=False)
        path.write_text(text.replace(f"{ROOT}/", ""))   # no machine paths in results
        out[name] = {"us_per_request": per * 1e6, "profile": str(path.relative_to(ROOT))}
    return out


def profile_table(data: dict) -> str:
    return table(["request (in process)", "us per request", "profile"],
                 [[k, f"{v['us_per_request']:.0f}", v["profile"]] for k, v in data.items()])


# ------------------------------------------------------------------------------- suite

def wall(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - t, done.returncode, tail


def fuzz_rate(base_url: str | None, app, examples: int) -> dict:
    """Generated cases per second through Schemathesis (generation, call, every check)."""
    from hypothesis import HealthCheck, given, settings

    from conformance import fuzz
    from conformance.targets import MOCK_KEYS

    schema = fuzz.load_schema("elevenlabs")
    if app is not None:
        schema.app = app
    count = 0
    failures: list[str] = []
    headers = {"xi-api-key": MOCK_KEYS[0]}
    t = time.perf_counter()
    for result in schema.get_all_operations():
        op = result.ok()
        strategy = op.as_strategy()

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def one(case):
            nonlocal count
            count += 1
            fuzz.pin_query(case)
            transport = {"headers": headers}
            if base_url is None:
                transport["app"] = app
                response = case.call(headers=headers)
            else:
                transport["base_url"] = base_url
                response = case.call(base_url=base_url, headers=headers)
            try:
                case.validate_response(response, headers=headers, transport_kwargs=transport)
            except Exception:   # noqa: BLE001 - Schemathesis raises a group of failures
                failures.append(case.id)   # throughput, not verdicts: tests/contract judge
        one()
    seconds = time.perf_counter() - t
    return {"cases": count, "seconds": seconds, "cases_per_s": count / seconds,
            "cases_with_check_failures": len(failures)}


def suite(quick: bool) -> dict:
    from conformance.mock import create_app
    from conformance.mock.server import served

    out: dict = {}
    print("  suite: fuzzing in process vs loopback ...", file=sys.stderr, flush=True)
    examples = 20 if quick else 100
    out["fuzz_in_process"] = fuzz_rate(None, create_app("elevenlabs"), examples)
    with served(create_app("elevenlabs")) as url:
        out["fuzz_loopback"] = fuzz_rate(url, None, examples)
    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    print("  suite: cassette replay ...", file=sys.stderr, flush=True)
    seconds, rc, tail = wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/scenarios", "--target", "cassette:elevenlabs"])
    out["cassette_replay"] = {"seconds": seconds, "exit": rc, "summary": tail}
    print("  suite: contract tests (fuzzing, in process) ...", file=sys.stderr, flush=True)
    seconds, rc, tail = wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/contract"])
    out["contract_tests"] = {"seconds": seconds, "exit": rc, "summary": tail}
    if not quick:
        print("  suite: make test (a few minutes) ...", file=sys.stderr, flush=True)
        seconds, rc, tail = wall(["make", "test"])
        out["make_test"] = {"seconds": seconds, "exit": rc, "summary": tail}
    return out


def suite_table(data: dict) -> str:
    rows = []
    for key in ("make_test", "cassette_replay", "contract_tests"):
        if key in data:
            v = data[key]
            rows.append([key.replace("_", " "), f"{v['seconds']:.0f} s", v["exit"],
                         v["summary"]])
    for key in ("fuzz_in_process", "fuzz_loopback"):
        v = data[key]
        rows.append([key.replace("_", " "), f"{v['seconds']:.1f} s", "",
                     f"{v['cases']} cases, {v['cases_per_s']:.0f} cases/s"])
    return table(["what", "wall", "exit", "result"], rows)


# -------------------------------------------------------------------------------- main

SECTIONS = {"throughput": (throughput, throughput_table), "scale": (scale, scale_tables),
            "profile": (profile, profile_table), "suite": (suite, suite_table)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller sizes")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                     "quick": args.quick}
    latest = RESULTS / "latest.json"
    if set(wanted) != set(SECTIONS) and latest.exists():
        # A partial run updates its sections and keeps the others' last figures.
        previous = json.loads(latest.read_text())
        if previous.get("quick") == args.quick:
            results = {**previous, **results}
    for name in wanted:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = SECTIONS[name][0](args.quick)
        print(f"\n{name}\n{SECTIONS[name][1](results[name])}\n", flush=True)
    report = [f"# make bench, {results['date']}{' (quick)' if args.quick else ''}",
              "", "Machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()),
              ""]
    for name, (_, render) in SECTIONS.items():
        if name not in results:
            continue
        text = render(results[name])
        if name == "throughput" and results[name].get("prism_skipped"):
            text += f"\n\nPrism skipped: {results[name]['prism_skipped']}"
        report += [f"## {name}", "", text, ""]
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text("\n".join(report))
    print(f"written: {RESULTS.relative_to(ROOT)}/latest.md, latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
